//! The ganforge trainer: configuration, the one training loop, checkpoints, sampling and
//! logging. The `ganforge` binary (crate `ganforge-cli`) is a thin command line over this
//! library.
//!
//! Flow: [`RawConfig`] (TOML, unknown keys rejected) -> [`TrainPlan`] (validated) ->
//! [`train::run`] on a device from `ganforge-backend` -> a run directory with
//! `resolved.toml`, `metrics.jsonl`, sample grids, `curves.png` and checkpoints.
//!
//! From Rust without TOML: [`objective::Gan::new`] builds the networks and optimisers from a
//! [`objective::GanSpec`], and an [`objective::Objective`] (`Unconditional`,
//! `ClassConditional`) runs one iteration on an [`objective::Batch`].

pub mod allocator;
pub mod bench;
pub mod checkpoint;
pub mod classify;
pub mod config;
pub mod error;
mod fsio;
pub mod generate;
pub mod hooks;
pub mod metrics_log;
pub mod objective;
pub mod plan;
pub mod progress;
pub mod render;
mod run_dir;
pub mod sample;
pub mod train;

pub use config::RawConfig;
pub use error::{ConfigError, TrainError};
pub use plan::TrainPlan;
pub use train::{RunOptions, RunSummary, run};
