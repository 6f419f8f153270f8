//! Statistics that judge generated samples.
//!
//! These are pure functions of plain numbers: they take samples as slices, not tensors, so
//! they work with any backend and any feature extractor.

mod mode_coverage;

pub use mode_coverage::{ModeCoverage, mode_coverage};
