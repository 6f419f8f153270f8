//! Backend selection for ganforge.
//!
//! Cargo features decide which burn backends are compiled in (`flex`, `tch`, `wgpu`); this
//! crate turns a run-time choice ([`BackendKind`]) into a burn [`Device`], or into a
//! [`BackendError`] that names what is missing. It is the only crate of the workspace with
//! backend `#[cfg]`s, so every other crate is backend-agnostic.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

mod probe;

pub use probe::check_device;

/// A backend ganforge can run on, as named on the command line (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// burn's pure-Rust CPU backend (cargo feature `flex`, the default).
    Flex,
    /// LibTorch on the CPU (cargo feature `tch`).
    TchCpu,
    /// LibTorch on an NVIDIA GPU through CUDA (cargo feature `tch`).
    TchCuda,
    /// wgpu: Vulkan, Metal or DX12, whichever the machine offers (cargo feature `wgpu`).
    Wgpu,
}

impl BackendKind {
    /// Every backend ganforge knows, compiled in or not.
    pub const ALL: [BackendKind; 4] = [
        BackendKind::Flex,
        BackendKind::TchCpu,
        BackendKind::TchCuda,
        BackendKind::Wgpu,
    ];

    /// The name used on the command line and in run records.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::TchCpu => "tch-cpu",
            BackendKind::TchCuda => "tch-cuda",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// The cargo feature of the ganforge crates that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::TchCpu | BackendKind::TchCuda => "tch",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// Whether this build contains the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Flex => cfg!(feature = "flex"),
            BackendKind::TchCpu | BackendKind::TchCuda => cfg!(feature = "tch"),
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// Whether the backend runs on the host CPU (so RSS is its memory figure).
    pub fn is_cpu(self) -> bool {
        matches!(self, BackendKind::Flex | BackendKind::TchCpu)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BackendKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| BackendError::Unknown {
                requested: s.to_string(),
                valid: names(&BackendKind::ALL),
            })
    }
}

/// Why a backend could not be handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The name matches no backend ganforge knows.
    #[error("unknown backend `{requested}`; valid backends are: {valid}")]
    Unknown {
        /// What was asked for.
        requested: String,
        /// The valid names, comma separated.
        valid: String,
    },
    /// The backend exists but this binary was built without it.
    #[error(
        "backend `{requested}` is not compiled into this build; rebuild with the cargo feature \
         `{feature}` (for example `cargo xtask train --backend {requested}`); compiled in: {available}"
    )]
    NotCompiled {
        /// What was asked for.
        requested: BackendKind,
        /// The cargo feature that would compile it in.
        feature: &'static str,
        /// The backends this build has, comma separated.
        available: String,
    },
    /// The backend is compiled in but could not start on this machine.
    #[error("backend `{backend}` is compiled in but cannot start: {reason}. {hint}")]
    Unavailable {
        /// The backend that failed.
        backend: BackendKind,
        /// What went wrong, as reported by the backend.
        reason: String,
        /// How to fix it.
        hint: &'static str,
    },
}

fn names(kinds: &[BackendKind]) -> String {
    kinds
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The backends compiled into this build, in the order of [`BackendKind::ALL`].
pub fn compiled() -> Vec<BackendKind> {
    BackendKind::ALL
        .into_iter()
        .filter(|kind| kind.is_compiled())
        .collect()
}

/// The backend used when none is asked for: flex when compiled in, else the first compiled one.
pub fn default_kind() -> Option<BackendKind> {
    compiled().into_iter().next()
}

/// The plain (non-autodiff) device for `kind`, checked to be usable: a backend that is
/// compiled in but cannot start (no Vulkan adapter, no CUDA driver, LibTorch not found)
/// is reported as [`BackendError::Unavailable`] instead of panicking later.
pub fn device(kind: BackendKind) -> Result<Device, BackendError> {
    let device = unchecked_device(kind)?;
    check_device(kind, &device)?;
    Ok(device)
}

/// The device for `kind` without the start-up check of [`device`].
pub fn unchecked_device(kind: BackendKind) -> Result<Device, BackendError> {
    if !kind.is_compiled() {
        return Err(BackendError::NotCompiled {
            requested: kind,
            feature: kind.feature(),
            available: names(&compiled()),
        });
    }
    Ok(make_device(kind))
}

/// Whether `device` is flex's, whose tensors live in host memory and convert to and from
/// slices without a copy (what host-side fused kernels such as the trainer's Adam rely on).
/// An autodiff device over flex counts as flex (burn compares the devices they wrap).
pub fn is_flex(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    return *device == Device::flex();
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

#[allow(unreachable_code, deprecated)] // each arm exists only with its feature
fn make_device(kind: BackendKind) -> Device {
    match kind {
        BackendKind::Flex => {
            #[cfg(feature = "flex")]
            return Device::flex();
        }
        BackendKind::TchCpu => {
            #[cfg(feature = "tch")]
            return Device::libtorch();
        }
        BackendKind::TchCuda => {
            #[cfg(feature = "tch")]
            return Device::libtorch_cuda(burn::tensor::DeviceIndex::Default);
        }
        BackendKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        }
    }
    unreachable!("make_device is only called for compiled backends")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>(), Ok(kind));
        }
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = "cuda".parse::<BackendKind>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`cuda`"), "{msg}");
        assert!(msg.contains("flex, tch-cpu, tch-cuda, wgpu"), "{msg}");
    }

    #[test]
    fn missing_backend_names_the_feature() {
        for kind in BackendKind::ALL {
            match device(kind) {
                Ok(_) => assert!(kind.is_compiled()),
                Err(BackendError::NotCompiled { feature, .. }) => {
                    assert!(!kind.is_compiled());
                    assert_eq!(feature, kind.feature());
                }
                Err(BackendError::Unavailable { .. }) => assert!(kind.is_compiled()),
                Err(other) => panic!("unexpected {other}"),
            }
        }
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_is_default_and_runs() {
        assert_eq!(default_kind(), Some(BackendKind::Flex));
        let device = device(BackendKind::Flex).unwrap();
        let t = Tensor::<1>::from_floats([1.0, 2.0], &device);
        assert!(is_flex(&t.device()));
        assert_eq!(t.sum().into_scalar::<f32>(), 3.0);
        assert!(is_flex(&device));
        assert!(is_flex(&device.autodiff()));
    }
}
