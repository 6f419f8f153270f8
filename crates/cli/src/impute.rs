//! `ganforge impute`: fill the missing cells of a CSV table with GAIN, or, with `--remove`,
//! measure how well it fills cells that were there.

use std::path::{Path, PathBuf};

use ganforge_cli::CliError;
use ganforge_cli::config::ImputeConfig;
use ganforge_data::{MISSING_TOKENS, Table};
use ganforge_metrics::imputation_rmse;
use ganforge_trainer::TrainError;
use ganforge_trainer::impute::{GainStats, ImputeReport, impute, write_csv};
use ganforge_trainer::spec::{SeedStream, derive_seed};
use serde::Serialize;

use crate::{bench, device_for};

/// Options of `ganforge impute`.
#[derive(clap::Args)]
pub struct ImputeArgs {
    /// The CSV table (header row; missing cells empty or NA, N/A, NaN, nan, null, ?).
    /// Default: the config's `data.csv`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where to write the filled table (same header; observed cells unchanged).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A TOML file with `[gain]` settings (see configs/gain-*.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key, e.g. --set gain.iterations=2000 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Seed (same as --set gain.seed=N); with --remove it also chooses the removed cells.
    #[arg(long)]
    seed: Option<u64>,
    /// Backend to run on.
    #[arg(long)]
    backend: Option<String>,
    /// Benchmark: first remove this fraction of the observed cells completely at random,
    /// then impute them and report the RMSE against the removed values (columns min-max
    /// scaled by the full table, as in the GAIN paper).
    #[arg(long, value_name = "FRACTION")]
    remove: Option<f64>,
    /// With --remove: also write the table with the removed cells empty, so other imputers
    /// can be scored on the same holes.
    #[arg(long, value_name = "CSV")]
    holed: Option<PathBuf>,
    /// Log the losses every this many iterations on stderr (0: never).
    #[arg(long, default_value_t = 1000)]
    log_every: u64,
}

/// The JSON line `ganforge impute` prints.
#[derive(Serialize)]
struct Outcome<'a> {
    data: &'a Path,
    out: Option<&'a Path>,
    removed_fraction: Option<f64>,
    removed_cells: Option<usize>,
    rmse: Option<f64>,
    #[serde(flatten)]
    report: &'a ImputeReport,
}

/// Runs `ganforge impute`.
pub fn run(args: ImputeArgs) -> Result<(), CliError> {
    let config = match &args.config {
        Some(path) => ImputeConfig::load(path, &args.overrides)?,
        None => ImputeConfig::parse("", &args.overrides)?,
    };
    let mut spec = config.gain.spec();
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    let data = match (&args.data, &config.data) {
        (Some(path), _) => path.clone(),
        (None, Some(section)) => data_path(&section.csv),
        (None, None) => {
            return Err(invalid("--data", "(none)", "name the CSV table to fill"));
        }
    };
    check_outputs(&args)?;
    let table = Table::read_csv(&data)?;
    let (input, removed) = match args.remove {
        Some(fraction) => {
            let (holed, removed) =
                table.remove_at_random(fraction, derive_seed(spec.seed, SeedStream::Holes));
            if let Some(path) = &args.holed {
                write_csv(&holed, path)?;
            }
            (holed, Some(removed))
        }
        None => (table.clone(), None),
    };
    if input.missing() == 0 {
        return Err(invalid(
            "--data",
            data.display(),
            &format!(
                "the table has no missing cell (missing cells are empty or one of {}); \
                 to measure imputation on it, use --remove 0.2",
                MISSING_TOKENS[1..].join(", ")
            ),
        ));
    }
    let device = device_for(args.backend.as_deref())?;
    let mut log = |s: &GainStats| {
        if args.log_every > 0 {
            eprintln!(
                "iter {}/{} loss_d {:.4} loss_g {:.4} mse {:.5}",
                s.iteration, spec.iterations, s.loss_d, s.loss_g, s.mse
            );
        }
    };
    let log_every = if args.log_every == 0 {
        u64::MAX
    } else {
        args.log_every
    };
    let imputation = impute(&input, &spec, &device, log_every, &mut log)?;
    if let Some(out) = &args.out {
        write_csv(&imputation.table, out)?;
    }
    let rmse = match &removed {
        Some(removed) => Some(
            imputation_rmse(
                &table.values(),
                &imputation.table.values(),
                removed,
                table.columns(),
            )
            .map_err(|e| invalid("--remove", args.remove.unwrap_or(0.0), &e.to_string()))?,
        ),
        None => None,
    };
    bench::print_json_line(&Outcome {
        data: &data,
        out: args.out.as_deref(),
        removed_fraction: args.remove,
        removed_cells: removed.as_ref().map(|r| r.iter().filter(|&&m| m).count()),
        rmse,
        report: &imputation.report,
    });
    Ok(())
}

/// Refuses output options that cannot be met, before any work.
fn check_outputs(args: &ImputeArgs) -> Result<(), CliError> {
    match args.remove {
        Some(f) if !(f > 0.0 && f < 1.0) => {
            return Err(invalid("--remove", f, "must lie strictly between 0 and 1"));
        }
        None if args.holed.is_some() => {
            return Err(invalid(
                "--holed",
                "(given)",
                "only makes sense with --remove",
            ));
        }
        None if args.out.is_none() => {
            return Err(invalid("--out", "(none)", "name the CSV file to write"));
        }
        _ => {}
    }
    Ok(())
}

/// A config's table path: as given when it exists, else under `$GANFORGE_DATA`.
fn data_path(path: &Path) -> PathBuf {
    if path.is_relative()
        && !path.exists()
        && let Some(root) = std::env::var_os("GANFORGE_DATA")
    {
        let candidate = PathBuf::from(root).join(path);
        if candidate.exists() {
            return candidate;
        }
    }
    path.to_path_buf()
}

fn invalid(key: &'static str, value: impl ToString, reason: &str) -> CliError {
    CliError::Train(TrainError::invalid(key, value, reason))
}
