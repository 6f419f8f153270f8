//! Tabular imputation with GAIN (Yoon et al. 2018): train on a table's own observed cells,
//! then fill its missing ones.
//!
//! Every column is min-max scaled to `[0, 1]` over its observed cells. Each iteration draws
//! `batch_size` rows without replacement; their missing cells are replaced by uniform noise
//! in `[0, noise_scale)`; the generator fills every cell from those values and the mask
//! (1 = observed); the imputed row keeps its observed cells and takes the generator's values
//! elsewhere. The discriminator sees the imputed row and a hint (the mask with each entry
//! kept with probability `hint_rate` and set to 0 otherwise, the reference code's form) and
//! says, cell by cell, which were observed. The discriminator steps first, then the
//! generator, on the same rows: its loss is the adversarial term on the imputed cells plus
//! `alpha` times the squared error on the observed ones. After training, every row goes
//! through the generator once and only its missing cells take the generator's values.
//!
//! Training is short (the table is the training set, and the networks are three-layer
//! MLPs), so an imputation is one call and keeps no checkpoints.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use ganforge_data::Table;
use ganforge_losses::{gain_discriminator_loss, gain_generator_loss, observed_mse};
use ganforge_models::{GainConfig, GainDiscriminator, GainGenerator, WeightInit};
use rand::seq::index;
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::TrainError;
use crate::objective::AdamSpec;
use crate::spec::{SeedStream, derive_seed};

/// How GAIN is trained. `Default` is the paper's reference setting.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GainSpec {
    /// Training iterations (one discriminator and one generator update each).
    pub iterations: u64,
    /// Rows per iteration (all rows when the table has fewer).
    pub batch_size: usize,
    /// Probability that the hint reveals a cell's mask entry.
    pub hint_rate: f64,
    /// Weight of the squared error on observed cells in the generator's loss.
    pub alpha: f64,
    /// Width of both networks' hidden layers; `None` for the number of columns.
    pub hidden: Option<usize>,
    /// Upper bound of the uniform noise put into missing cells.
    pub noise_scale: f64,
    /// Share of the observed cells also hidden from the generator in each training batch
    /// (independently per cell); its squared-error term then covers them too, so it learns
    /// to predict cells it cannot see rather than only to copy the ones it sees. 0 is the
    /// reference algorithm.
    #[serde(default)]
    pub holdout: f64,
    /// Both networks' Adam settings.
    pub optimizer: AdamSpec,
    /// Seed of the weights, the row order, the noise and the hints.
    pub seed: u64,
}

impl Default for GainSpec {
    fn default() -> Self {
        Self {
            iterations: 10_000,
            batch_size: 128,
            hint_rate: 0.9,
            alpha: 100.0,
            hidden: None,
            noise_scale: 0.01,
            holdout: 0.0,
            optimizer: AdamSpec {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            seed: 0,
        }
    }
}

fn invalid(key: &'static str, value: impl ToString, reason: &str) -> TrainError {
    TrainError::Invalid {
        key,
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl GainSpec {
    /// Refuses impossible settings, naming them by their `gain.*` keys.
    ///
    /// # Errors
    /// [`TrainError::Invalid`] for the first impossible setting.
    pub fn check(&self) -> Result<(), TrainError> {
        if self.iterations == 0 {
            return Err(invalid("gain.iterations", 0, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("gain.batch_size", 0, "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.hint_rate) {
            return Err(invalid(
                "gain.hint_rate",
                self.hint_rate,
                "must lie in [0, 1]",
            ));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(invalid("gain.alpha", self.alpha, "must be finite and >= 0"));
        }
        if self.hidden == Some(0) {
            return Err(invalid("gain.hidden", 0, "must be at least 1"));
        }
        if !(self.noise_scale.is_finite() && self.noise_scale >= 0.0) {
            return Err(invalid(
                "gain.noise_scale",
                self.noise_scale,
                "must be finite and >= 0",
            ));
        }
        if !(0.0..1.0).contains(&self.holdout) {
            return Err(invalid("gain.holdout", self.holdout, "must lie in [0, 1)"));
        }
        let lr = self.optimizer.lr;
        if !(lr.is_finite() && lr > 0.0) {
            return Err(invalid("gain.lr", lr, "must be finite and > 0"));
        }
        for (key, beta) in [
            ("gain.beta1", self.optimizer.beta1),
            ("gain.beta2", self.optimizer.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err(invalid(key, beta, "must lie in [0, 1)"));
            }
        }
        Ok(())
    }
}

/// The losses of one iteration, read back at a log step.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GainStats {
    /// The iteration (1-based).
    pub iteration: u64,
    /// The discriminator's cross-entropy against the mask.
    pub loss_d: f32,
    /// The generator's adversarial term.
    pub loss_g: f32,
    /// The generator's squared error on observed cells (scaled units).
    pub mse: f32,
}

/// What an imputation did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImputeReport {
    /// Rows of the table.
    pub rows: usize,
    /// Columns of the table.
    pub columns: usize,
    /// Cells that were missing and are now filled.
    pub filled_cells: usize,
    /// The settings.
    pub spec: GainSpec,
    /// The losses of the last iteration.
    pub last: GainStats,
    /// Wall time of training and filling.
    pub seconds: f64,
}

/// A filled table and how it was made.
#[derive(Debug, Clone)]
pub struct Imputation {
    /// The table with every missing cell filled and every observed cell as it was.
    pub table: Table,
    /// What was done.
    pub report: ImputeReport,
}

/// Per-column min-max scaling over the observed cells.
struct Scaling {
    low: Vec<f64>,
    range: Vec<f64>,
}

impl Scaling {
    fn of(values: &[f64], columns: usize) -> Self {
        let mut low = vec![f64::INFINITY; columns];
        let mut high = vec![f64::NEG_INFINITY; columns];
        for (i, v) in values.iter().enumerate().filter(|(_, v)| !v.is_nan()) {
            low[i % columns] = low[i % columns].min(*v);
            high[i % columns] = high[i % columns].max(*v);
        }
        let range = low.iter().zip(&high).map(|(l, h)| h - l + 1e-6).collect();
        Self { low, range }
    }

    /// Scaled values with missing cells 0, and the mask (1 = observed), both row-major.
    fn scale(&self, values: &[f64]) -> (Vec<f32>, Vec<f32>) {
        let columns = self.low.len();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let c = i % columns;
                if v.is_nan() {
                    (0.0, 0.0)
                } else {
                    (((v - self.low[c]) / self.range[c]) as f32, 1.0)
                }
            })
            .unzip()
    }

    fn unscale(&self, scaled: &[f32]) -> Vec<f64> {
        let columns = self.low.len();
        scaled
            .iter()
            .enumerate()
            .map(|(i, &s)| f64::from(s) * self.range[i % columns] + self.low[i % columns])
            .collect()
    }
}

/// The scaled table and its mask, on the host.
struct Cells {
    values: Vec<f32>,
    mask: Vec<f32>,
    columns: usize,
}

impl Cells {
    fn rows(&self) -> usize {
        self.values.len() / self.columns
    }

    /// Rows `rows` on `device`. Each observed cell is also hidden from the generator with
    /// probability `holdout`; hidden and missing cells hold uniform noise in
    /// `[0, noise_scale)`.
    fn gather(
        &self,
        rows: &[usize],
        holdout: f64,
        noise_scale: f64,
        rng: &mut impl Rng,
        device: &Device,
    ) -> RowBatch {
        let d = self.columns;
        let n = rows.len() * d;
        let (mut input, mut shown, mut target) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for &r in rows {
            for c in r * d..(r + 1) * d {
                let noise = (rng.random::<f64>() * noise_scale) as f32;
                let observed = self.mask[c];
                let hidden = holdout > 0.0 && rng.random::<f64>() < holdout;
                let m = if hidden { 0.0 } else { observed };
                input.push(m * self.values[c] + (1.0 - m) * noise);
                shown.push(m);
                target.push(observed * self.values[c]);
            }
        }
        let shape = [rows.len(), d];
        let tensor = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, shape), device);
        RowBatch {
            input: tensor(input),
            shown: tensor(shown),
            target: tensor(target),
            observed: tensor(self.gather_mask(rows)),
        }
    }

    fn gather_mask(&self, rows: &[usize]) -> Vec<f32> {
        let d = self.columns;
        rows.iter()
            .flat_map(|&r| self.mask[r * d..(r + 1) * d].iter().copied())
            .collect()
    }
}

/// Rows of the table as the networks take them, each `[n, d]`.
struct RowBatch {
    /// Shown cells' values, noise elsewhere.
    input: Tensor<2>,
    /// 1 where the generator is shown the cell.
    shown: Tensor<2>,
    /// Observed cells' values, 0 elsewhere.
    target: Tensor<2>,
    /// 1 where the cell was observed (shown or held out).
    observed: Tensor<2>,
}

/// The two networks and their optimisers.
struct Networks {
    generator: GainGenerator,
    discriminator: GainDiscriminator,
    generator_optimizer: burn::optim::ModuleOptimizer,
    discriminator_optimizer: burn::optim::ModuleOptimizer,
}

/// One iteration: the discriminator's update, then the generator's, on the same rows.
/// Returns the losses as a detached `[3]` tensor (loss_d, loss_g, mse).
fn iteration(nets: &mut Networks, spec: &GainSpec, rows: RowBatch, hint: Tensor<2>) -> Tensor<1> {
    let lr = spec.optimizer.lr;
    let RowBatch {
        input,
        shown,
        target,
        observed,
    } = rows;
    let fill = shown.clone().neg().add_scalar(1.0);
    let imputed = |generated: Tensor<2>| input.clone() * shown.clone() + generated * fill.clone();

    let generated = nets
        .generator
        .forward(input.clone(), shown.clone())
        .detach();
    let logits = nets.discriminator.forward(imputed(generated), hint.clone());
    let loss_d = gain_discriminator_loss(logits, shown.clone());
    let grads = GradientsParams::from_grads(loss_d.backward(), &nets.discriminator);
    nets.discriminator = nets
        .discriminator_optimizer
        .step(lr, nets.discriminator.clone(), grads);

    let generated = nets.generator.forward(input.clone(), shown.clone());
    let frozen = nets.discriminator.clone().no_grad();
    let logits = frozen.forward(imputed(generated.clone()), hint);
    let adversarial = gain_generator_loss(logits, shown.clone());
    let mse = observed_mse(generated, target, observed);
    let loss_g = adversarial.clone() + mse.clone().mul_scalar(spec.alpha);
    let grads = GradientsParams::from_grads(loss_g.backward(), &nets.generator);
    nets.generator = nets
        .generator_optimizer
        .step(lr, nets.generator.clone(), grads);
    Tensor::cat(vec![loss_d.detach(), adversarial.detach(), mse.detach()], 0)
}

/// Rows filled per generator call when imputing the whole table.
const FILL_CHUNK: usize = 4096;

/// Trains GAIN on `table` (on `device`, an autodiff-capable device) and fills its missing
/// cells. `on_log` receives the losses every `log_every` iterations and at the last one.
///
/// # Errors
/// [`TrainError::Invalid`] for impossible settings, [`TrainError::Model`] for impossible
/// sizes, [`TrainError::Diverged`] when a loss stops being finite.
pub fn impute(
    table: &Table,
    spec: &GainSpec,
    device: &Device,
    log_every: u64,
    on_log: &mut dyn FnMut(&GainStats),
) -> Result<Imputation, TrainError> {
    spec.check()?;
    let start = Instant::now();
    let columns = table.columns();
    let raw = table.values();
    let scaling = Scaling::of(&raw, columns);
    let (values, mask) = scaling.scale(&raw);
    let cells = Cells {
        values,
        mask,
        columns,
    };
    let train_device = device.clone().autodiff();
    let config = GainConfig {
        columns,
        hidden: spec.hidden.unwrap_or(columns),
    };
    let mut init = WeightInit::new(derive_seed(spec.seed, SeedStream::Generator));
    let generator = config.init_generator(&train_device, &mut init)?;
    let mut init = WeightInit::new(derive_seed(spec.seed, SeedStream::Discriminator));
    let discriminator = config.init_discriminator(&train_device, &mut init)?;
    let mut nets = Networks {
        generator,
        discriminator,
        generator_optimizer: spec.optimizer.optimizer(),
        discriminator_optimizer: spec.optimizer.optimizer(),
    };
    let mut rows_rng = Pcg64Mcg::seed_from_u64(derive_seed(spec.seed, SeedStream::Data));
    let mut rng = Pcg64Mcg::seed_from_u64(derive_seed(spec.seed, SeedStream::Noise));
    let batch = spec.batch_size.min(cells.rows());
    let mut last = None;
    for it in 1..=spec.iterations {
        let rows = index::sample(&mut rows_rng, cells.rows(), batch).into_vec();
        let batch = cells.gather(
            &rows,
            spec.holdout,
            spec.noise_scale,
            &mut rng,
            &train_device,
        );
        let hint = hint_for(&batch.shown, spec.hint_rate, &mut rng);
        let losses = iteration(&mut nets, spec, batch, hint);
        if it % log_every.max(1) == 0 || it == spec.iterations {
            let stats = read_stats(it, losses)?;
            on_log(&stats);
            last = Some(stats);
        }
    }
    let last = last.ok_or_else(|| invalid("gain.iterations", 0, "must be at least 1"))?;
    let filled = fill(&nets.generator.valid(), &cells, spec, &mut rng, device);
    let table_out = table.filled(&scaling.unscale(&filled));
    Ok(Imputation {
        report: ImputeReport {
            rows: table.rows(),
            columns,
            filled_cells: table.missing(),
            spec: *spec,
            last,
            seconds: start.elapsed().as_secs_f64(),
        },
        table: table_out,
    })
}

/// Writes `table` as CSV to `path`, atomically (a temporary file renamed over it).
///
/// # Errors
/// [`TrainError::Write`] when the file cannot be written.
pub fn write_csv(table: &Table, path: &std::path::Path) -> Result<(), TrainError> {
    crate::fsio::write_atomic(path, &table.to_csv()?)
}

/// The hint: the mask with each entry kept with probability `rate`, 0 otherwise.
fn hint_for(mask: &Tensor<2>, rate: f64, rng: &mut impl Rng) -> Tensor<2> {
    let shape = mask.dims();
    let keep: Vec<f32> = (0..shape[0] * shape[1])
        .map(|_| f32::from(u8::from(rng.random::<f64>() < rate)))
        .collect();
    mask.clone() * Tensor::from_data(TensorData::new(keep, shape), &mask.device())
}

fn read_stats(iteration: u64, losses: Tensor<1>) -> Result<GainStats, TrainError> {
    let v: Vec<f32> = losses
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    if v.len() != 3 || v.iter().any(|x| !x.is_finite()) {
        return Err(TrainError::Diverged {
            iteration,
            what: format!("GAIN losses (loss_d, loss_g, mse) = {v:?}"),
            last_good: None,
        });
    }
    Ok(GainStats {
        iteration,
        loss_d: v[0],
        loss_g: v[1],
        mse: v[2],
    })
}

/// Every row through the generator: scaled values with the generator's value in each
/// missing cell and the observed value elsewhere.
fn fill(
    generator: &GainGenerator,
    cells: &Cells,
    spec: &GainSpec,
    rng: &mut impl Rng,
    device: &Device,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(cells.values.len());
    let all: Vec<usize> = (0..cells.rows()).collect();
    for rows in all.chunks(FILL_CHUNK) {
        let batch = cells.gather(rows, 0.0, spec.noise_scale, rng, device);
        let generated: Vec<f32> = generator
            .forward(batch.input, batch.shown)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let start = rows[0] * cells.columns;
        for (i, g) in generated.into_iter().enumerate() {
            let m = cells.mask[start + i];
            out.push(if m > 0.0 { cells.values[start + i] } else { g });
        }
    }
    out
}
