//! Average and maximum pooling on plain flex tensors (forward only: under autodiff, burn's
//! own operations keep their backward steps).

use super::{Primitive, f32s, host_tensor};
use crate::columns::Windows;
use crate::pool::{Reduce, pool};
use burn::prelude::*;
use burn_flex::Flex;

/// `reduce` over windows of `kernel`, `stride` and `(begin, end)` `padding` of a plain flex
/// `f32` `[B, C, H, W]` tensor; `None` for other tensors and for windows the kernel does not
/// cover (a padding as large as the kernel).
pub fn pool2d(
    x: &Tensor<4>,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    reduce: Reduce,
) -> Option<Tensor<4>> {
    let [batch, channels, h, w] = x.dims();
    let out = |axis: usize, size: usize| {
        let (begin, end) = padding[axis];
        let k = kernel[axis];
        (begin < k && end < k)
            .then(|| Windows::count_along(size, padding[axis], k, stride[axis]))
            .flatten()
    };
    let windows = Windows {
        channels: 1,
        image: [h, w],
        kernel,
        stride,
        padding: [padding[0].0, padding[1].0],
        out: [out(0, h)?, out(1, w)?],
    };
    let Primitive::Plain(x) = Primitive::of(x)? else {
        return None;
    };
    let y = pool(&f32s(&x), batch * channels, &windows, reduce);
    let [oh, ow] = windows.out;
    let y = host_tensor(y, Shape::new([batch, channels, oh, ow]));
    Some(Tensor::from_primitive::<Flex>(y))
}
