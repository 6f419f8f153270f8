//! Convolution [`Plan`]s run on flex tensors, with or without autodiff.

use super::{Primitive, f32s, host_tensor, record};
use crate::plan::Plan;
use burn::prelude::*;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};

/// Runs `plan` on `x`, `weight` and `bias` if all of them are `f32` tensors of plain flex or
/// all of autodiff over flex; `None` (and nothing consumed but clones) otherwise.
pub fn run(
    plan: &Plan,
    x: &Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
) -> Option<Tensor<4>> {
    if bias.is_some_and(|b| b.dims() != [plan.out_channels]) {
        return None;
    }
    let bias = match bias {
        Some(b) => Some(Primitive::of(b)?),
        None => None,
    };
    Some(match (Primitive::of(x)?, Primitive::of(weight)?, bias) {
        (Primitive::Plain(x), Primitive::Plain(w), None) => {
            Tensor::from_primitive::<Flex>(forward(plan, &x, &w, None, true))
        }
        (Primitive::Plain(x), Primitive::Plain(w), Some(Primitive::Plain(b))) => {
            Tensor::from_primitive::<Flex>(forward(plan, &x, &w, Some(&b), true))
        }
        (Primitive::Autodiff(x, x_node), Primitive::Autodiff(w, w_node), None) => {
            let out = forward(plan, &x, &w, None, false);
            record(ConvStep(*plan), [x_node, w_node], |_| (x, w), out)
        }
        (
            Primitive::Autodiff(x, x_node),
            Primitive::Autodiff(w, w_node),
            Some(Primitive::Autodiff(b, b_node)),
        ) => {
            let out = forward(plan, &x, &w, Some(&b), false);
            record(ConvStep(*plan), [x_node, w_node, b_node], |_| (x, w), out)
        }
        _ => return None,
    })
}

/// The backward step of a [`Plan`]: its parents are the input, the weight and (with three
/// parents) the bias; its state the input and the weight.
#[derive(Debug)]
struct ConvStep(Plan);

impl<const N: usize> Backward<Flex, N> for ConvStep {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, weight) = ops.state;
        let parents = &ops.parents;
        let wanted = |i: usize| parents.get(i).is_some_and(Option::is_some);
        let computed = self.0.backward(
            &f32s(&x),
            &f32s(&weight),
            &f32s(&dy),
            [wanted(0), wanted(1), wanted(2)],
        );
        let shapes = [
            x.layout().shape().clone(),
            weight.layout().shape().clone(),
            Shape::new([self.0.out_channels]),
        ];
        let values = [computed.x, computed.weight, computed.bias];
        for ((parent, value), shape) in parents.iter().zip(values).zip(shapes) {
            if let (Some(node), Some(value)) = (parent, value) {
                grads.register::<Flex>(node.id, host_tensor(value, shape));
            }
        }
    }
}

/// The forward pass of `plan`; `inference` when no backward pass will follow.
fn forward(
    plan: &Plan,
    x: &FlexTensor,
    w: &FlexTensor,
    b: Option<&FlexTensor>,
    inference: bool,
) -> FlexTensor {
    let bias = b.map(f32s);
    let (x, w) = (f32s(x), f32s(w));
    let out = if inference {
        plan.forward_inference(&x, &w, bias.as_deref())
    } else {
        plan.forward(&x, &w, bias.as_deref())
    };
    host_tensor(out, Shape::new(plan.out_shape()))
}
