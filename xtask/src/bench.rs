//! `cargo xtask bench`: criterion benchmarks, then ganforge and the PyTorch peer timed on the
//! same machine with the same thread count, as a table of ratios (JSON and Markdown).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::torch::TorchEnv;
use crate::{cargo, run, workspace_root};

const MODELS: [&str; 4] = ["mlp-mnist", "dcgan-mnist", "dcgan32", "dcgan64"];
const PEER: &str = "../shared/reference/torch_gan_bench.py";

/// Options of one `cargo xtask bench` invocation.
pub struct BenchOptions {
    backends: Vec<String>,
    models: Vec<String>,
    iters: usize,
    warmup: usize,
    threads: usize,
    criterion: bool,
    scaling: bool,
    peer_device: String,
}

impl BenchOptions {
    /// Parses `--backends a,b --models a,b --iters N --warmup N --threads N --no-criterion
    /// --scaling --peer-device cpu|cuda`.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Self {
            backends: vec!["flex".into()],
            models: MODELS.iter().map(|m| m.to_string()).collect(),
            iters: 20,
            warmup: 3,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            criterion: true,
            scaling: false,
            peer_device: "cpu".into(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
            let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
            let number = |v: String| v.parse::<usize>().map_err(|e| format!("{arg}: {e}"));
            match arg.as_str() {
                "--backends" => o.backends = list(value()?),
                "--models" => o.models = list(value()?),
                "--iters" => o.iters = number(value()?)?,
                "--warmup" => o.warmup = number(value()?)?,
                "--threads" => o.threads = number(value()?)?,
                "--peer-device" => o.peer_device = value()?,
                "--no-criterion" => o.criterion = false,
                "--scaling" => o.scaling = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(o)
    }
}

/// A JSON object's number field, found by name (the lines are flat objects).
fn field(json: &str, name: &str) -> Option<f64> {
    let key = format!("\"{name}\":");
    let start = json.find(&key)? + key.len();
    let rest = json[start..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn json_line(output: &[u8]) -> Option<String> {
    String::from_utf8_lossy(output)
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .map(str::to_string)
}

struct Row {
    model: String,
    backend: String,
    ganforge: Option<f64>,
    ganforge_rss: Option<f64>,
    peer: Option<f64>,
    peer_rss: Option<f64>,
}

/// The python with torch: the project's venv when there is one, else `python3`.
fn peer_python() -> PathBuf {
    let venv = workspace_root()
        .join(".venv")
        .join(format!("torch-{}", TorchEnv::wanted_version()))
        .join("bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs the peer for one model in its own process (so its peak RSS is that model's) and
/// returns (images/s, peak RSS MiB).
fn peer(model: &str, o: &BenchOptions) -> Option<(f64, Option<f64>)> {
    let script = workspace_root().join(PEER);
    if !script.is_file() {
        eprintln!("PyTorch peer not found at {}", script.display());
        return None;
    }
    let wrapper = "import runpy, sys, resource, json\n\
                   sys.argv = sys.argv[1:]\n\
                   runpy.run_path(sys.argv[0], run_name='__main__')\n\
                   print(json.dumps({'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))";
    let out = Command::new(peer_python())
        .args(["-c", wrapper])
        .arg(&script)
        .args([
            "--device",
            &o.peer_device,
            "--models",
            model,
            "--modes",
            "fp32",
        ])
        .args([
            "--iters",
            &o.iters.to_string(),
            "--warmup",
            &o.warmup.to_string(),
        ])
        .env("OMP_NUM_THREADS", o.threads.to_string())
        .env("MKL_NUM_THREADS", o.threads.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let result = text.lines().find(|l| l.contains("\"images_per_s\""))?;
    println!("{result}");
    let rss = text.lines().find_map(|l| field(l, "peak_rss_mb"));
    Some((field(result, "images_per_s")?, rss))
}

fn binary_for(backend: &str) -> Result<(PathBuf, Option<TorchEnv>), String> {
    let feature = crate::feature_for(backend).ok_or(format!("unknown backend {backend}"))?;
    let torch = if feature == "tch" {
        Some(TorchEnv::ensure(&TorchEnv::wanted_version())?)
    } else {
        None
    };
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "-p",
        "ganforge-trainer",
        "--features",
        feature,
    ]);
    if let Some(env) = &torch {
        env.apply(&mut build);
    }
    if !run(&mut build) {
        return Err(format!("building ganforge for {backend} failed"));
    }
    let target = torch
        .as_ref()
        .map(TorchEnv::target_dir)
        .unwrap_or_else(|| workspace_root().join("target"));
    Ok((target.join("release/ganforge"), torch))
}

fn criterion(o: &BenchOptions) -> bool {
    let mut features = vec![];
    let mut torch = None;
    for b in &o.backends {
        if let Some(f) = crate::feature_for(b) {
            features.push(f);
            if f == "tch" {
                torch = TorchEnv::ensure(&TorchEnv::wanted_version()).ok();
            }
        }
    }
    let mut cmd = cargo();
    cmd.args([
        "bench",
        "-p",
        "ganforge-benches",
        "--features",
        &features.join(","),
    ])
    .env("RAYON_NUM_THREADS", o.threads.to_string());
    if let Some(env) = &torch {
        env.apply(&mut cmd);
    }
    run(&mut cmd)
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn write_report(rows: &[Row], o: &BenchOptions, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut md = format!(
        "threads: {}, iterations: {} (+{} warm-up), PyTorch device: {}\n\n\
         | model | backend | ganforge img/s | PyTorch img/s | ratio | ganforge peak RSS MiB | PyTorch peak RSS MiB |\n\
         |---|---|---|---|---|---|---|\n",
        o.threads, o.iters, o.warmup, o.peer_device
    );
    let mut json = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let ratio = match (r.ganforge, r.peer) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.model,
            r.backend,
            fmt(r.ganforge, 1),
            fmt(r.peer, 1),
            fmt(ratio, 2),
            fmt(r.ganforge_rss, 0),
            fmt(r.peer_rss, 0)
        ));
        let num = |v: Option<f64>| v.map_or("null".into(), |v| format!("{v}"));
        json.push_str(&format!(
            "  {{\"model\": \"{}\", \"backend\": \"{}\", \"threads\": {}, \"ganforge_images_per_s\": {}, \"pytorch_images_per_s\": {}, \"ratio\": {}, \"ganforge_peak_rss_mb\": {}, \"pytorch_peak_rss_mb\": {}}}{}\n",
            r.model,
            r.backend,
            o.threads,
            num(r.ganforge),
            num(r.peer),
            num(ratio),
            num(r.ganforge_rss),
            num(r.peer_rss),
            if i + 1 < rows.len() { "," } else { "" }
        ));
    }
    json.push_str("]\n");
    std::fs::write(dir.join("report.md"), &md)?;
    std::fs::write(dir.join("report.json"), json)?;
    println!("\n{md}");
    println!("written to {}", dir.display());
    Ok(())
}

/// The whole `cargo xtask bench`.
pub fn bench(o: &BenchOptions) -> bool {
    if o.criterion && !criterion(o) {
        return false;
    }
    let mut built = Vec::new();
    for backend in &o.backends {
        match binary_for(backend) {
            Ok((binary, torch)) => built.push((backend, binary, torch)),
            Err(e) => {
                eprintln!("{e}");
                return false;
            }
        }
    }
    let mut rows = Vec::new();
    let mut peers = std::collections::HashMap::new();
    for (backend, binary, torch) in &built {
        for model in &o.models {
            let mut cmd = Command::new(binary);
            cmd.args(["bench", "--model", model, "--backend", backend])
                .args([
                    "--iters",
                    &o.iters.to_string(),
                    "--warmup",
                    &o.warmup.to_string(),
                ])
                .env("RAYON_NUM_THREADS", o.threads.to_string());
            if let Some(env) = torch {
                env.apply(&mut cmd);
            }
            eprintln!("+ {cmd:?}");
            let line = cmd.output().ok().and_then(|out| {
                if !out.status.success() {
                    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
                }
                json_line(&out.stdout)
            });
            if let Some(line) = &line {
                println!("{line}");
            }
            let peer_result = *peers.entry(model.clone()).or_insert_with(|| peer(model, o));
            rows.push(Row {
                model: model.clone(),
                backend: backend.to_string(),
                ganforge: line.as_deref().and_then(|l| field(l, "images_per_s")),
                ganforge_rss: line.as_deref().and_then(|l| field(l, "peak_rss_mb")),
                peer: peer_result.map(|p| p.0),
                peer_rss: peer_result.and_then(|p| p.1),
            });
        }
    }
    let out = workspace_root().join("target/bench");
    if write_report(&rows, o, &out).is_err() {
        return false;
    }
    if o.scaling {
        for (backend, binary, torch) in &built {
            let mut cmd = Command::new(binary);
            cmd.args(["scaling", "--model", "dcgan-mnist", "--backend", backend])
                .arg("--out")
                .arg(&out)
                .env("RAYON_NUM_THREADS", o.threads.to_string());
            if let Some(env) = torch {
                env.apply(&mut cmd);
            }
            if !run(&mut cmd) {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_of_a_json_line() {
        let line = r#"{"model": "x", "images_per_s": 123.5, "peak_rss_mb": 7}"#;
        assert_eq!(field(line, "images_per_s"), Some(123.5));
        assert_eq!(field(line, "peak_rss_mb"), Some(7.0));
        assert_eq!(field(line, "missing"), None);
    }
}
