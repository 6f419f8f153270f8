//! Convolution [`Plan`]s run on flex tensors, with or without autodiff.

use super::{f32s, host_tensor};
use crate::plan::Plan;
use burn::prelude::*;
use burn::tensor::DType;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn_flex::{Flex, FlexTensor};

/// Runs `plan` on `x`, `weight` and `bias` if all of them are `f32` tensors of plain flex or
/// of autodiff over flex; `None` (and nothing consumed but clones) otherwise.
pub fn run(
    plan: &Plan,
    x: &Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
) -> Option<Tensor<4>> {
    let all_f32 = x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && bias.is_none_or(|b| b.dtype() == DType::F32 && b.dims() == [plan.out_channels]);
    if !all_f32 {
        return None;
    }
    if let (Ok(x), Ok(w)) = (
        x.clone().try_into_primitive::<Autodiff<Flex>>(),
        weight.clone().try_into_primitive::<Autodiff<Flex>>(),
    ) {
        let (x, x_node) = x.into_parts();
        let (w, w_node) = w.into_parts();
        return match bias {
            Some(b) => {
                let (b, b_node) = b
                    .clone()
                    .try_into_primitive::<Autodiff<Flex>>()
                    .ok()?
                    .into_parts();
                Some(record(plan, [x_node, w_node, b_node], x, w, Some(&b)))
            }
            None => Some(record(plan, [x_node, w_node], x, w, None)),
        };
    }
    let x = x.clone().try_into_primitive::<Flex>().ok()?;
    let w = weight.clone().try_into_primitive::<Flex>().ok()?;
    let b = match bias {
        Some(b) => Some(b.clone().try_into_primitive::<Flex>().ok()?),
        None => None,
    };
    Some(Tensor::from_primitive::<Flex>(forward(
        plan,
        &x,
        &w,
        b.as_ref(),
    )))
}

/// The forward pass as an autodiff operation whose parents are `nodes` (input, weight and,
/// with three, bias), keeping the input and weight for the backward step when it is tracked.
fn record<const N: usize>(
    plan: &Plan,
    nodes: [NodeGuard; N],
    x: FlexTensor,
    w: FlexTensor,
    b: Option<&FlexTensor>,
) -> Tensor<4> {
    let out = forward(plan, &x, &w, b);
    let out = match ConvStep(*plan)
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((x, w), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
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

fn forward(plan: &Plan, x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>) -> FlexTensor {
    let bias = b.map(f32s);
    let out = plan.forward(&f32s(x), &f32s(w), bias.as_deref());
    host_tensor(out, Shape::new(plan.out_shape()))
}
