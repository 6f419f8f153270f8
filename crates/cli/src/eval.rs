//! `ganforge eval`: a checkpoint's scores as one JSON line and a Markdown table.

use std::path::PathBuf;

use ganforge_data::Split;
use ganforge_metrics::KidConfig;
use ganforge_trainer::TrainError;
use ganforge_trainer::eval::{EvalOptions, EvalReport, Metric, evaluate};

use crate::{bench, device_for, weights_flag};

/// Options of `ganforge eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// A run directory or checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// A classifier directory written by `classify train` for the run's dataset: the feature
    /// extractor (scores are named `..._classifier`).
    #[arg(long)]
    classifier: PathBuf,
    /// Comma-separated: fid, kid, pr, dc, is, class-acc (conditional generators), modes
    /// (stacked data, with a classifier of its digits).
    #[arg(long, default_value = "fid,kid,pr,dc,is")]
    metrics: String,
    /// Samples generated, and real items drawn from the reference split.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// The split of the run's dataset to compare with.
    #[arg(long, value_enum, default_value = "train")]
    reference: ReferenceArg,
    /// Seed of the noise and of the reference draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Score the trained generator weights, not their moving average.
    #[arg(long)]
    no_ema: bool,
    /// Backend to run on.
    #[arg(long)]
    backend: Option<String>,
}

/// `--reference` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ReferenceArg {
    Train,
    Test,
}

/// Runs `ganforge eval`: prints the report as one JSON line, then as a Markdown table.
pub fn run(args: EvalArgs) -> Result<(), TrainError> {
    let metrics = args
        .metrics
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Metric>, _>>()?;
    let options = EvalOptions {
        metrics,
        samples: args.n,
        reference: match args.reference {
            ReferenceArg::Train => Split::Train,
            ReferenceArg::Test => Split::Test,
        },
        seed: args.seed,
        weights: weights_flag(args.no_ema),
        kid: KidConfig {
            seed: args.seed,
            ..KidConfig::default()
        },
    };
    let device = device_for(args.backend.as_deref())?;
    let report = evaluate(&args.checkpoint, &args.classifier, &options, &device)?;
    bench::print_json_line(&report);
    print!("{}", markdown(&report));
    Ok(())
}

/// The report as a Markdown table, one score per row, with what it was computed from.
fn markdown(report: &EvalReport) -> String {
    let mut out = format!(
        "\n{} samples of `{}` ({} weights) against {} {} items of {}, in the features of \
         the classifier `{}`:\n\n| score | value |\n|---|---|\n",
        report.samples,
        report.checkpoint.display(),
        report.weights,
        report.reference_items,
        report.reference_split,
        report.dataset,
        report.classifier.display(),
    );
    for (name, value) in &report.scores {
        out.push_str(&format!("| {name} | {value:.4} |\n"));
    }
    out
}
