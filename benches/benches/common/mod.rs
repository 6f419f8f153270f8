//! What the model benchmarks share: the allocator and the devices to run on.

use burn::prelude::*;
use ganforge_backend::BackendKind;

/// The allocator of the `ganforge` binary, so the benchmarks time the same program.
#[global_allocator]
static ALLOCATOR: ganforge_trainer::allocator::Allocator = ganforge_trainer::allocator::Allocator;

/// Every compiled backend that can start here (the others are reported and skipped). Also
/// sets the allocator up as `ganforge` does, since every benchmark that runs a model starts
/// here.
pub fn devices() -> Vec<(BackendKind, Device)> {
    ganforge_trainer::allocator::keep_freed_memory();
    ganforge_backend::compiled()
        .into_iter()
        .filter_map(|kind| match ganforge_backend::device(kind) {
            Ok(device) => Some((kind, device)),
            Err(e) => {
                eprintln!("skipping {kind}: {e}");
                None
            }
        })
        .collect()
}
