//! `ganforge translate`: translate pictures with a trained image-to-image generator, or with
//! `--report` score it on held-out pairs.

use std::path::PathBuf;

use ganforge_cli::CliError;
use ganforge_trainer::TrainError;
use ganforge_trainer::translate::{ReportOptions, TranslateOptions, report, translate};

use crate::{device_for, weights_flag};

/// Options of `ganforge translate`.
#[derive(clap::Args)]
pub struct TranslateArgs {
    /// A run directory, a checkpoint directory, or a file in one.
    #[arg(long)]
    checkpoint: PathBuf,
    /// A picture, or a directory of pictures (at any depth), to translate.
    #[arg(long, required_unless_present = "report")]
    input: Option<PathBuf>,
    /// Output directory: one PNG per picture (same relative name), or with --report
    /// `report.json` and `pairs.png`.
    #[arg(long)]
    out: PathBuf,
    /// Score the generator on held-out pairs instead: mean L1, PSNR and SSIM of its
    /// translations against their targets (one JSON line).
    #[arg(long, conflicts_with = "input")]
    report: bool,
    /// With --report: held-out pairs in pix2pix's aligned format (default: the test split of
    /// the run's dataset).
    #[arg(long, requires = "report")]
    pairs: Option<PathBuf>,
    /// With --report: pairs scored at most.
    #[arg(long, default_value_t = 1000, requires = "report")]
    count: usize,
    /// With --report: a dataset classifier (`ganforge classify train`) in whose features
    /// the translations are compared with the targets (Fréchet distance).
    #[arg(long, requires = "report")]
    classifier: Option<PathBuf>,
    /// Seed of the generator's dropout masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Backend to run on.
    #[arg(long)]
    backend: Option<String>,
    /// Use the trained weights even where the run kept a moving average.
    #[arg(long)]
    no_ema: bool,
}

/// Runs `ganforge translate`.
pub fn run(args: TranslateArgs) -> Result<(), CliError> {
    let device = device_for(args.backend.as_deref())?;
    let weights = weights_flag(args.no_ema);
    if args.report {
        let options = ReportOptions {
            pairs: args.pairs,
            count: args.count,
            out: args.out,
            seed: args.seed,
            weights,
            classifier: args.classifier,
        };
        let report = report(&args.checkpoint, &options, &device)?;
        let line = serde_json::to_string(&report)
            .map_err(|e| TrainError::invalid("--report", "report", e.to_string()))?;
        println!("{line}");
        return Ok(());
    }
    let Some(input) = args.input else {
        return Err(
            TrainError::invalid("--input", "(none)", "name a picture or a directory").into(),
        );
    };
    let options = TranslateOptions {
        out: args.out,
        seed: args.seed,
        weights,
    };
    let done = translate(&args.checkpoint, &input, &options, &device)?;
    println!("checkpoint {}", done.checkpoint.display());
    if let Some(last) = done.files.last() {
        println!(
            "translated {} pictures; {}",
            done.files.len(),
            last.display()
        );
    }
    Ok(())
}
