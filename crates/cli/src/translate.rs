//! `ganforge translate`: translate pictures with a trained image-to-image generator, or with
//! `--report` score it on held-out pairs.

use std::path::PathBuf;

use burn::prelude::Device;

use ganforge_cli::CliError;
use ganforge_trainer::TrainError;
use ganforge_trainer::generate::Weights;
use ganforge_trainer::translate::{ReportOptions, TranslateOptions, report, translate};

use crate::{device_for, weights_flag};

/// What every use of a trained image-to-image generator takes (`translate`, `inpaint`).
#[derive(clap::Args)]
pub struct TranslatorArgs {
    /// A run directory, a checkpoint directory, or a file in one.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Seed of the generator's dropout masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Backend to run on.
    #[arg(long)]
    backend: Option<String>,
    /// Use the trained weights even where the run kept a moving average.
    #[arg(long)]
    no_ema: bool,
}

impl TranslatorArgs {
    /// The device to run on.
    pub fn device(&self) -> Result<Device, TrainError> {
        device_for(self.backend.as_deref())
    }

    /// Which of the checkpoint's generators to use.
    pub fn weights(&self) -> Weights {
        weights_flag(self.no_ema)
    }

    /// Scores the generator on held-out pairs (`pairs`, or the run's own held-out split),
    /// writes the report under `out` and prints it as one JSON line.
    pub fn print_report(
        &self,
        pairs: Option<PathBuf>,
        count: usize,
        classifier: Option<PathBuf>,
        out: PathBuf,
    ) -> Result<(), CliError> {
        let options = ReportOptions {
            pairs,
            count,
            out,
            seed: self.seed,
            weights: self.weights(),
            classifier,
        };
        let report = report(&self.checkpoint, &options, &self.device()?)?;
        let line = serde_json::to_string(&report)
            .map_err(|e| TrainError::invalid("--report", "report", e.to_string()))?;
        println!("{line}");
        Ok(())
    }
}

/// Options of `ganforge translate`.
#[derive(clap::Args)]
pub struct TranslateArgs {
    #[command(flatten)]
    translator: TranslatorArgs,
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
}

/// Runs `ganforge translate`.
pub fn run(args: TranslateArgs) -> Result<(), CliError> {
    let translator = args.translator;
    if args.report {
        return translator.print_report(args.pairs, args.count, args.classifier, args.out);
    }
    let Some(input) = args.input else {
        return Err(
            TrainError::invalid("--input", "(none)", "name a picture or a directory").into(),
        );
    };
    let options = TranslateOptions {
        out: args.out,
        seed: translator.seed,
        weights: translator.weights(),
    };
    let device = translator.device()?;
    let done = translate(&translator.checkpoint, &input, &options, &device)?;
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
