//! `ganforge eval`: a checkpoint's scores as one JSON line and a Markdown table.

use std::path::PathBuf;

use ganforge_data::Split;
use ganforge_metrics::KidConfig;
use ganforge_trainer::TrainError;
use ganforge_trainer::eval::{
    EvalOptions, EvalReport, ExtractorKind, ExtractorSpec, Metric, evaluate,
};
use ganforge_trainer::inception::InceptionWeights;

use crate::{bench, device_for, weights_flag};

/// Options of `ganforge eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// A run directory or checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The feature extractor: a dataset classifier (scores named `..._classifier`, needs
    /// --classifier) or the FID Inception-v3 of the papers (`..._inception`).
    #[arg(long, value_enum, default_value = "classifier")]
    extractor: ExtractorArg,
    /// A classifier directory written by `classify train` for the run's dataset.
    #[arg(long, required_if_eq("extractor", "classifier"))]
    classifier: Option<PathBuf>,
    /// pytorch-fid's Inception weights (`pt_inception-2015-12-05-6726825d.pth`, SHA-256
    /// checked); by default found in $GANFORGE_DATA/inception/ or the cache, or downloaded.
    #[arg(long)]
    inception_weights: Option<PathBuf>,
    /// Comma-separated: fid, kid, pr, dc, is, and with a classifier class-acc (conditional
    /// generators), modes (stacked data, with a classifier of its digits).
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

/// `--extractor` values.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExtractorArg {
    Classifier,
    Inception,
}

/// `--reference` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ReferenceArg {
    Train,
    Test,
}

/// Runs `ganforge eval`: prints the report as one JSON line, then as a Markdown table.
pub fn run(args: EvalArgs) -> Result<(), TrainError> {
    let extractor = match (args.extractor, args.classifier) {
        (ExtractorArg::Inception, _) => {
            ExtractorSpec::Inception(InceptionWeights::Published(args.inception_weights))
        }
        // clap requires --classifier with this extractor.
        (ExtractorArg::Classifier, classifier) => {
            ExtractorSpec::Classifier(classifier.unwrap_or_default())
        }
    };
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
    let report = evaluate(&args.checkpoint, &extractor, &options, &device)?;
    bench::print_json_line(&report);
    print!("{}", markdown(&report));
    Ok(())
}

/// The report as a Markdown table, one score per row, with what it was computed from.
fn markdown(report: &EvalReport) -> String {
    let extractor = match report.extractor {
        ExtractorKind::Classifier => "the classifier",
        ExtractorKind::Inception => "Inception-v3",
    };
    let mut out = format!(
        "\n{} samples of `{}` ({} weights) against {} {} items of {}, in the features of \
         {extractor} `{}`:\n\n| score | value |\n|---|---|\n",
        report.samples,
        report.checkpoint.display(),
        report.weights,
        report.reference_items,
        report.reference_split,
        report.dataset,
        report.extractor_path.display(),
    );
    for (name, value) in &report.scores {
        out.push_str(&format!("| {name} | {value:.4} |\n"));
    }
    out
}
