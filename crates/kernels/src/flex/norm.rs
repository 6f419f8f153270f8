//! Training-mode batch normalisation (with an optional LeakyReLU after it) on flex tensors,
//! as one autodiff operation over the input, the scale and the shift.

use super::{Primitive, f32s, host_tensor, record};
use crate::BatchNormOutput;
use crate::activation::LeakyRelu;
use crate::elementwise::Channels;
use crate::norm::BatchNorm;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};

/// [`crate::batch_norm`]: `None` when the tensors are not `f32` on flex (plain or under
/// autodiff), the shapes do not fit or the slope is negative.
pub fn batch_norm<const D: usize>(
    x: &Tensor<D>,
    gamma: &Tensor<1>,
    beta: &Tensor<1>,
    epsilon: f64,
    negative_slope: Option<f64>,
) -> Option<BatchNormOutput<D>> {
    let dims = x.dims();
    let norm = plan(dims, gamma, beta, epsilon, negative_slope)?;
    let shape = norm.shape;
    let (px, pg, pb) = (
        Primitive::of(x)?,
        Primitive::of(gamma)?,
        Primitive::of(beta)?,
    );
    let gamma_values = f32s(pg.buffer()).into_owned();
    let forward = norm.forward(&f32s(px.buffer()), &gamma_values, &f32s(pb.buffer()));
    let stats = |values: Vec<f32>| {
        Tensor::<1>::from_data(TensorData::new(values, [shape.channels]), &x.device())
    };
    let y = host_tensor(forward.y, Shape::new(dims));
    let output = match (px, pg, pb) {
        (Primitive::Autodiff(xp, xn), Primitive::Autodiff(_, gn), Primitive::Autodiff(_, bn)) => {
            let state = |y: &FlexTensor| NormState {
                x: xp,
                y: y.clone(),
                mean: forward.mean.clone(),
                inverse_std: norm.inverse_std(&forward.variance),
                gamma: gamma_values,
            };
            record(NormStep(norm), [xn, gn, bn], state, y)
        }
        (Primitive::Plain(_), Primitive::Plain(_), Primitive::Plain(_)) => {
            Tensor::from_primitive::<Flex>(y)
        }
        _ => return None,
    };
    Some(BatchNormOutput {
        output,
        mean: stats(forward.mean),
        variance: stats(forward.variance),
    })
}

/// The normalisation of a `dims` tensor with scale `gamma` and shift `beta`; `None` when they
/// do not fit together or the slope is negative.
fn plan<const D: usize>(
    dims: [usize; D],
    gamma: &Tensor<1>,
    beta: &Tensor<1>,
    epsilon: f64,
    negative_slope: Option<f64>,
) -> Option<BatchNorm> {
    if D < 2 || negative_slope.is_some_and(|s| s < 0.0) {
        return None;
    }
    let shape = Channels {
        batch: dims[0],
        channels: dims[1],
        spatial: dims[2..].iter().product(),
    };
    if gamma.dims() != [shape.channels] || beta.dims() != [shape.channels] {
        return None;
    }
    Some(BatchNorm {
        shape,
        epsilon: epsilon as f32,
        activation: negative_slope.map(|s| LeakyRelu::new(s as f32)),
    })
}

/// What the backward step keeps: the input and output, the batch statistics and the scale.
#[derive(Debug, Clone)]
struct NormState {
    x: FlexTensor,
    y: FlexTensor,
    mean: Vec<f32>,
    inverse_std: Vec<f32>,
    gamma: Vec<f32>,
}

/// The backward step: parents are the input, the scale and the shift.
#[derive(Debug)]
struct NormStep(BatchNorm);

impl Backward<Flex, 3> for NormStep {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let s = ops.state;
        let computed = self.0.backward(
            &f32s(&dy),
            &f32s(&s.x),
            &f32s(&s.y),
            &s.mean,
            &s.inverse_std,
            &s.gamma,
        );
        let channels = Shape::new([self.0.shape.channels]);
        let values = [
            (computed.x, s.x.layout().shape().clone()),
            (computed.gamma, channels.clone()),
            (computed.beta, channels),
        ];
        for (parent, (value, shape)) in ops.parents.iter().zip(values) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, host_tensor(value, shape));
            }
        }
    }
}

/// Batch normalisation of a plain flex `x` with given (running) statistics, then the
/// optional LeakyReLU; `None` for tensors under autodiff or not `f32` on flex.
pub fn batch_norm_with_statistics<const D: usize>(
    x: &Tensor<D>,
    [gamma, beta, mean, variance]: [&Tensor<1>; 4],
    epsilon: f64,
    negative_slope: Option<f64>,
) -> Option<Tensor<D>> {
    let dims = x.dims();
    let norm = plan(dims, gamma, beta, epsilon, negative_slope)?;
    if [mean, variance]
        .iter()
        .any(|t| t.dims() != [norm.shape.channels])
    {
        return None;
    }
    let plain = |t: &Tensor<1>| match Primitive::of(t)? {
        Primitive::Plain(p) => Some(f32s(&p).into_owned()),
        Primitive::Autodiff(..) => None,
    };
    let Primitive::Plain(px) = Primitive::of(x)? else {
        return None;
    };
    let y = norm.with_statistics(
        &f32s(&px),
        &plain(gamma)?,
        &plain(beta)?,
        &plain(mean)?,
        &plain(variance)?,
    );
    Some(Tensor::from_primitive::<Flex>(host_tensor(
        y,
        Shape::new(dims),
    )))
}
