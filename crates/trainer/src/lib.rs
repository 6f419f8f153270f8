//! The ganforge trainer: the one training loop, its objectives, checkpoints, sampling and
//! logging, usable from Rust without TOML or a command line. The `ganforge` binary (crate
//! `ganforge-cli`) reads TOML configurations into a [`RunSpec`] and calls this library.
//!
//! Flow: a [`RunSpec`] (checked by [`RunSpec::check`]) -> [`train::run`] on a device from
//! `ganforge-backend` -> a run directory with `spec.json`, `metrics.jsonl`, sample grids,
//! `curves.png` and checkpoints (each holding the spec, so [`generate`] and [`classify`] need
//! nothing else).
//!
//! One level down: [`objective::Gan::new`] builds the networks and optimisers from a
//! [`objective::GanSpec`], and an [`objective::Objective`] (`Unconditional`,
//! `ClassConditional`) runs one iteration on an [`objective::Batch`].
//!
//! Beside the image GANs: [`impute::impute`] fills the missing cells of a table with GAIN.

pub mod ada;
pub mod allocator;
pub mod bench;
pub mod checkpoint;
pub mod classify;
pub mod ema;
pub mod error;
pub mod eval;
pub mod events;
mod fsio;
pub mod generate;
pub mod hooks;
pub mod impute;
pub mod inception;
pub mod inpaint;
pub mod metrics_log;
pub mod objective;
pub mod progress;
pub mod render;
pub mod report;
mod run_dir;
pub mod sample;
pub mod spec;
pub mod train;
pub mod translate;
pub mod translation;

pub use ada::AdaSpec;
pub use ema::EmaSpec;
pub use error::TrainError;
pub use spec::{DataSpec, OnDivergence, RunLength, RunSpec};
pub use train::{RunOptions, RunSummary, run};
