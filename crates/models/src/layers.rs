//! Activation, normalisation and convolution layers for the models of this crate, computed by
//! the fastest means each backend has.
//!
//! On flex, `ganforge_kernels` computes them: convolutions over the whole batch, batch
//! normalisation fused with the activation after it, LeakyReLU and tanh, each in one parallel,
//! vectorised pass per direction (burn-flex runs element-wise operations on one thread, one
//! operation per pass). Elsewhere the layers are written with the tensor operations that are
//! cheapest to differentiate: burn's autodiff has no dedicated LeakyReLU (it differentiates
//! `mask_where(x < 0, x * s, x)`), and its training-mode BatchNorm transposes the input to
//! `[C, B*H*W]` for each statistic, so LeakyReLU is built from ReLU and BatchNorm from
//! reductions over contiguous axes. Outside autodiff, burn's own kernels. All compute the same
//! functions as burn's modules (tests).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// `LeakyReLU(x) = max(x, s * x)` for a slope `0 <= s < 1`.
///
/// Same record as burn's `LeakyRelu` (one constant, `negative_slope`).
#[derive(Module, Debug)]
pub struct LeakyRelu {
    /// The slope for negative inputs (0.2 in every reference model).
    pub negative_slope: f64,
}

impl LeakyRelu {
    /// A LeakyReLU with the given negative slope.
    pub fn new(negative_slope: f64) -> Self {
        Self { negative_slope }
    }

    /// Applies the activation element-wise.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        leaky_relu(x, self.negative_slope)
    }
}

/// `max(x, s * x)`: `ganforge_kernels::leaky_relu` on flex; elsewhere, as
/// `x + (1 - s) * relu(-x)` on an autodiff device (for `x >= 0` the ReLU term is 0; for
/// `x < 0` it is `-x`, giving `x - (1 - s) * x = s * x`).
pub fn leaky_relu<const D: usize>(x: Tensor<D>, negative_slope: f64) -> Tensor<D> {
    if let Some(y) = ganforge_kernels::leaky_relu(&x, negative_slope) {
        return y;
    }
    if !x.device().is_autodiff() {
        return activation::leaky_relu(x, negative_slope);
    }
    let negative_part = activation::relu(x.clone().neg());
    x + negative_part.mul_scalar(1.0 - negative_slope)
}

/// `tanh(x)`: `ganforge_kernels::tanh` on flex; elsewhere, as `2 * sigmoid(2x) - 1` on an
/// autodiff device, where burn has a dedicated
/// sigmoid backward and flex a vectorised sigmoid (together about half the cost of burn's tanh
/// forward and backward on flex). The two agree to within `1e-6` in `f32` (tested).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if let Some(y) = ganforge_kernels::tanh(&x) {
        return y;
    }
    if !x.device().is_autodiff() {
        return x.tanh();
    }
    activation::sigmoid(x.mul_scalar(2.0))
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// `leaky_relu(batch_norm(norm, x), negative_slope)` (a slope of 0 is a ReLU), with the same
/// results. On flex, one fused kernel each way in training (`ganforge_kernels::batch_norm`)
/// and one pass in evaluation (`ganforge_kernels::batch_norm_with_statistics`).
pub fn batch_norm_leaky_relu<const D: usize>(
    norm: &BatchNorm,
    x: Tensor<D>,
    negative_slope: f64,
) -> Tensor<D> {
    let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
    let fused = if is_training(norm, &x) {
        ganforge_kernels::batch_norm(&x, &gamma, &beta, norm.epsilon, Some(negative_slope)).map(
            |out| {
                update_running_statistics(norm, out.mean, out.variance);
                out.output
            },
        )
    } else {
        let (mean, variance) = (norm.running_mean.value(), norm.running_var.value());
        ganforge_kernels::batch_norm_with_statistics(
            &x,
            [&gamma, &beta, &mean, &variance],
            norm.epsilon,
            Some(negative_slope),
        )
    };
    fused.unwrap_or_else(|| leaky_relu(batch_norm(norm, x), negative_slope))
}

/// `leaky_relu(class_affine(batch_norm(norm, x)), negative_slope)` for class-conditional
/// batch normalisation (de Vries et al. 2017, as in SNGAN and BigGAN's generators): the shared
/// normalisation, then each sample's class gain and bias. Without `class` it is
/// [`batch_norm_leaky_relu`].
pub fn class_batch_norm_leaky_relu<const D: usize>(
    norm: &BatchNorm,
    class: Option<(&ClassAffine, &Tensor<1, Int>)>,
    x: Tensor<D>,
    negative_slope: f64,
) -> Tensor<D> {
    match class {
        None => batch_norm_leaky_relu(norm, x, negative_slope),
        // A slope of 1 makes the fused kernel's activation the identity.
        Some((affine, labels)) => leaky_relu(
            affine.forward(batch_norm_leaky_relu(norm, x, 1.0), labels),
            negative_slope,
        ),
    }
}

/// Which normalisation follows a convolution in the image-to-image networks (pix2pix's
/// `--norm`): batch normalisation, or instance normalisation, which normalises each item on its
/// own and so also works with a batch of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormKind {
    /// BatchNorm with learned scale and shift and running statistics.
    #[default]
    Batch,
    /// Instance normalisation without parameters (pix2pix's `affine=False`).
    Instance,
}

/// A normalisation after a convolution: batch normalisation when `batch` holds one, else
/// instance normalisation when `instance` is set, else none.
#[derive(Module, Debug)]
pub struct ImageNorm {
    batch: Option<BatchNorm>,
    instance: bool,
}

impl ImageNorm {
    /// No normalisation.
    pub(crate) fn none() -> Self {
        Self {
            batch: None,
            instance: false,
        }
    }

    /// `kind` over `channels`, drawing BatchNorm's scale from `init`.
    pub(crate) fn new(
        kind: NormKind,
        channels: usize,
        init: &mut crate::WeightInit,
        device: &Device,
    ) -> Self {
        match kind {
            NormKind::Batch => Self {
                batch: Some(init.batch_norm(channels, device)),
                instance: false,
            },
            NormKind::Instance => Self {
                batch: None,
                instance: true,
            },
        }
    }

    /// `leaky_relu(norm(x), negative_slope)`; a slope of 1 leaves the activation out.
    pub fn forward_leaky_relu(&self, x: Tensor<4>, negative_slope: f64) -> Tensor<4> {
        let activate = |x: Tensor<4>| {
            if negative_slope == 1.0 {
                x
            } else {
                leaky_relu(x, negative_slope)
            }
        };
        match (&self.batch, self.instance) {
            (Some(norm), _) => batch_norm_leaky_relu(norm, x, negative_slope),
            (None, true) => activate(instance_norm(x, INSTANCE_NORM_EPSILON)),
            (None, false) => activate(x),
        }
    }
}

/// PyTorch's `InstanceNorm2d` epsilon.
const INSTANCE_NORM_EPSILON: f64 = 1e-5;

/// Instance normalisation without parameters (Ulyanov et al. 2016): each item's channel is
/// shifted and scaled to zero mean and unit (biased) variance over its pixels.
///
/// # Shapes
/// - x, output: `[B, C, H, W]`
pub fn instance_norm(x: Tensor<4>, epsilon: f64) -> Tensor<4> {
    let [batch, channels, h, w] = x.dims();
    let x: Tensor<3> = x.reshape([batch, channels, h * w]);
    let centered = x.clone() - x.mean_dim(2); // [B, C, HW]
    let variance = centered.clone().square().mean_dim(2); // [B, C, 1]
    (centered * variance.add_scalar(epsilon).sqrt().recip()).reshape([batch, channels, h, w])
}

/// One learned row per class: a lookup table `[classes, dim]`.
///
/// # Shapes
/// - labels: `[B]` class indices in `0..classes`
/// - output: `[B, dim]`
#[derive(Module, Debug)]
pub struct ClassEmbedding {
    /// `[classes, dim]`.
    pub weight: Param<Tensor<2>>,
}

impl ClassEmbedding {
    /// The rows of `labels`.
    pub fn forward(&self, labels: &Tensor<1, Int>) -> Tensor<2> {
        self.weight.val().select(0, labels.clone())
    }

    /// Number of classes (rows).
    pub fn classes(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Width of a row.
    pub fn dim(&self) -> usize {
        self.weight.dims()[1]
    }
}

/// Per-class gain and bias over channels: `x * (1 + gain[y]) + bias[y]`, both tables starting
/// at zero, so an untrained layer is the identity.
///
/// # Shapes
/// - x: `[B, C, ...]`; labels: `[B]`
/// - output: the shape of `x`
#[derive(Module, Debug)]
pub struct ClassAffine {
    /// `[classes, C]`.
    pub gain: ClassEmbedding,
    /// `[classes, C]`.
    pub bias: ClassEmbedding,
}

impl ClassAffine {
    /// Applies each sample's class gain and bias to its channels.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, labels: &Tensor<1, Int>) -> Tensor<D> {
        let dims = x.dims();
        let mut shape = [1usize; D];
        shape[0] = dims[0];
        shape[1] = dims[1];
        // `1 + gain` on the small `[B, C]` table, so the map itself is touched twice.
        let scale: Tensor<D> = self.gain.forward(labels).add_scalar(1.0).reshape(shape);
        let bias: Tensor<D> = self.bias.forward(labels).reshape(shape);
        x * scale + bias
    }
}

/// The minibatch standard deviation feature (Karras et al. 2018) for a discriminator's linear
/// output layer: items are taken in groups of `group` consecutive ones; each group's standard
/// deviation of every feature across its items, averaged over the features, is one more input
/// of the output layer for each item of the group. A generator that collapses makes groups
/// with little spread, which the discriminator can then see. As the output layer is linear,
/// the term is that input times its own learned weight, added to the logits; the weight starts
/// at zero, so an untrained discriminator scores as it would without it.
///
/// # Shapes
/// - features: `[B, F]`
/// - output: `[B, 1]`, to add to the logits
#[derive(Module, Debug)]
pub struct MinibatchStd {
    /// Items per group: the batch is split into groups of this many (of the largest common
    /// divisor of it and the batch size, when the batch is not a multiple).
    group: usize,
    /// The output layer's weight on the feature, `[1]`.
    weight: Param<Tensor<1>>,
}

/// Added to the variance before its square root, so the gradient stays finite.
const STD_EPSILON: f32 = 1e-8;

impl MinibatchStd {
    /// The feature over groups of `group` items, with its weight at zero.
    pub fn new(group: usize, device: &Device) -> Self {
        Self {
            group: group.max(1),
            weight: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// Items per group.
    pub fn group(&self) -> usize {
        self.group
    }

    /// The feature of each item times its weight.
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.feature(features) * self.weight.val().reshape([1, 1])
    }

    /// Each item's group's mean standard deviation over the features, `[B, 1]`.
    pub fn feature(&self, features: Tensor<2>) -> Tensor<2> {
        let [batch, width] = features.dims();
        let group = common_divisor(batch, self.group);
        let grouped = features.reshape([batch / group, group, width]);
        let centred = grouped.clone() - grouped.mean_dim(1);
        let std = centred
            .powi_scalar(2)
            .mean_dim(1)
            .add_scalar(STD_EPSILON)
            .sqrt()
            .mean_dim(2); // [B / group, 1, 1]
        std.reshape([batch / group, 1])
            .repeat_dim(1, group)
            .reshape([batch, 1])
    }
}

/// The greatest common divisor of `a` and `b` (at least 1).
fn common_divisor(a: usize, b: usize) -> usize {
    let (mut a, mut b) = (a, b);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// A fully connected stack's hidden layers, each followed by `activation`: every layer of
/// `stack` but the last.
pub(crate) fn hidden_features(stack: &[Linear], activation: &LeakyRelu, x: Tensor<2>) -> Tensor<2> {
    let hidden = &stack[..stack.len().saturating_sub(1)];
    hidden
        .iter()
        .fold(x, |x, layer| activation.forward(layer.forward(x)))
}

/// [`hidden_features`] of `x` `[B, C, H, W]` (flattened to `[B, N]`), in the autodiff graph
/// like any forward pass, and the gradient `[B, C, H, W]` with respect to `x` of `sum_b <hidden_features(x)_b, seed_b>` for a `seed`
/// `[B, F]`, written as tensor operations (each layer's backward by hand: the transposed
/// weights, the LeakyReLU's slope mask), so that it is itself differentiable in the weights.
/// burn's `backward` detaches the gradients it returns; a penalty on this one trains the
/// weights through an ordinary first-order backward pass. The mask is piecewise constant:
/// the activation's second derivative is zero almost everywhere.
pub(crate) fn hidden_features_and_input_gradient(
    stack: &[Linear],
    activation: &LeakyRelu,
    x: Tensor<4>,
    seed: Tensor<2>,
) -> (Tensor<2>, Tensor<4>) {
    let dims = x.dims();
    let hidden = &stack[..stack.len().saturating_sub(1)];
    let mut pre_activations = Vec::with_capacity(hidden.len());
    let mut h = x.flatten(1, 3);
    for layer in hidden {
        let a = layer.forward(h); // [B, width]
        pre_activations.push(a.clone().detach());
        h = activation.forward(a);
    }
    let grad = hidden
        .iter()
        .zip(pre_activations)
        .rev()
        .fold(seed, |grad, (layer, a)| {
            let grad = grad * leaky_relu_slopes(a, activation);
            grad.matmul(layer.weight.val().transpose()) // [B, fan_in]
        });
    (h, grad.reshape(dims))
}

/// The LeakyReLU's derivative at the pre-activations `a`: 1 where positive, the slope
/// elsewhere (detached: it is piecewise constant).
pub(crate) fn leaky_relu_slopes<const D: usize>(a: Tensor<D>, activation: &LeakyRelu) -> Tensor<D> {
    let slope = activation.negative_slope;
    a.detach()
        .greater_elem(0.0)
        .float()
        .mul_scalar(1.0 - slope)
        .add_scalar(slope)
}

/// The gradient with respect to a convolution's input `[B, C_in, H, W]` (of size `input`)
/// of `sum <conv(x) - bias, grad>`: the transposed convolution of `grad` with the same
/// weights, differentiable in them.
pub(crate) fn conv2d_input_gradient(
    conv: &Conv2d,
    grad: Tensor<4>,
    input: [usize; 4],
) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, _, _) => [top, left],
        _ => [0, 0],
    };
    let [_, _, kh, kw] = conv.weight.dims();
    let [_, _, oh, ow] = grad.dims();
    let kernel = [kh, kw];
    let out = [oh, ow];
    // The rows and columns the strided convolution never reached get no gradient.
    let padding_out: [usize; 2] = std::array::from_fn(|i| {
        let covered = (out[i] - 1) * conv.stride[i] + conv.dilation[i] * (kernel[i] - 1) + 1;
        (input[2 + i] + 2 * padding[i]).saturating_sub(covered)
    });
    let options = ConvTransposeOptions::new(
        conv.stride,
        padding,
        padding_out,
        conv.dilation,
        conv.groups,
    );
    ganforge_kernels::conv_transpose2d(grad, conv.weight.val(), None, options)
}

/// The gradient of a fully connected stack's (linear) last layer with respect to its input,
/// one row `[1, F]` per item: `[B, F]` (`None` for an empty stack).
pub(crate) fn output_layer_gradient(stack: &[Linear], batch: usize) -> Option<Tensor<2>> {
    let row = stack.last()?.weight.val().transpose(); // [1, F]
    let width = row.dims()[1];
    Some(row.expand([batch, width]))
}

/// A fully connected stack's last layer applied to `features`.
pub(crate) fn output_layer(stack: &[Linear], features: Tensor<2>) -> Tensor<2> {
    match stack.last() {
        Some(out) => out.forward(features),
        None => features,
    }
}

/// The input width of a fully connected stack's last layer.
pub(crate) fn output_fan_in(stack: &[Linear]) -> usize {
    stack.last().map_or(0, |out| out.weight.dims()[0])
}

/// Whether `norm` normalises `x` with batch statistics: training, on an autodiff device.
fn is_training<const D: usize>(norm: &BatchNorm, x: &Tensor<D>) -> bool {
    x.device().is_autodiff() && norm.training.is_enabled()
}

/// `norm.forward(x)` with the same results: batch statistics, biased variance, running
/// statistics updated with the layer's momentum when training on an autodiff device; the
/// running statistics otherwise. The statistics are reductions over the contiguous axes of
/// `x` viewed as `[B, C, H*W]`, so no transposed copy is made.
pub fn batch_norm<const D: usize>(norm: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if !is_training(norm, &x) {
        return norm.forward(x);
    }
    let dims = x.dims();
    let (batch, channels) = (dims[0], dims[1]);
    let spatial = dims[2..].iter().product::<usize>();
    let x: Tensor<3> = x.reshape([batch, channels, spatial]); // [B, C, HW]
    // Mean over batch and space: [B, C, HW] -> [1, C, 1].
    let per_channel_mean = |t: Tensor<3>| match spatial {
        1 => t.mean_dim(0),
        _ => t.mean_dim(2).mean_dim(0),
    };
    let mean = per_channel_mean(x.clone());
    let centered = x - mean.clone();
    let variance = per_channel_mean(centered.clone().square());
    let gamma = norm.gamma.val().reshape([1, channels, 1]);
    let beta = norm.beta.val().reshape([1, channels, 1]);
    let scale = variance.clone().add_scalar(norm.epsilon).sqrt().recip() * gamma;
    let y = centered * scale + beta;
    update_running_statistics(
        norm,
        mean.detach().reshape([channels]),
        variance.detach().reshape([channels]),
    );
    y.reshape(dims)
}

/// `running = (1 - momentum) * running + momentum * batch`, for the mean and the variance.
fn update_running_statistics(norm: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {
    let momentum = norm.momentum;
    let update = |running: Tensor<1>, batch_stat: Tensor<1>| {
        let running = running.to_device(&batch_stat.device());
        running
            .mul_scalar(1.0 - momentum)
            .add(batch_stat.mul_scalar(momentum))
            .detach()
    };
    norm.running_mean
        .update(update(norm.running_mean.value_sync(), mean));
    norm.running_var
        .update(update(norm.running_var.value_sync(), variance));
}

/// `conv.forward(x)`, through `ganforge_kernels::conv2d` (burn's module for `Same` padding).
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Same => return conv.forward(x),
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    ganforge_kernels::conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// `conv.forward(x)`, through `ganforge_kernels::conv_transpose2d`.
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(
        conv.stride,
        conv.padding,
        conv.padding_out,
        conv.dilation,
        conv.groups,
    );
    ganforge_kernels::conv_transpose2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Distribution, Tolerance};

    fn values<const D: usize>(t: Tensor<D>) -> TensorData {
        t.into_data()
    }

    /// Output and input gradient of `f` at `x` (autodiff) for the loss `sum(weights * f(x))`.
    fn output_and_grad<const D: usize>(
        x: Tensor<D>,
        weights: Tensor<D>,
        f: impl Fn(Tensor<D>) -> Tensor<D>,
    ) -> (TensorData, TensorData) {
        let x = x.require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * weights).sum().backward();
        let grad = x.grad(&grads).expect("x is tracked");
        (values(y), values(grad))
    }

    #[test]
    fn leaky_relu_and_tanh_match_burn_with_gradients() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let x = Tensor::<2>::random([13, 29], Distribution::Normal(0.0, 2.0), &device);
        let w = Tensor::<2>::random([13, 29], Distribution::Default, &device);
        let pairs = [
            (
                output_and_grad(x.clone(), w.clone(), |x| leaky_relu(x, 0.2)),
                output_and_grad(x.clone(), w.clone(), |x| activation::leaky_relu(x, 0.2)),
            ),
            (
                output_and_grad(x.clone(), w.clone(), tanh),
                output_and_grad(x.clone(), w.clone(), |x| x.tanh()),
            ),
        ];
        for (ours, burns) in pairs {
            ours.0
                .assert_approx_eq::<f32>(&burns.0, Tolerance::absolute(1e-6));
            ours.1
                .assert_approx_eq::<f32>(&burns.1, Tolerance::absolute(1e-5));
        }
        // Outside autodiff, burn's kernels.
        let plain = Device::flex();
        let x = Tensor::<1>::from_floats([-2.0, 0.5], &plain);
        assert_eq!(
            leaky_relu(x.clone(), 0.2)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
            [-0.4, 0.5]
        );
        tanh(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&x.tanh().into_data(), Tolerance::absolute(1e-6));
    }

    /// `batch_norm` (slope `None`) or `batch_norm_leaky_relu` against burn's module and
    /// activation: outputs, input gradients and running statistics over two steps.
    fn check_batch_norm<const D: usize>(shape: [usize; D], slope: Option<f64>) {
        let device = Device::flex().autodiff();
        device.seed(11);
        // Two modules built separately: `Module::clone` would share the running statistics,
        // and the comparison below would read one object twice.
        let ours = BatchNormConfig::new(shape[1]).init(&device);
        let burns = BatchNormConfig::new(shape[1]).init(&device);
        let x = Tensor::<D>::random(shape, Distribution::Normal(1.5, 3.0), &device);
        let x2 = x.clone().mul_scalar(0.5);
        // Two steps, so the second uses running statistics the first one updated.
        for x in [x, x2] {
            let weights = Tensor::<D>::random(shape, Distribution::Default, &device);
            let a = output_and_grad(x.clone(), weights.clone(), |x| match slope {
                Some(s) => batch_norm_leaky_relu(&ours, x, s),
                None => batch_norm(&ours, x),
            });
            let b = output_and_grad(x.clone(), weights, |x| match slope {
                Some(s) => activation::leaky_relu(burns.forward(x), s),
                None => burns.forward(x),
            });
            a.0.assert_approx_eq::<f32>(&b.0, Tolerance::absolute(2e-5));
            a.1.assert_approx_eq::<f32>(&b.1, Tolerance::absolute(2e-5));
        }
        let initial = [0.0f32, 1.0];
        for ((a, b), start) in [
            (ours.running_mean.value(), burns.running_mean.value()),
            (ours.running_var.value(), burns.running_var.value()),
        ]
        .into_iter()
        .zip(initial)
        {
            let moved = values(a.clone())
                .iter::<f32>()
                .any(|v| (v - start).abs() > 1e-3);
            assert!(
                moved,
                "the running statistics never left their initial value"
            );
            values(a).assert_approx_eq::<f32>(&values(b), Tolerance::absolute(1e-5));
        }
        // Evaluation with the running statistics the two steps left.
        if let Some(s) = slope {
            let eval = ours.valid();
            let x = Tensor::<D>::random(shape, Distribution::Normal(1.0, 2.0), &Device::flex());
            values(batch_norm_leaky_relu(&eval, x.clone(), s)).assert_approx_eq::<f32>(
                &values(activation::leaky_relu(eval.forward(x), s)),
                Tolerance::absolute(1e-5),
            );
        }
        // Off autodiff, the path is burn's.
        let plain = Device::flex();
        let eval = BatchNormConfig::new(shape[1]).init(&plain);
        let x = Tensor::<D>::random(shape, Distribution::Default, &plain);
        assert_eq!(
            values(batch_norm(&eval, x.clone())),
            values(eval.forward(x))
        );
    }

    #[test]
    fn batch_norm_matches_burn_in_1d_and_2d() {
        for slope in [None, Some(0.2), Some(0.0)] {
            check_batch_norm([6, 5], slope);
            check_batch_norm([4, 3, 5, 7], slope);
        }
    }

    #[test]
    fn minibatch_std_is_each_groups_mean_spread() {
        let device = Device::flex();
        // Two groups of two items with two features.
        let features =
            Tensor::<2>::from_floats([[0.0, 1.0], [2.0, 5.0], [1.0, 1.0], [1.0, 1.0]], &device);
        let layer = MinibatchStd::new(2, &device);
        let got = layer
            .feature(features.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        // Group 1: spreads 1 and 2 (biased), mean 1.5; group 2: none.
        let eps = STD_EPSILON.sqrt();
        let expected = [1.5, 1.5, eps, eps];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-6, "{got:?}");
        }
        // A batch that is not a multiple of the group: groups of the common divisor (2 of 6).
        let six = Tensor::<2>::from_floats([[0.0], [2.0], [0.0], [4.0], [1.0], [1.0]], &device);
        let got = MinibatchStd::new(4, &device)
            .feature(six)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(
            (got[0] - 1.0).abs() < 1e-6 && (got[2] - 2.0).abs() < 1e-6,
            "{got:?}"
        );
        // The term starts at zero and its weight learns from the feature.
        let ad = device.autodiff();
        let layer = MinibatchStd::new(2, &ad);
        let out = layer.forward(Tensor::from_data(features.into_data(), &ad));
        assert_eq!(out.clone().abs().sum().into_scalar::<f32>(), 0.0);
        let grads = out.sum().backward();
        let grad = layer
            .weight
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!((grad[0] - (3.0 + 2.0 * eps)).abs() < 1e-5, "{grad:?}");
    }
}
