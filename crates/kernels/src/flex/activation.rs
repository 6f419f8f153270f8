//! LeakyReLU and tanh on flex tensors, as autodiff operations whose backward step reads only
//! the output.

use super::{Primitive, f32s, host_tensor, record};
use crate::activation::{LeakyRelu, tanh_backward, tanh_forward};
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};

/// An activation whose derivative is a function of its output.
#[derive(Clone, Copy, Debug)]
enum Activation {
    Leaky(LeakyRelu),
    Tanh,
}

impl Activation {
    fn forward(self, x: &[f32]) -> Vec<f32> {
        match self {
            Self::Leaky(leaky) => leaky.forward(x),
            Self::Tanh => tanh_forward(x),
        }
    }

    fn backward(self, dy: &[f32], y: &[f32]) -> Vec<f32> {
        match self {
            Self::Leaky(leaky) => leaky.backward(dy, y),
            Self::Tanh => tanh_backward(dy, y),
        }
    }
}

/// `max(x, s x)` for `s >= 0`; `None` for other slopes or tensors not `f32` on flex.
pub fn leaky_relu<const D: usize>(x: &Tensor<D>, negative_slope: f64) -> Option<Tensor<D>> {
    (negative_slope >= 0.0)
        .then(|| apply(x, Activation::Leaky(LeakyRelu::new(negative_slope as f32))))
        .flatten()
}

/// `tanh(x)`; `None` for tensors not `f32` on flex.
pub fn tanh<const D: usize>(x: &Tensor<D>) -> Option<Tensor<D>> {
    apply(x, Activation::Tanh)
}

fn apply<const D: usize>(x: &Tensor<D>, activation: Activation) -> Option<Tensor<D>> {
    let x = Primitive::of(x)?;
    let shape = x.buffer().layout().shape().clone();
    let y = host_tensor(activation.forward(&f32s(x.buffer())), shape);
    Some(match x {
        Primitive::Plain(_) => Tensor::from_primitive::<Flex>(y),
        Primitive::Autodiff(_, node) => record(ActivationStep(activation), [node], Clone::clone, y),
    })
}

/// The backward step of an activation: its state is the output.
#[derive(Debug)]
struct ActivationStep(Activation);

impl Backward<Flex, 1> for ActivationStep {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else {
            return;
        };
        let y = ops.state;
        let dx = self.0.backward(&f32s(&dy), &f32s(&y));
        grads.register::<Flex>(parent.id, host_tensor(dx, y.layout().shape().clone()));
    }
}
