//! The kernels run on flex tensors, with or without autodiff: the inputs' host buffers are
//! read in place, and under autodiff each operation registers its own backward step.

mod activation;
mod conv;
mod norm;
mod pool;

pub use activation::{leaky_relu, tanh};
pub use conv::run as convolution;
pub use norm::{batch_norm, batch_norm_with_statistics};
pub use pool::pool2d;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::ops::{Backward, NodeGuard, OpsKind};
use burn_flex::{Flex, FlexTensor};
use std::borrow::Cow;

/// A tensor's flex buffer, with its autodiff node when it lives on an autodiff device.
enum Primitive {
    /// A plain flex tensor.
    Plain(FlexTensor),
    /// A tensor of autodiff over flex, and its node.
    Autodiff(FlexTensor, NodeGuard),
}

impl Primitive {
    /// The primitive of an `f32` tensor of flex or autodiff over flex; `None` otherwise.
    fn of<const D: usize>(t: &Tensor<D>) -> Option<Self> {
        if t.dtype() != DType::F32 {
            return None;
        }
        if let Ok(ad) = t.clone().try_into_primitive::<Autodiff<Flex>>() {
            let (primitive, node) = ad.into_parts();
            return Some(Self::Autodiff(primitive, node));
        }
        t.clone().try_into_primitive::<Flex>().ok().map(Self::Plain)
    }

    fn buffer(&self) -> &FlexTensor {
        match self {
            Self::Plain(t) | Self::Autodiff(t, _) => t,
        }
    }
}

/// `output`, computed from tensors whose autodiff nodes are `parents`, as the output of the
/// operation `step`: its backward state is built by `state` from the output, and only when a
/// gradient is wanted.
fn record<const D: usize, const N: usize, S: Backward<Flex, N>>(
    step: S,
    parents: [NodeGuard; N],
    state: impl FnOnce(&FlexTensor) -> S::State,
    output: FlexTensor,
) -> Tensor<D> {
    let output = match step
        .prepare::<NoCheckpointing>(parents)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state(&output), output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(output)
}

/// The tensor's elements in row-major order: its own buffer when contiguous, else a copy
/// (a gradient broadcast from a sum, say).
fn f32s(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(slice) => Cow::Borrowed(slice),
        None => {
            let contiguous = t.to_contiguous();
            Cow::Owned(match contiguous.as_slice::<f32>() {
                Some(slice) => slice.to_vec(),
                None => contiguous.into_data().iter::<f32>().collect(),
            })
        }
    }
}

fn host_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
