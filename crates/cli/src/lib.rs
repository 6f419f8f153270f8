//! The `ganforge` command line's library: the TOML configuration schema ([`config`]), its
//! validation into the trainer's [`RunSpec`](ganforge_trainer::RunSpec) ([`validate`]), and
//! the command line's errors ([`error`]). The commands themselves are in `main.rs`.

pub mod config;
pub mod error;
pub mod validate;

pub use config::RawConfig;
pub use error::{CliError, ConfigError};
