//! `ganforge`: train GANs from TOML configs and sample from the results.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ganforge_backend::BackendKind;
use ganforge_trainer::progress::ProgressMode;
use ganforge_trainer::{RawConfig, RunOptions, TrainError, TrainPlan};

#[derive(Parser)]
#[command(
    name = "ganforge",
    version,
    about = "Train and sample Generative Adversarial Networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a GAN from a TOML config.
    Train {
        /// The config file (see configs/).
        #[arg(long, required_unless_present = "resume")]
        config: Option<PathBuf>,
        /// flex, tch-cpu, tch-cuda or wgpu (among those compiled in).
        #[arg(long)]
        backend: Option<String>,
        /// Directory holding the dataset.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Parent directory of run directories.
        #[arg(long, default_value = "runs")]
        out: PathBuf,
        /// Seed (same as --set train.seed=N).
        #[arg(long)]
        seed: Option<u64>,
        /// Override a config key, e.g. --set train.steps=100 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print the resolved plan and exit without training.
        #[arg(long)]
        dry_run: bool,
        /// Continue the run in this directory from its latest checkpoint.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<PathBuf>,
        /// Print plain log lines instead of a progress bar.
        #[arg(long)]
        plain: bool,
    },
    /// Time one training iteration (or generator inference) of a reference model and print
    /// one JSON line, shaped like the PyTorch peer benchmark's.
    Bench {
        /// mlp-mnist, dcgan-mnist, dcgan32 or dcgan64.
        #[arg(long)]
        model: String,
        /// Backend to time.
        #[arg(long, default_value = "flex")]
        backend: String,
        /// Batch size (default: the reference's, 64 or 128).
        #[arg(long)]
        batch: Option<usize>,
        /// Timed iterations.
        #[arg(long, default_value_t = 20)]
        iters: usize,
        /// Untimed iterations first.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Time generator inference instead of training.
        #[arg(long)]
        generate: bool,
    },
    /// Write samples from a trained generator.
    Generate {
        /// A run directory, a checkpoint directory, or a file in one.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Number of samples.
        #[arg(long, default_value_t = 64)]
        count: usize,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Noise seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Backend to sample on.
        #[arg(long)]
        backend: Option<String>,
    },
}

fn parse_backend(name: Option<&str>) -> Result<Option<BackendKind>, TrainError> {
    Ok(name.map(str::parse).transpose()?)
}

fn run(cli: Cli) -> Result<(), TrainError> {
    match cli.command {
        Command::Train {
            config,
            backend,
            data,
            out,
            seed,
            mut overrides,
            dry_run,
            resume,
            plain,
        } => {
            if let Some(seed) = seed {
                overrides.push(format!("train.seed={seed}"));
            }
            let backend = parse_backend(backend.as_deref())?;
            let raw = match (&resume, &config) {
                (Some(run_dir), _) => {
                    ganforge_trainer::train::resolved_config(run_dir, &overrides)?
                }
                (None, Some(path)) => RawConfig::load(path, &overrides)?,
                (None, None) => unreachable!("clap requires --config or --resume"),
            };
            let plan = TrainPlan::new(raw, backend, data)?;
            let device = ganforge_backend::device(plan.backend)?;
            // Build the networks once so impossible shapes fail here, also in a dry run.
            plan.architecture.generator(&device, 0)?;
            plan.architecture.discriminator(&device, 0)?;
            if dry_run {
                print!("{}", plan.config.to_toml()?);
                return Ok(());
            }
            let options = RunOptions {
                runs_root: out,
                resume,
                progress: if plain {
                    ProgressMode::Plain
                } else {
                    ProgressMode::Auto
                },
            };
            let summary = ganforge_trainer::run(&plan, &device, &options)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_else(|e| e.to_string())
            );
            Ok(())
        }
        Command::Bench {
            model,
            backend,
            batch,
            iters,
            warmup,
            generate,
        } => {
            let kind: BackendKind = backend.parse()?;
            let Some((arch, default_batch)) = ganforge_models::reference(&model) else {
                return Err(ganforge_trainer::ConfigError::Invalid {
                    key: "--model",
                    value: model,
                    reason: format!(
                        "not a reference model; valid: {}",
                        ganforge_models::REFERENCE_MODELS.join(", ")
                    ),
                }
                .into());
            };
            let batch = batch.unwrap_or(default_batch);
            if batch == 0 {
                return Err(ganforge_trainer::ConfigError::Invalid {
                    key: "--batch",
                    value: "0".into(),
                    reason: "must be at least 1".into(),
                }
                .into());
            }
            let device = ganforge_backend::device(kind)?;
            let bench = if generate {
                ganforge_trainer::bench::generate
            } else {
                ganforge_trainer::bench::train
            };
            let result = bench(&model, &arch, kind, &device, batch, warmup, iters)?;
            println!(
                "{}",
                serde_json::to_string(&result).unwrap_or_else(|e| e.to_string())
            );
            Ok(())
        }
        Command::Generate {
            checkpoint,
            count,
            out,
            seed,
            backend,
        } => {
            let kind = parse_backend(backend.as_deref())?
                .or_else(ganforge_backend::default_kind)
                .unwrap_or(BackendKind::Flex);
            let device = ganforge_backend::device(kind)?;
            let done =
                ganforge_trainer::generate::generate(&checkpoint, count, &out, seed, &device)?;
            println!("checkpoint {}", done.checkpoint.display());
            if let Some(last) = done.files.last() {
                println!("wrote {} files; {}", done.files.len(), last.display());
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(if err.is_bad_input() { 2 } else { 1 })
        }
    }
}
