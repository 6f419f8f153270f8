//! `cargo xtask bench`: criterion benchmarks, then ganforge and the PyTorch peer timed on the
//! same machine with the same thread count, as a table of ratios (JSON and Markdown).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::torch::TorchEnv;
use crate::{cargo, run, workspace_root};

const MODELS: [&str; 7] = [
    "mlp-mnist",
    "dcgan-mnist",
    "dcgan32",
    "dcgan64",
    "pix2pix256",
    "pix2pix64",
    "sngan32",
];
const PEER: &str = "../shared/reference/torch_gan_bench.py";
/// The peer of the image-to-image models: pix2pix's networks and iteration in PyTorch, run in
/// its tuned form (`--freeze-d`: no discriminator weight gradients in the generator step, as
/// ganforge's frozen copy).
const PEER_PIX2PIX: &str = "benches/peer/torch_pix2pix.py";

/// The peer of SNGAN's residual networks, run in its tuned form (`--freeze-d`).
const PEER_SNGAN: &str = "benches/peer/torch_sngan.py";

/// The peer of a reference model with a regulariser added (a row `model+regulariser`), run
/// in its tuned form (`--freeze-d`).
const PEER_REGULARISERS: &str = "benches/peer/torch_regularisers.py";
/// The model the regulariser rows (`--regularisers`) add each regulariser to.
const REGULARISED_MODEL: &str = "dcgan-mnist";
/// The regularisers `ganforge bench --regulariser` times, in report order.
const REGULARISERS: [&str; 7] = [
    "wgan-clip",
    "wgan-gp",
    "r1",
    "lecam",
    "spectral-norm",
    "ema",
    "diffaugment",
];

/// A row's model and the regulariser added to it: `dcgan-mnist+r1` -> (`dcgan-mnist`, `r1`).
fn split_regulariser(model: &str) -> (&str, Option<&str>) {
    match model.split_once('+') {
        Some((base, regulariser)) => (base, Some(regulariser)),
        None => (model, None),
    }
}

/// The peer script of `model`'s training iteration, and whether it takes `--freeze-d` (the
/// peers written here do; the reference benchmark has its own options).
fn peer_script(model: &str) -> (&'static str, bool) {
    if split_regulariser(model).1.is_some() {
        (PEER_REGULARISERS, true)
    } else if model.starts_with("pix2pix") {
        (PEER_PIX2PIX, true)
    } else if model.starts_with("sngan") {
        (PEER_SNGAN, true)
    } else {
        (PEER, false)
    }
}

/// Whether the reference benchmark's generator-inference peer knows `model` (a regulariser
/// changes training only, so its rows have no inference rows).
fn has_inference_peer(model: &str) -> bool {
    peer_script(model).0 == PEER
}
/// The peer of `ganforge bench --generate`: the reference's generators, in PyTorch.
const PEER_GENERATE: &str = "benches/peer/torch_generate.py";
/// The peer of the scoring benchmark (`benches/benches/scoring.rs`): pytorch-fid.
const PEER_SCORING: &str = "benches/peer/torch_scoring.py";
/// The tasks the scoring benchmark times, in report order.
const SCORING_TASKS: [&str; 2] = ["inception-features", "frechet-2048"];
/// Generator inference: batch sizes, and (timed iterations, warm-up) at each.
const INFERENCE: [(usize, usize, usize); 3] = [(1, 50, 10), (64, 20, 5), (1024, 3, 1)];

/// Options of one `cargo xtask bench` invocation.
pub struct BenchOptions {
    backends: Vec<String>,
    models: Vec<String>,
    iters: usize,
    warmup: usize,
    rounds: usize,
    threads: usize,
    criterion: bool,
    inference: bool,
    scaling: bool,
    /// Pictures scored by the Inception network per round; 0 skips the scoring benchmark.
    score_pictures: usize,
    /// Whether to add a row per regulariser (`dcgan-mnist+r1`, ...) after the models.
    regularisers: bool,
    peer_device: String,
}

impl BenchOptions {
    /// Parses `--backends a,b --models a,b --iters N --warmup N --rounds N --threads N
    /// --no-criterion --no-inference --scaling --score-pictures N --regularisers
    /// --peer-device cpu|cuda`. A model `m+r` is model `m` with regulariser `r`;
    /// `--regularisers` adds `dcgan-mnist` with each regulariser (and plain, if missing).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Self {
            backends: vec!["flex".into()],
            models: MODELS.iter().map(|m| m.to_string()).collect(),
            iters: 20,
            warmup: 3,
            rounds: 3,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            criterion: true,
            inference: true,
            scaling: false,
            score_pictures: 100,
            regularisers: false,
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
                "--rounds" => o.rounds = number(value()?)?.max(1),
                "--threads" => o.threads = number(value()?)?,
                "--peer-device" => o.peer_device = value()?,
                "--no-criterion" => o.criterion = false,
                "--no-inference" => o.inference = false,
                "--scaling" => o.scaling = true,
                "--score-pictures" => o.score_pictures = number(value()?)?,
                "--regularisers" => o.regularisers = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.regularisers {
            if !o.models.iter().any(|m| m == REGULARISED_MODEL) {
                o.models.push(REGULARISED_MODEL.into());
            }
            let rows = REGULARISERS.map(|r| format!("{REGULARISED_MODEL}+{r}"));
            o.models.extend(rows);
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
    /// The batch size of an inference row (training rows use the model's own).
    batch: Option<usize>,
    /// Median images/s over the rounds.
    ganforge: Option<f64>,
    ganforge_rss: Option<f64>,
    peer: Option<f64>,
    peer_rss: Option<f64>,
    /// ganforge / PyTorch within each round (the two ran back to back), sorted.
    ratios: Vec<f64>,
}

/// One timed run: images/s and peak RSS in MiB.
type Sample = (f64, Option<f64>);

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

fn max_rss(samples: &[Sample]) -> Option<f64> {
    samples.iter().filter_map(|s| s.1).reduce(f64::max)
}

impl Row {
    /// Summarises the rounds of one model on one backend; `None` marks a failed run.
    fn new(model: &str, backend: &str, ours: &[Option<Sample>], peer: &[Option<Sample>]) -> Self {
        let ok = |v: &[Option<Sample>]| v.iter().flatten().copied().collect::<Vec<_>>();
        let (ours_ok, peer_ok) = (ok(ours), ok(peer));
        let mut ratios: Vec<f64> = ours
            .iter()
            .zip(peer)
            .filter_map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) if b.0 > 0.0 => Some(a.0 / b.0),
                _ => None,
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        Self {
            model: model.to_string(),
            backend: backend.to_string(),
            batch: None,
            ganforge: median(ours_ok.iter().map(|s| s.0).collect()),
            ganforge_rss: max_rss(&ours_ok),
            peer: median(peer_ok.iter().map(|s| s.0).collect()),
            peer_rss: max_rss(&peer_ok),
            ratios,
        }
    }

    fn ratio(&self) -> Option<f64> {
        median(self.ratios.clone())
    }
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

/// Runs a PyTorch peer script with the thread count set as ganforge's; its stdout, or `None`
/// (after printing why) when it failed.
fn run_peer(mut cmd: Command, what: &str, o: &BenchOptions) -> Option<String> {
    let out = cmd
        .env("OMP_NUM_THREADS", o.threads.to_string())
        .env("MKL_NUM_THREADS", o.threads.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Runs the peer for one model in its own process (so its peak RSS is that model's) and
/// returns (images/s, peak RSS MiB).
fn peer(model: &str, o: &BenchOptions) -> Option<Sample> {
    let (script, freeze_d) = peer_script(model);
    let script = workspace_root().join(script);
    if !script.is_file() {
        eprintln!("PyTorch peer not found at {}", script.display());
        return None;
    }
    let wrapper = "import runpy, sys, resource, json\n\
                   sys.argv = sys.argv[1:]\n\
                   runpy.run_path(sys.argv[0], run_name='__main__')\n\
                   print(json.dumps({'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))";
    let (base, regulariser) = split_regulariser(model);
    let mut cmd = Command::new(peer_python());
    cmd.args(["-c", wrapper])
        .arg(&script)
        .args([
            "--device",
            &o.peer_device,
            "--models",
            base,
            "--modes",
            "fp32",
        ])
        .args([
            "--iters",
            &o.iters.to_string(),
            "--warmup",
            &o.warmup.to_string(),
        ]);
    if freeze_d {
        cmd.arg("--freeze-d");
    }
    if let Some(regulariser) = regulariser {
        cmd.args(["--regulariser", regulariser]);
    }
    let text = run_peer(cmd, "PyTorch peer", o)?;
    let result = text.lines().find(|l| l.contains("\"images_per_s\""))?;
    println!("{result}");
    let rss = text.lines().find_map(|l| field(l, "peak_rss_mb"));
    Some((field(result, "images_per_s")?, rss))
}

/// Runs the generator-inference peer for one model and batch size: images/s.
fn peer_generate(
    model: &str,
    batch: usize,
    iters: usize,
    warmup: usize,
    o: &BenchOptions,
) -> Option<Sample> {
    let root = workspace_root();
    let mut cmd = Command::new(peer_python());
    cmd.arg(root.join(PEER_GENERATE))
        .arg("--reference")
        .arg(root.join(PEER))
        .args(["--device", &o.peer_device, "--models", model])
        .args(["--batches", &batch.to_string()])
        .args([
            "--iters",
            &iters.to_string(),
            "--warmup",
            &warmup.to_string(),
        ]);
    let text = run_peer(cmd, "PyTorch inference peer", o)?;
    let line = json_line(text.as_bytes())?;
    println!("{line}");
    Some((field(&line, "images_per_s")?, None))
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
        "ganforge-cli",
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

/// A rate with one decimal, or three below 1 (Fréchet distances per second).
fn rate(v: Option<f64>) -> String {
    fmt(v, if v.is_some_and(|v| v < 1.0) { 3 } else { 1 })
}

/// A Markdown table row and a JSON object for `r`.
fn report_row(r: &Row, o: &BenchOptions) -> (String, String) {
    let ratio = r.ratio();
    let range = match (r.ratios.first(), r.ratios.last()) {
        (Some(lo), Some(hi)) => format!("{lo:.2}-{hi:.2}"),
        _ => "-".into(),
    };
    let num = |v: Option<f64>| v.map_or("null".into(), |v| format!("{v}"));
    let common = format!(
        "\"model\": \"{}\", \"backend\": \"{}\", \"threads\": {}, \"rounds\": {}, \"ganforge_images_per_s\": {}, \"pytorch_images_per_s\": {}, \"ratio\": {}, \"round_ratios\": {:?}",
        r.model,
        r.backend,
        o.threads,
        o.rounds,
        num(r.ganforge),
        num(r.peer),
        num(ratio),
        r.ratios
    );
    match r.batch {
        Some(batch) => (
            format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.model,
                r.backend,
                batch,
                fmt(r.ganforge, 1),
                fmt(r.peer, 1),
                fmt(ratio, 2),
                range
            ),
            format!("{{{common}, \"batch\": {batch}}}"),
        ),
        None => (
            format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.model,
                r.backend,
                rate(r.ganforge),
                rate(r.peer),
                fmt(ratio, 2),
                range,
                fmt(r.ganforge_rss, 0),
                fmt(r.peer_rss, 0)
            ),
            format!(
                "{{{common}, \"ganforge_peak_rss_mb\": {}, \"pytorch_peak_rss_mb\": {}}}",
                num(r.ganforge_rss),
                num(r.peer_rss)
            ),
        ),
    }
}

fn write_report(
    training: &[Row],
    inference: &[Row],
    scoring: &[Row],
    o: &BenchOptions,
    dir: &Path,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut md = format!(
        "threads: {}, iterations: {} (+{} warm-up), rounds: {} (ganforge and PyTorch back to \
         back in each, PyTorch first in every second round; images/s are medians, the ratio is the median of the rounds' ratios), \
         PyTorch device: {}\n\n\
         | model | backend | ganforge img/s | PyTorch img/s | ratio | ratio range | ganforge peak RSS MiB | PyTorch peak RSS MiB |\n\
         |---|---|---|---|---|---|---|---|\n",
        o.threads, o.iters, o.warmup, o.rounds, o.peer_device
    );
    let rows = |rows: &[Row], md: &mut String| {
        let mut json = Vec::new();
        for r in rows {
            let (line, object) = report_row(r, o);
            md.push_str(&line);
            json.push(format!("    {object}"));
        }
        json.join(",\n")
    };
    let training_json = rows(training, &mut md);
    let mut inference_json = String::new();
    if !inference.is_empty() {
        md.push_str(
            "\nGenerator inference (evaluation mode, no gradients; images generated per second):\n\n\
             | model | backend | batch | ganforge img/s | PyTorch img/s | ratio | ratio range |\n\
             |---|---|---|---|---|---|---|\n",
        );
        inference_json = rows(inference, &mut md);
    }
    let mut scoring_json = String::new();
    if !scoring.is_empty() {
        md.push_str(&format!(
            "\nScoring beside pytorch-fid ({} pictures of 32x32 through the FID Inception-v3 in \
             batches of 25, per second; Fréchet distances of two sets of 3000 2048-dimensional \
             features, statistics included, per second; the \"img/s\" columns hold these rates):\n\n\
             | task | backend | ganforge per s | pytorch-fid per s | ratio | ratio range | - | - |\n\
             |---|---|---|---|---|---|---|---|\n",
            o.score_pictures
        ));
        scoring_json = rows(scoring, &mut md);
    }
    let json = format!(
        "{{\n  \"training\": [\n{training_json}\n  ],\n  \"inference\": [\n{inference_json}\n  ],\n  \"scoring\": [\n{scoring_json}\n  ]\n}}\n"
    );
    std::fs::write(dir.join("report.md"), &md)?;
    std::fs::write(dir.join("report.json"), json)?;
    println!("\n{md}");
    println!("written to {}", dir.display());
    Ok(())
}

/// What one `ganforge bench` run times: `iters` iterations after `warmup` untimed ones, of
/// training, or of generator inference at the batch size `generate` when that is set.
#[derive(Clone, Copy)]
struct Mode {
    iters: usize,
    warmup: usize,
    generate: Option<usize>,
}

/// One `ganforge bench` run of `model` on `backend`.
fn time_ganforge(
    model: &str,
    backend: &str,
    binary: &Path,
    torch: Option<&TorchEnv>,
    o: &BenchOptions,
    mode: Mode,
) -> Option<Sample> {
    let (base, regulariser) = split_regulariser(model);
    let mut cmd = Command::new(binary);
    cmd.args(["bench", "--model", base, "--backend", backend])
        .env("RAYON_NUM_THREADS", o.threads.to_string());
    if let Some(regulariser) = regulariser {
        cmd.args(["--regulariser", regulariser]);
    }
    if let Some(batch) = mode.generate {
        cmd.args(["--generate", "--batch", &batch.to_string()]);
    }
    cmd.args([
        "--iters",
        &mode.iters.to_string(),
        "--warmup",
        &mode.warmup.to_string(),
    ]);
    if let Some(env) = torch {
        env.apply(&mut cmd);
    }
    eprintln!("+ {cmd:?}");
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let line = json_line(&out.stdout)?;
    println!("{line}");
    Some((field(&line, "images_per_s")?, field(&line, "peak_rss_mb")))
}

/// A built `ganforge` binary: its backend, path and the PyTorch it needs (tch).
type Built<'a> = (&'a String, PathBuf, Option<TorchEnv>);

/// `o.rounds` rounds of `model` in `mode` on every built backend and the peer, the peer last in
/// even rounds and first in odd ones: one row per backend. Each round times both sides, so a
/// slow spell of a shared machine hits both sides of a round; the report gives medians and the
/// spread of the per-round ratios.
fn rounds(
    model: &str,
    built: &[Built<'_>],
    o: &BenchOptions,
    mode: Mode,
    mut peer: impl FnMut() -> Option<Sample>,
) -> Vec<Row> {
    let mut ours: Vec<Vec<Option<Sample>>> = vec![Vec::new(); built.len()];
    let mut peers = Vec::new();
    for round in 0..o.rounds {
        // Odd rounds run the peer first, so neither side always runs on a machine the other
        // has just warmed (or heated).
        let peer_first = round % 2 == 1;
        if peer_first {
            peers.push(peer());
        }
        for (samples, (backend, binary, torch)) in ours.iter_mut().zip(built) {
            samples.push(time_ganforge(
                model,
                backend,
                binary,
                torch.as_ref(),
                o,
                mode,
            ));
        }
        if !peer_first {
            peers.push(peer());
        }
    }
    ours.iter()
        .zip(built)
        .map(|(samples, (backend, _, _))| Row {
            batch: mode.generate,
            ..Row::new(model, backend, samples, &peers)
        })
        .collect()
}

/// The scoring benchmark on flex and its pytorch-fid peer, alternating for `o.rounds`
/// rounds, in the random network of the Inception parity fixture: one row per task.
fn scoring_rounds(o: &BenchOptions) -> Result<Vec<Row>, String> {
    let torch = TorchEnv::ensure(&TorchEnv::wanted_version())?;
    let fixture = workspace_root().join("target/fixtures/inception");
    torch.inception_fixture(&fixture)?;
    let weights = fixture.join("weights.pth").display().to_string();
    let pictures = o.score_pictures.to_string();
    let rates = |text: &str| -> Vec<Option<Sample>> {
        SCORING_TASKS
            .iter()
            .map(|task| {
                let line = text.lines().find(|l| l.contains(&format!("\"{task}\"")))?;
                println!("{line}");
                Some((field(line, "per_s")?, None))
            })
            .collect()
    };
    let mut ours = vec![Vec::new(); SCORING_TASKS.len()];
    let mut peers = vec![Vec::new(); SCORING_TASKS.len()];
    for _ in 0..o.rounds {
        let mut cmd = cargo();
        cmd.args([
            "bench",
            "-p",
            "ganforge-benches",
            "--bench",
            "scoring",
            "--",
        ])
        .args(["--weights", &weights, "--pictures", &pictures])
        .env("RAYON_NUM_THREADS", o.threads.to_string());
        let out = cmd.output().map_err(|e| format!("cargo bench: {e}"))?;
        for (task, rate) in ours
            .iter_mut()
            .zip(rates(&String::from_utf8_lossy(&out.stdout)))
        {
            task.push(rate);
        }
        let mut peer = Command::new(peer_python());
        peer.arg(workspace_root().join(PEER_SCORING))
            .args(["--weights", &weights, "--pictures", &pictures])
            .args(["--threads", &o.threads.to_string()]);
        let text = run_peer(peer, "pytorch-fid peer", o).unwrap_or_default();
        for (task, rate) in peers.iter_mut().zip(rates(&text)) {
            task.push(rate);
        }
    }
    Ok(SCORING_TASKS
        .iter()
        .zip(ours.iter().zip(&peers))
        .map(|(task, (ours, peer))| Row::new(task, "flex", ours, peer))
        .collect())
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
    let train = Mode {
        iters: o.iters,
        warmup: o.warmup,
        generate: None,
    };
    let rows: Vec<Row> = o
        .models
        .iter()
        .flat_map(|model| rounds(model, &built, o, train, || peer(model, o)))
        .collect();
    let mut inference = Vec::new();
    let generators = o.models.iter().filter(|m| has_inference_peer(m));
    for model in generators.filter(|_| o.inference) {
        for (batch, iters, warmup) in INFERENCE {
            let mode = Mode {
                iters,
                warmup,
                generate: Some(batch),
            };
            let peer = || peer_generate(model, batch, iters, warmup, o);
            inference.extend(rounds(model, &built, o, mode, peer));
        }
    }
    let scoring = match o.score_pictures {
        0 => Vec::new(),
        _ => match scoring_rounds(o) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("{e}");
                return false;
            }
        },
    };
    let out = workspace_root().join("target/bench");
    if write_report(&rows, &inference, &scoring, o, &out).is_err() {
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

    #[test]
    fn regulariser_rows_name_their_model_and_peer() {
        assert_eq!(
            split_regulariser("dcgan-mnist+wgan-gp"),
            ("dcgan-mnist", Some("wgan-gp"))
        );
        assert_eq!(split_regulariser("dcgan32"), ("dcgan32", None));
        assert_eq!(peer_script("dcgan-mnist+r1"), (PEER_REGULARISERS, true));
        assert!(!has_inference_peer("dcgan-mnist+r1"));
        let args = ["--models", "dcgan32", "--regularisers"].map(String::from);
        let o = BenchOptions::parse(&args).unwrap();
        assert_eq!(o.models.len(), 2 + REGULARISERS.len());
        assert_eq!(o.models[1], "dcgan-mnist");
        assert_eq!(o.models[2], "dcgan-mnist+wgan-clip");
    }

    #[test]
    fn rows_pair_the_rounds_and_take_medians() {
        let ours = [Some((100.0, Some(50.0))), Some((80.0, Some(52.0))), None];
        let peer = [
            Some((50.0, Some(600.0))),
            Some((100.0, None)),
            Some((70.0, None)),
        ];
        let row = Row::new("m", "flex", &ours, &peer);
        assert_eq!(row.ganforge, Some(90.0));
        assert_eq!(row.peer, Some(70.0));
        // Round 3 failed on our side, so only rounds 1 and 2 give ratios: 2.0 and 0.8.
        assert_eq!(row.ratios, vec![0.8, 2.0]);
        assert_eq!(row.ratio(), Some(1.4));
        assert_eq!((row.ganforge_rss, row.peer_rss), (Some(52.0), Some(600.0)));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }
}
