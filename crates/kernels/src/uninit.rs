//! Output buffers that a kernel writes in full, allocated without zeroing them first.
//!
//! `vec![0.0; len]` of a large buffer is a full pass over memory: the allocator hands back
//! memory freed by an earlier pass (the same activations, patch matrices and gradients are
//! allocated every iteration) and must clear it. A kernel that writes every element of its
//! output anyway takes an [`uninit`] buffer instead, writes it through `MaybeUninit`, and
//! turns it into a `Vec<f32>` with [`assume_init`] once every element is written.

use std::mem::{ManuallyDrop, MaybeUninit};

/// An element of a kernel's output: `f32`, or `MaybeUninit<f32>` in an [`uninit`] buffer
/// that the kernel initialises.
pub trait Slot: Sized {
    /// Writes `value`.
    fn set(&mut self, value: f32);
    /// Writes `values` to `dst` (of the same length).
    fn put(dst: &mut [Self], values: &[f32]);
}

impl Slot for f32 {
    #[inline(always)]
    fn set(&mut self, value: f32) {
        *self = value;
    }

    #[inline(always)]
    fn put(dst: &mut [Self], values: &[f32]) {
        dst.copy_from_slice(values);
    }
}

impl Slot for MaybeUninit<f32> {
    #[inline(always)]
    fn set(&mut self, value: f32) {
        self.write(value);
    }

    #[inline(always)]
    fn put(dst: &mut [Self], values: &[f32]) {
        dst.write_copy_of_slice(values);
    }
}

/// A buffer of `len` elements, none of them initialised.
pub(crate) fn uninit(len: usize) -> Vec<MaybeUninit<f32>> {
    let mut buffer = Vec::with_capacity(len);
    // SAFETY: the capacity is at least `len`, and `MaybeUninit` elements need no
    // initialisation.
    #[allow(unsafe_code)]
    unsafe {
        buffer.set_len(len);
    }
    buffer
}

/// `buffer` as initialised values, without copying.
///
/// # Safety
///
/// Every element of `buffer` has been written.
#[allow(unsafe_code)]
pub(crate) unsafe fn assume_init(buffer: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut buffer = ManuallyDrop::new(buffer);
    let (ptr, len, capacity) = (buffer.as_mut_ptr(), buffer.len(), buffer.capacity());
    // SAFETY: `MaybeUninit<f32>` has the size and alignment of `f32`, so the allocation
    // (owned by nobody else now that `buffer` is not dropped) is a valid `Vec<f32>` one; the
    // caller guarantees its first `len` elements are initialised.
    unsafe { Vec::from_raw_parts(ptr.cast::<f32>(), len, capacity) }
}

/// Frees a buffer of `len` NaNs, so that an allocation of the same size right after is likely
/// to get that memory back: a kernel that leaves part of an [`uninit`] output unwritten then
/// returns NaNs there rather than the zeros of fresh memory.
#[cfg(test)]
pub(crate) fn poison_freed(len: usize) {
    drop(std::hint::black_box(vec![f32::NAN; len]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_buffer_keeps_its_values() {
        let mut buffer = uninit(5);
        buffer.write_copy_of_slice(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        // SAFETY: all five elements were written just above.
        #[allow(unsafe_code)]
        let values = unsafe { assume_init(buffer) };
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn an_empty_buffer_is_empty() {
        // SAFETY: an empty buffer has no element to write.
        #[allow(unsafe_code)]
        let values = unsafe { assume_init(uninit(0)) };
        assert!(values.is_empty());
    }
}
