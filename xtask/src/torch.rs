//! The Python environment that supplies LibTorch to the `tch` backend.
//!
//! burn-tch 0.22 (torch-sys 0.22) builds against the PyTorch of a Python environment when
//! `LIBTORCH_USE_PYTORCH=1`. This module creates that environment under `.venv/torch-<ver>`
//! with `pip install torch==<ver>` and sets the variables a build and a run need. Builds
//! against the default version share the workspace's target directory; any other version
//! gets its own, because torch-sys does not notice when only the Python environment behind
//! it changes. The same environment, with pytorch-fid added, writes the FID Inception parity
//! fixture.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, workspace_root};

/// The PyTorch that burn-tch 0.22.1 is written against.
pub const DEFAULT_TORCH: &str = "2.9.0";
/// The FID Inception reference the parity fixture is made with.
const PYTORCH_FID: &str = "pytorch-fid==0.3.0";

/// A ready Python environment with PyTorch.
pub struct TorchEnv {
    version: String,
    venv: PathBuf,
    lib: PathBuf,
}

impl TorchEnv {
    /// The version to use: `GANFORGE_TORCH_VERSION`, else [`DEFAULT_TORCH`].
    pub fn wanted_version() -> String {
        std::env::var("GANFORGE_TORCH_VERSION").unwrap_or_else(|_| DEFAULT_TORCH.to_string())
    }

    fn venv_dir(version: &str) -> PathBuf {
        workspace_root()
            .join(".venv")
            .join(format!("torch-{version}"))
    }

    /// The environment for `version`, created (a multi-gigabyte download) when missing.
    pub fn ensure(version: &str) -> Result<Self, String> {
        let venv = Self::venv_dir(version);
        let python = venv.join("bin/python");
        if !python.is_file() {
            eprintln!("creating {} (pip install torch=={version})", venv.display());
            let python3 = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            if !run(Command::new(python3).args(["-m", "venv"]).arg(&venv)) {
                return Err(format!(
                    "cannot create a virtual environment at {}",
                    venv.display()
                ));
            }
        }
        if Self::torch_lib(&python, version).is_err() {
            let ok = run(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                &format!("torch=={version}"),
            ]));
            if !ok {
                return Err(format!("pip install torch=={version} failed"));
            }
        }
        let lib = Self::torch_lib(&python, version)?;
        Ok(Self {
            version: version.to_string(),
            venv,
            lib,
        })
    }

    /// `<site-packages>/torch/lib` of the environment, checking the installed version.
    fn torch_lib(python: &Path, version: &str) -> Result<PathBuf, String> {
        let out = Command::new(python)
            .args([
                "-c",
                "import torch, os; print(torch.__version__); print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
            ])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        if !out.status.success() {
            return Err("torch is not importable".into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let found = lines
            .next()
            .unwrap_or_default()
            .split('+')
            .next()
            .unwrap_or_default();
        if found != version {
            return Err(format!("found torch {found}, wanted {version}"));
        }
        Ok(PathBuf::from(lines.next().unwrap_or_default()))
    }

    /// Writes the FID Inception parity fixture (`scripts/inception_fixture.py`: a random
    /// pytorch-fid network, pictures and their features) into `out`, installing
    /// [`PYTORCH_FID`] and the torchvision that matches this torch first when missing.
    pub fn inception_fixture(&self, out: &Path) -> Result<(), String> {
        let python = self.venv.join("bin/python");
        let importable = Command::new(&python)
            .args(["-c", "import pytorch_fid, torchvision"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !importable {
            let torch = format!("torch=={}", self.version);
            let ok = run(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                PYTORCH_FID,
                &torch,
            ]));
            if !ok {
                return Err(format!("pip install {PYTORCH_FID} failed"));
            }
        }
        let script = workspace_root().join("scripts/inception_fixture.py");
        if run(Command::new(&python).arg(script).arg(out)) {
            Ok(())
        } else {
            Err("scripts/inception_fixture.py failed".into())
        }
    }

    /// The cargo target directory of builds against this torch: the workspace's own for
    /// [`DEFAULT_TORCH`], so that flex, wgpu and tch builds share compiled dependencies.
    pub fn target_dir(&self) -> PathBuf {
        let target = workspace_root().join("target");
        if self.version == DEFAULT_TORCH {
            target
        } else {
            target.join(format!("tch-{}", self.version))
        }
    }

    /// Sets what a build against, or a run of, this torch needs.
    pub fn apply(&self, cmd: &mut Command) {
        let bin = self.venv.join("bin");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(&path));
        let ld = std::env::var_os("LD_LIBRARY_PATH").unwrap_or_default();
        let mut libs = vec![self.lib.clone()];
        libs.extend(std::env::split_paths(&ld));
        cmd.env("VIRTUAL_ENV", &self.venv)
            .env("PATH", std::env::join_paths(paths).unwrap_or_default())
            .env(
                "LD_LIBRARY_PATH",
                std::env::join_paths(libs).unwrap_or_default(),
            )
            .env("LIBTORCH_USE_PYTORCH", "1")
            .env("CARGO_TARGET_DIR", self.target_dir());
        if self.version != DEFAULT_TORCH {
            cmd.env("LIBTORCH_BYPASS_VERSION_CHECK", "1");
        }
    }

    /// Shell lines that set the same variables, for users who run the binary by hand.
    pub fn shell_exports(&self) -> String {
        format!(
            "export LD_LIBRARY_PATH={}:$LD_LIBRARY_PATH\n# build: VIRTUAL_ENV={} LIBTORCH_USE_PYTORCH=1 CARGO_TARGET_DIR={}",
            self.lib.display(),
            self.venv.display(),
            self.target_dir().display()
        )
    }
}
