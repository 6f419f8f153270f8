//! Start-up check: a tiny computation on the device, with a panic inside the backend turned
//! into a [`BackendError::Unavailable`] that says what is missing.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use burn::prelude::*;

use crate::{BackendError, BackendKind};

/// Runs one small tensor operation on `device` and reads the result back. Backends start
/// lazily and report a missing driver or library by panicking on first use, deep inside a
/// dependency; this catches that panic and names the fix instead.
pub fn check_device(kind: BackendKind, device: &Device) -> Result<(), BackendError> {
    let message = Arc::new(Mutex::new(None::<String>));
    let sink = Arc::clone(&message);
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if let Ok(mut slot) = sink.lock() {
            *slot = Some(info.to_string());
        }
    }));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let t = Tensor::<1>::from_floats([1.0, 2.0, 3.0], device);
        t.sum().into_scalar::<f32>()
    }));
    panic::set_hook(previous);
    match outcome {
        Ok(sum) if (sum - 6.0).abs() < 1e-6 => Ok(()),
        Ok(sum) => Err(BackendError::Unavailable {
            backend: kind,
            reason: format!("a test sum gave {sum} instead of 6"),
            hint: hint(kind),
        }),
        Err(payload) => {
            let reason = message
                .lock()
                .ok()
                .and_then(|m| m.clone())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the backend panicked while starting".to_string());
            Err(BackendError::Unavailable {
                backend: kind,
                reason: first_line(&reason),
                hint: hint(kind),
            })
        }
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text);
    line.chars().take(400).collect()
}

fn hint(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Flex => "flex needs nothing installed; please report this as a bug",
        BackendKind::TchCpu => {
            "LibTorch must be loadable: run `cargo xtask setup-torch` and use `cargo xtask train \
             --backend tch-cpu`, or put `<site-packages>/torch/lib` on LD_LIBRARY_PATH"
        }
        BackendKind::TchCuda => {
            "tch-cuda needs an NVIDIA GPU with a working driver and a CUDA build of LibTorch \
             (`cargo xtask setup-torch`); check `nvidia-smi`, or use --backend tch-cpu"
        }
        BackendKind::Wgpu => {
            "wgpu needs a Vulkan, Metal or DX12 adapter; on Linux install a Vulkan driver \
             (`apt-get install mesa-vulkan-drivers libvulkan1` gives a software one), or use \
             --backend flex"
        }
    }
}
