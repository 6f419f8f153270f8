//! `ganforge`: train GANs from TOML configs and sample from the results.

mod bench;
mod eval;
mod impute;
mod inpaint;
mod translate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use ganforge_backend::BackendKind;
use ganforge_cli::validate::{resolve, run_spec};
use ganforge_cli::{CliError, RawConfig};
use ganforge_models::ConditioningMethod;
use ganforge_trainer::bench::{BenchRegulariser, Workload};
use ganforge_trainer::classify::{self, ClassifierTraining};
use ganforge_trainer::generate::{GenerateOptions, Weights};
use ganforge_trainer::objective::Gan;
use ganforge_trainer::progress::ProgressMode;
use ganforge_trainer::{DataSpec, RunOptions, TrainError};

/// mimalloc keeps freed tensor buffers for reuse. With the system allocator every buffer above
/// its mmap threshold goes back to the kernel when a step frees it and is faulted in again,
/// zeroed, by the next step: 25-40% of an `mlp-mnist` iteration on flex (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: ganforge_trainer::allocator::Allocator = ganforge_trainer::allocator::Allocator;

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
        /// mlp-mnist, dcgan-mnist, dcgan32, dcgan64, pix2pix256, pix2pix64 or sngan32.
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
        /// Image size instead of the model's own (for cost-against-resolution sweeps).
        #[arg(long)]
        image_size: Option<usize>,
        /// Time each phase of a training iteration (forward, backward, optimiser, per net).
        #[arg(long, conflicts_with = "generate")]
        profile: bool,
        /// Class conditioning of the timed networks (10 classes): none, concat, projection
        /// or acgan.
        #[arg(long, default_value = "none")]
        conditioning: ConditioningArg,
        /// A regulariser added to the timed recipe, at its paper's setting: wgan-clip,
        /// wgan-gp, r1, lecam, spectral-norm, ema or diffaugment.
        #[arg(long, conflicts_with = "generate")]
        regulariser: Option<String>,
    },
    /// Time training against batch size and image size; writes a table and a plot.
    Scaling {
        /// mlp-mnist, dcgan-mnist, dcgan32 or dcgan64.
        #[arg(long, default_value = "dcgan-mnist")]
        model: String,
        /// Backend to time.
        #[arg(long, default_value = "flex")]
        backend: String,
        /// Batch sizes of the batch sweep.
        #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256,512")]
        batches: Vec<usize>,
        /// Image sizes of the size sweep (at the model's reference batch size).
        #[arg(long, value_delimiter = ',', default_value = "28,32,64,128")]
        sizes: Vec<usize>,
        /// Timed iterations per point.
        #[arg(long, default_value_t = 5)]
        iters: usize,
        /// Untimed iterations per point.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Directory for `scaling-<model>-<backend>.{md,png}`.
        #[arg(long, default_value = "target/bench")]
        out: PathBuf,
    },
    /// Train an image classifier for a dataset, or score a conditional generator with one.
    Classify {
        #[command(subcommand)]
        command: ClassifyCommand,
    },
    /// Score a checkpoint's samples against the run's dataset: FID, KID, precision/recall,
    /// density/coverage, Inception Score and class accuracy in a dataset classifier's or
    /// (FID, KID, precision/recall, density/coverage) in the FID Inception-v3's
    /// features (one JSON line, then a Markdown table).
    Eval(eval::EvalArgs),
    /// Fill the missing cells of a CSV table with GAIN (or, with --remove, measure how well
    /// it fills cells removed at random).
    Impute(impute::ImputeArgs),
    /// Translate pictures with a trained image-to-image generator (pix2pix), or score it on
    /// held-out pairs with --report.
    Translate(translate::TranslateArgs),
    /// Fill the holes of pictures (white in a mask picture) with a trained inpainter, or
    /// score it inside the holes of held-out pictures with --report.
    Inpaint(inpaint::InpaintArgs),
    /// Write one self-contained HTML page of a run: configuration, summary, curves, sample
    /// grids over time, scores and checkpoints.
    Report {
        /// The run directory.
        run: PathBuf,
        /// Where to write the page (default: RUN/report.html).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write samples from a trained generator.
    Generate {
        /// A run directory, a checkpoint directory, or a file in one.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Number of samples (per class with --class all).
        #[arg(long, default_value_t = 64)]
        count: usize,
        /// The class to generate, by index or name, or `all` for one row per class
        /// (conditional generators; without it they cycle through their classes).
        #[arg(long)]
        class: Option<String>,
        /// Enlarge each written sample by this whole factor (1: the data's own size).
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Noise seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Sample the trained generator weights, not their moving average.
        #[arg(long)]
        no_ema: bool,
        /// Backend to sample on.
        #[arg(long)]
        backend: Option<String>,
    },
}

#[derive(Subcommand)]
enum ClassifyCommand {
    /// Train a classifier and save it with its class names and held-out accuracy.
    Train {
        /// mnist, fashion-mnist, cifar10 or image-folder.
        #[arg(long)]
        dataset: DatasetArg,
        /// Directory holding the dataset (required for image-folder).
        #[arg(long)]
        data: Option<PathBuf>,
        /// An image folder to measure on instead of every tenth picture of --data.
        #[arg(long)]
        test_data: Option<PathBuf>,
        /// Image side of an image folder's pictures.
        #[arg(long, default_value_t = 32)]
        image_size: usize,
        /// Passes over the training data.
        #[arg(long, default_value_t = 3)]
        epochs: u64,
        /// Items per step.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Adam's learning rate in the first epoch (halved after each epoch).
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Channels of the first convolutions.
        #[arg(long, default_value_t = 32)]
        width: usize,
        /// Seed of the weights and the data order.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Backend to train on.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Generate `count` samples per class from a conditional checkpoint and print, per class
    /// and averaged, the fraction the classifier labels as that class (one JSON line).
    Score {
        /// A classifier directory written by `classify train`.
        #[arg(long)]
        classifier: PathBuf,
        /// A run directory or checkpoint of a conditional GAN.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Samples per class.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Noise seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Score the trained generator weights, not their moving average.
        #[arg(long)]
        no_ema: bool,
        /// Backend to run on.
        #[arg(long)]
        backend: Option<String>,
    },
}

/// `--dataset` values of `classify train`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum DatasetArg {
    Mnist,
    FashionMnist,
    Cifar10,
    ImageFolder,
}

/// The data plan of `classify train`'s options.
fn classify_data(
    dataset: DatasetArg,
    dir: Option<PathBuf>,
    image_size: usize,
) -> Result<DataSpec, TrainError> {
    let idx = |kind| DataSpec::Idx {
        kind,
        split: ganforge_data::Split::Train,
        dir: dir.clone(),
    };
    Ok(match dataset {
        DatasetArg::Mnist => idx(ganforge_data::IdxKind::Mnist),
        DatasetArg::FashionMnist => idx(ganforge_data::IdxKind::FashionMnist),
        DatasetArg::Cifar10 => DataSpec::Cifar10 {
            split: ganforge_data::Split::Train,
            dir: dir.clone(),
        },
        DatasetArg::ImageFolder => DataSpec::ImageFolder {
            dir: dir.clone().ok_or(TrainError::Invalid {
                key: "--data",
                value: "none".into(),
                reason: "image-folder needs the folder".into(),
            })?,
            image_size,
            color: ganforge_data::ColorMode::Rgb,
        },
    })
}

/// The device `--backend` names, or the default one.
fn device_for(backend: Option<&str>) -> Result<burn::prelude::Device, TrainError> {
    let kind = parse_backend(backend)?
        .or_else(ganforge_backend::default_kind)
        .unwrap_or(BackendKind::Flex);
    Ok(ganforge_backend::device(kind)?)
}

fn classify(command: ClassifyCommand) -> Result<(), CliError> {
    match command {
        ClassifyCommand::Train {
            dataset,
            data,
            test_data,
            image_size,
            epochs,
            batch,
            lr,
            width,
            seed,
            out,
            backend,
        } => {
            positive("--batch", &[batch, width, epochs as usize])?;
            let device = device_for(backend.as_deref())?;
            let test_data = test_data
                .map(|dir| classify_data(DatasetArg::ImageFolder, Some(dir), image_size))
                .transpose()?;
            let spec = ClassifierTraining {
                data: classify_data(dataset, data, image_size)?,
                test_data,
                epochs,
                batch_size: batch,
                lr,
                width,
                seed,
                verbose: true,
            };
            let info = classify::train(&spec, &device, &out)?;
            bench::print_json_line(&info);
            Ok(())
        }
        ClassifyCommand::Score {
            classifier,
            checkpoint,
            count,
            seed,
            no_ema,
            backend,
        } => {
            let device = device_for(backend.as_deref())?;
            let weights = weights_flag(no_ema);
            let scores = classify::score(&classifier, &checkpoint, count, seed, weights, &device)?;
            bench::print_json_line(&scores);
            Ok(())
        }
    }
}

/// `--conditioning` values.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ConditioningArg {
    None,
    Concat,
    Projection,
    Acgan,
}

impl From<ConditioningArg> for ConditioningMethod {
    fn from(arg: ConditioningArg) -> Self {
        match arg {
            ConditioningArg::None => ConditioningMethod::None,
            ConditioningArg::Concat => ConditioningMethod::Concat,
            ConditioningArg::Projection => ConditioningMethod::Projection,
            ConditioningArg::Acgan => ConditioningMethod::Acgan,
        }
    }
}

fn parse_backend(name: Option<&str>) -> Result<Option<BackendKind>, TrainError> {
    Ok(name.map(str::parse).transpose()?)
}

/// The reference model called `name` and its batch size, or an error naming the valid ones.
fn reference_model(name: &str) -> Result<(ganforge_models::Architecture, usize), TrainError> {
    ganforge_models::reference(name).ok_or_else(|| TrainError::Invalid {
        key: "--model",
        value: name.to_string(),
        reason: format!(
            "not a reference model; valid: {}, {}, {}",
            ganforge_models::REFERENCE_MODELS.join(", "),
            ganforge_models::TRANSLATION_MODELS.join(", "),
            ganforge_models::TOOLKIT_MODELS.join(", ")
        ),
    })
}

/// The regulariser `--regulariser` names, if any, refused by name where `arch` cannot take it.
fn bench_regulariser(
    name: Option<&str>,
    arch: &ganforge_models::Architecture,
) -> Result<Option<BenchRegulariser>, TrainError> {
    let Some(name) = name else {
        return Ok(None);
    };
    let invalid = |reason: String| TrainError::Invalid {
        key: "--regulariser",
        value: name.to_string(),
        reason,
    };
    let regulariser = BenchRegulariser::parse(name).ok_or_else(|| {
        let valid: Vec<_> = BenchRegulariser::ALL.iter().map(|r| r.name()).collect();
        invalid(format!("valid: {}", valid.join(", ")))
    })?;
    if arch.source_channels().is_some() {
        return Err(invalid(
            "regularisers are timed on the models that generate from noise".into(),
        ));
    }
    if regulariser.needs_input_gradient() && !arch.has_input_gradient() {
        return Err(invalid(
            "needs a discriminator without batch normalisation: mlp-mnist, dcgan-mnist or \
             sngan32"
                .into(),
        ));
    }
    Ok(Some(regulariser))
}

/// Rejects a zero among `values` of the option `key`.
fn positive(key: &'static str, values: &[usize]) -> Result<(), TrainError> {
    match values.iter().find(|&&v| v == 0) {
        Some(_) => Err(TrainError::Invalid {
            key,
            value: "0".into(),
            reason: "must be at least 1".into(),
        }),
        None => Ok(()),
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
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
            let mut raw = match (&resume, &config) {
                (Some(run_dir), _) => RawConfig::load(
                    &ganforge_trainer::train::saved_config_path(run_dir)?,
                    &overrides,
                )?,
                (None, Some(path)) => RawConfig::load(path, &overrides)?,
                (None, None) => unreachable!("clap requires --config or --resume"),
            };
            let backend = resolve(&mut raw, backend, data)?;
            let spec = run_spec(&raw, backend)?;
            let device = ganforge_backend::device(spec.backend)?;
            // Build the networks once so impossible shapes fail here, also in a dry run.
            Gan::new(&spec.gan_spec(), &device, spec.init_seeds())?;
            let config_text = raw.to_toml()?;
            if dry_run {
                print!("{config_text}");
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
                config_text: Some(config_text),
                stop: Some(stop_on_signal()),
            };
            let summary = ganforge_trainer::run(&spec, &device, &options)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_else(|e| e.to_string())
            );
            if summary.interrupted {
                eprintln!(
                    "stopped at iteration {} by a signal; checkpoint {}\nresume with: ganforge \
                     train --resume {}",
                    summary.iterations,
                    summary.checkpoint.display(),
                    summary.run_dir.display()
                );
                return Err(CliError::Interrupted);
            }
            Ok(())
        }
        Command::Bench {
            model,
            backend,
            batch,
            iters,
            warmup,
            generate,
            image_size,
            profile,
            conditioning,
            regulariser,
        } => {
            let kind: BackendKind = backend.parse()?;
            let (arch, default_batch) = reference_model(&model)?;
            let regulariser = bench_regulariser(regulariser.as_deref(), &arch)?;
            if arch.source_channels().is_some()
                && (generate || conditioning != ConditioningArg::None)
            {
                return Err(TrainError::invalid(
                    "--model",
                    &model,
                    "an image-to-image model is timed training, unconditional: drop --generate \
                     and --conditioning",
                )
                .into());
            }
            let architecture = match image_size {
                Some(size) => arch.with_image_size(size),
                None => arch,
            };
            let workload = Workload {
                model,
                architecture,
                conditioning: conditioning.into(),
                backend: kind,
                batch: batch.unwrap_or(default_batch),
                warmup,
                iters,
                regulariser,
            };
            positive("--batch", &[workload.batch])?;
            let device = ganforge_backend::device(kind)?;
            if profile {
                let result = bench::profile(&workload, &device)?;
                let total: f64 = result.phases.iter().map(|p| p.1).sum();
                for (phase, seconds) in &result.phases {
                    eprintln!(
                        "{phase:<26} {:>9.2} ms  {:>5.1}%",
                        seconds * 1e3,
                        100.0 * seconds / total.max(1e-12)
                    );
                }
                eprintln!("{:<26} {:>9.2} ms", "total", total * 1e3);
                bench::print_json_line(&result);
                return Ok(());
            }
            let result = match generate {
                true => bench::generate(&workload, &device)?,
                false => bench::train(&workload, &device)?,
            };
            bench::print_json_line(&result);
            Ok(())
        }
        Command::Scaling {
            model,
            backend,
            batches,
            sizes,
            iters,
            warmup,
            out,
        } => {
            let kind: BackendKind = backend.parse()?;
            let (architecture, batch_for_sizes) = reference_model(&model)?;
            positive("--batches", &batches)?;
            positive("--sizes", &sizes)?;
            let device = ganforge_backend::device(kind)?;
            // Impossible sizes fail before any timing starts.
            for &size in &sizes {
                let sized = architecture.clone().with_image_size(size);
                let none = ganforge_models::Conditioning::none();
                sized.generator(&device, 0, &none)?;
                sized.discriminator(&device, 0, &none)?;
            }
            let plan = bench::ScalingPlan {
                model: &model,
                architecture: &architecture,
                batches: &batches,
                sizes: &sizes,
                batch_for_sizes,
                warmup,
                iters,
            };
            let scaling = bench::scaling(&plan, kind, &device)?;
            std::fs::create_dir_all(&out).map_err(|e| TrainError::write(&out, e))?;
            let stem = out.join(format!("scaling-{model}-{}", kind.name()));
            let md = scaling.markdown(&model, kind.name());
            let md_path = stem.with_extension("md");
            std::fs::write(&md_path, &md).map_err(|e| TrainError::write(&md_path, e))?;
            let png = stem.with_extension("png");
            scaling.plot(&png, &format!("{model} training cost on {}", kind.name()))?;
            println!("{md}\nwritten {} and {}", md_path.display(), png.display());
            Ok(())
        }
        Command::Classify { command } => classify(command),
        Command::Eval(args) => Ok(eval::run(args)?),
        Command::Impute(args) => impute::run(args),
        Command::Translate(args) => translate::run(args),
        Command::Inpaint(args) => inpaint::run(args),
        Command::Report { run, out } => {
            let report = ganforge_trainer::report::write_report(&run, out.as_deref())?;
            println!(
                "wrote {} ({} pictures)",
                report.path.display(),
                report.pictures
            );
            Ok(())
        }
        Command::Generate {
            checkpoint,
            count,
            out,
            seed,
            backend,
            class,
            scale,
            no_ema,
        } => {
            let device = device_for(backend.as_deref())?;
            let options = GenerateOptions {
                count,
                out,
                seed,
                class,
                scale,
                weights: weights_flag(no_ema),
            };
            let done = ganforge_trainer::generate::generate(&checkpoint, &options, &device)?;
            println!("checkpoint {}", done.checkpoint.display());
            if let Some(last) = done.files.last() {
                println!("wrote {} files; {}", done.files.len(), last.display());
            }
            Ok(())
        }
    }
}

/// The generator weights `--no-ema` asks for.
fn weights_flag(no_ema: bool) -> Weights {
    if no_ema {
        Weights::Trained
    } else {
        Weights::Averaged
    }
}

/// A flag that the first Ctrl-C, SIGTERM or SIGHUP sets, so the run stops after the current
/// iteration with a checkpoint; a second one exits at once (the last checkpoint is intact).
fn stop_on_signal() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            eprintln!("second signal: exiting now; resume from the last checkpoint");
            std::process::exit(130);
        }
        eprintln!("signal received: stopping after this iteration with a checkpoint");
    });
    if let Err(e) = installed {
        eprintln!("warning: cannot install the signal handler ({e}); Ctrl-C stops at once");
    }
    flag
}

fn main() -> ExitCode {
    ganforge_trainer::allocator::keep_freed_memory();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Interrupted) => ExitCode::from(CliError::Interrupted.exit_code()),
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(err.exit_code())
        }
    }
}
