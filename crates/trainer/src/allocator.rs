//! The allocator of `ganforge` and of the benchmarks, and how it is set up.
//!
//! A training step frees and re-allocates the same large buffers (activations, gradients,
//! patch matrices) every iteration. mimalloc reuses freed memory, but by default it also
//! hands memory that stayed free for a while back to the kernel ("purging"), and the next
//! step then faults it in again, zeroed page by page. [`keep_freed_memory`] turns purging
//! off, so a run settles at its peak working set and stays there.

/// The global allocator: `#[global_allocator] static A: Allocator = Allocator;`.
pub use mimalloc::MiMalloc as Allocator;

/// `mi_option_purge_delay` of mimalloc's `mi_option_e` (v3, the version the `mimalloc` crate
/// builds), which `libmimalloc-sys` does not name.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the kernel. Call it first thing in `main`;
/// it has no effect where mimalloc is not the global allocator.
pub fn keep_freed_memory() {
    // SAFETY: `mi_option_set` stores an option value; it reads and writes no memory of
    // ours, may be called at any time from any thread, and a negative `purge_delay` is a
    // documented value ("never purge").
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
    }
}

/// mimalloc's current value of `purge_delay` (milliseconds; negative: never).
pub fn purge_delay() -> std::ffi::c_long {
    // SAFETY: `mi_option_get` reads an option value and touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(PURGE_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_is_kept() {
        keep_freed_memory();
        assert_eq!(purge_delay(), -1);
    }
}
