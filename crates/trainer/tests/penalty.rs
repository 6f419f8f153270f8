//! Gradient penalties against PyTorch: for fixed critic weights and inputs, the WGAN-GP and R1
//! penalties and their gradients with respect to every critic weight equal PyTorch's double
//! backward (`torch.autograd.grad(..., create_graph=True)`, in float64) to 1e-4 relative.
//! The fixtures are made by `scripts/penalty_fixtures.py` (the toy MLP critic, with and
//! without projection) and `scripts/resnet_penalty_fixture.py` (SNGAN's residual critic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use ganforge_losses::Penalty;
use ganforge_models::{
    Architecture, Conditioning, ConditioningMethod, Discriminator, ResnetDiscriminatorConfig,
    ResnetGeneratorConfig, ToyDiscriminatorConfig, ToyGeneratorConfig,
};
use serde::Deserialize;

const FIXTURE: &str = include_str!("fixtures/penalties.json");
const RESNET_FIXTURE: &str = include_str!("fixtures/resnet-penalties.json");
const TOLERANCE: f64 = 1e-4;

#[derive(Deserialize)]
struct Fixture {
    width: usize,
    depth: usize,
    classes: usize,
    batch: usize,
    lambda: f32,
    gamma: f32,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    conditional: bool,
    weights: Vec<Vec<f32>>,
    labels: Vec<i64>,
    #[serde(flatten)]
    penalties: Penalties,
}

#[derive(Deserialize)]
struct ResnetFixture {
    size: usize,
    channels: usize,
    width: usize,
    batch: usize,
    lambda: f32,
    gamma: f32,
    weights: Vec<Vec<f32>>,
    #[serde(flatten)]
    penalties: Penalties,
}

/// A critic's inputs (flat item values) and PyTorch's value and weight gradients of both
/// penalties there.
#[derive(Deserialize)]
struct Penalties {
    real: Vec<f32>,
    fake: Vec<f32>,
    mix: Vec<f32>,
    gradient_penalty: f64,
    gradient_penalty_grads: Vec<Vec<f64>>,
    r1: f64,
    r1_grads: Vec<Vec<f64>>,
}

impl Penalties {
    /// Where `penalty` is taken (the real items for R1, their mix with the generated ones
    /// for WGAN-GP), with `items` making a batch of the flat values, and what PyTorch
    /// computed there; `nonzero` weights have a gradient that is not zero.
    fn at(
        &self,
        penalty: Penalty,
        items: impl Fn(&[f32]) -> Tensor<4>,
        nonzero: usize,
    ) -> (Tensor<4>, Expected<'_>) {
        let real = items(&self.real);
        let (point, value, grads) = match penalty {
            Penalty::Gradient { .. } => {
                let point = interpolate(real, items(&self.fake), &self.mix);
                (point, self.gradient_penalty, &self.gradient_penalty_grads)
            }
            Penalty::R1 { .. } => (real, self.r1, &self.r1_grads),
        };
        let expected = Expected {
            value,
            grads,
            nonzero,
        };
        (point, expected)
    }
}

/// What PyTorch computed for one penalty.
struct Expected<'a> {
    value: f64,
    grads: &'a [Vec<f64>],
    /// Parameters whose gradient is not zero: every weight matrix or kernel; the biases move
    /// only the activations' masks, which are piecewise constant, so theirs are zero.
    nonzero: usize,
}

/// Replaces every float parameter, in visiting order, with the next of `values`.
struct Load(std::vec::IntoIter<Vec<f32>>);

impl ModuleMapper for Load {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.0.next().expect("a fixture value per parameter");
        param.map(|t| {
            let shape = t.shape();
            assert_eq!(shape.num_elements(), values.len(), "parameter {shape:?}");
            Tensor::<1>::from_floats(values.as_slice(), &t.device())
                .reshape(shape)
                .require_grad()
        })
    }
}

/// Each parameter's gradient, in visiting order (zeros where the value does not depend on it).
struct Grads<'a>(&'a Gradients, Vec<Vec<f32>>);

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let size = value.shape().num_elements();
        let grad = match value.grad(self.0) {
            Some(grad) => grad.into_data().convert::<f32>().try_to_vec().unwrap(),
            None => vec![0.0; size],
        };
        self.1.push(grad);
    }
}

fn critic(fixture: &Fixture, case: &Case, device: &Device) -> Discriminator {
    let arch = Architecture::Toy(
        ToyGeneratorConfig::default(),
        ToyDiscriminatorConfig {
            width: fixture.width,
            depth: fixture.depth,
            inputs: 2,
        },
    );
    let conditioning = match case.conditional {
        true => Conditioning::new(ConditioningMethod::Projection, fixture.classes),
        false => Conditioning::none(),
    };
    let d = arch.discriminator(device, 0, &conditioning).unwrap();
    let mut load = Load(case.weights.clone().into_iter());
    let d = d.map(&mut load);
    assert!(load.0.next().is_none(), "the fixture has more weights");
    d
}

fn points(values: &[f32], batch: usize, device: &Device) -> Tensor<4> {
    Tensor::<1>::from_floats(values, device).reshape([batch, 2, 1, 1])
}

/// `|ours - torch| <= TOLERANCE * max |torch|`, per tensor, and torch's values not all zero.
fn assert_close(what: &str, ours: &[f32], torch: &[f64]) {
    assert_eq!(ours.len(), torch.len(), "{what}");
    let scale = torch.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (a, b) in ours.iter().zip(torch) {
        assert!(
            (f64::from(*a) - b).abs() <= TOLERANCE * scale.max(1e-12),
            "{what}: {a} vs PyTorch {b} (scale {scale})"
        );
    }
}

fn check(name: &str, fixture: &Fixture, case: &Case, penalty: Penalty) {
    let device = Device::flex().autodiff();
    let d = critic(fixture, case, &device);
    let labels = Tensor::<1, Int>::from_ints(case.labels.as_slice(), &device);
    let labels = case.conditional.then_some(&labels);
    let items = |values: &[f32]| points(values, fixture.batch, &device);
    let nonzero = fixture.depth + 1 + usize::from(case.conditional);
    let (point, expected) = case.penalties.at(penalty, items, nonzero);
    check_critic(name, &d, point, labels, penalty, expected);
}

/// `mix * real + (1 - mix) * fake`, one mixing weight per item.
fn interpolate(real: Tensor<4>, fake: Tensor<4>, mix: &[f32]) -> Tensor<4> {
    let mix = Tensor::<1>::from_floats(mix, &real.device()).reshape([mix.len(), 1, 1, 1]);
    real * mix.clone() + fake * mix.neg().add_scalar(1.0)
}

/// The penalty of `d` at `point` and its gradient with respect to every weight of `d`
/// against PyTorch's.
fn check_critic(
    name: &str,
    d: &Discriminator,
    point: Tensor<4>,
    labels: Option<&Tensor<1, Int>>,
    penalty: Penalty,
    expected: Expected<'_>,
) {
    let grad = d.input_gradient(point, labels).unwrap();
    let value = penalty.value(grad.flatten(1, 3));
    let ours = f64::from(value.clone().into_scalar::<f32>());
    assert!(
        (ours - expected.value).abs() <= TOLERANCE * expected.value.abs(),
        "{name}: {ours} vs PyTorch {}",
        expected.value
    );
    assert!(
        expected.value.abs() > 1e-6,
        "{name}: a zero penalty checks nothing"
    );
    let gradients = value.backward();
    let mut grads = Grads(&gradients, Vec::new());
    d.visit(&mut grads);
    assert_eq!(grads.1.len(), expected.grads.len(), "{name}");
    let mut nonzero = 0;
    for (i, (ours, torch)) in grads.1.iter().zip(expected.grads).enumerate() {
        assert_close(&format!("{name}, parameter {i}"), ours, torch);
        nonzero += usize::from(torch.iter().any(|v| v.abs() > 1e-9));
    }
    assert_eq!(nonzero, expected.nonzero, "{name}");
}

#[test]
fn gradient_penalty_and_r1_match_pytorch_double_backward() {
    let fixture: Fixture = serde_json::from_str(FIXTURE).unwrap();
    for case in &fixture.cases {
        let kind = if case.conditional {
            "projection"
        } else {
            "unconditional"
        };
        let gp = Penalty::Gradient {
            weight: fixture.lambda,
        };
        check(&format!("WGAN-GP, {kind}"), &fixture, case, gp);
        let r1 = Penalty::R1 {
            weight: fixture.gamma,
            every: 1,
        };
        check(&format!("R1, {kind}"), &fixture, case, r1);
    }
}

/// SNGAN's residual critic (optimised first block, a down-block, two plain blocks) at 32x32:
/// its hand-written input gradient (transposed convolutions, ReLU masks, pooling spread back)
/// trains every kernel as PyTorch's double backward does.
#[test]
fn resnet_critic_penalties_match_pytorch_double_backward() {
    let fixture: ResnetFixture = serde_json::from_str(RESNET_FIXTURE).unwrap();
    let device = Device::flex().autodiff();
    let arch = Architecture::Resnet(
        ResnetGeneratorConfig::new(fixture.size, fixture.channels),
        ResnetDiscriminatorConfig {
            width: fixture.width,
            ..ResnetDiscriminatorConfig::new(fixture.size, fixture.channels)
        },
    );
    let d = arch
        .discriminator(&device, 0, &Conditioning::none())
        .unwrap();
    let mut load = Load(fixture.weights.clone().into_iter());
    let d = d.map(&mut load);
    assert!(load.0.next().is_none(), "the fixture has more weights");
    let shape = [fixture.batch, fixture.channels, fixture.size, fixture.size];
    let images = |values: &[f32]| Tensor::<1>::from_floats(values, &device).reshape(shape);
    // Ten convolutions (three in each resampling block, two in each plain one) and the head.
    let kernels = 11;
    let gp = Penalty::Gradient {
        weight: fixture.lambda,
    };
    let (point, expected) = fixture.penalties.at(gp, images, kernels);
    check_critic("WGAN-GP, sngan-resnet", &d, point, None, gp, expected);
    let r1 = Penalty::R1 {
        weight: fixture.gamma,
        every: 1,
    };
    let (point, expected) = fixture.penalties.at(r1, images, kernels);
    check_critic("R1, sngan-resnet", &d, point, None, r1, expected);
}
