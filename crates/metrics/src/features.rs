use crate::MetricsError;

/// A set of feature vectors, one row per sample, stored row-major in f64.
///
/// # Shapes
/// - `values`: `[rows * dim]`, row `i` at `values[i * dim..(i + 1) * dim]`
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    values: Vec<f64>,
    dim: usize,
}

impl Features {
    /// Wraps `values` as rows of `dim` features. Fails on an empty set, a length that is not a
    /// multiple of `dim`, or a value that is NaN or infinite.
    pub fn new(values: Vec<f64>, dim: usize) -> Result<Self, MetricsError> {
        if dim == 0 || values.is_empty() {
            return Err(MetricsError::Empty);
        }
        if !values.len().is_multiple_of(dim) {
            return Err(MetricsError::Ragged {
                len: values.len(),
                dim,
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MetricsError::NotFinite { row: i / dim });
        }
        Ok(Self { values, dim })
    }

    /// Like [`Features::new`] from single-precision values, as networks produce them.
    pub fn from_f32(values: &[f32], dim: usize) -> Result<Self, MetricsError> {
        Self::new(values.iter().map(|&v| f64::from(v)).collect(), dim)
    }

    /// Features per sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of samples.
    pub fn rows(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Sample `i`'s features.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// All samples' features, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }

    /// The samples at `indices`, in that order.
    pub(crate) fn select(&self, indices: &[usize]) -> Self {
        let mut values = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Self {
            values,
            dim: self.dim,
        }
    }
}

/// Checks that two feature sets can be compared.
pub(crate) fn same_dim(a: &Features, b: &Features) -> Result<(), MetricsError> {
    if a.dim() == b.dim() {
        Ok(())
    } else {
        Err(MetricsError::DimensionMismatch {
            left: a.dim(),
            right: b.dim(),
        })
    }
}

/// Checks that a set has at least `needed` samples for `metric`.
pub(crate) fn at_least(
    features: &Features,
    needed: usize,
    metric: &'static str,
) -> Result<(), MetricsError> {
    if features.rows() >= needed {
        Ok(())
    } else {
        Err(MetricsError::TooFewSamples {
            metric,
            needed,
            got: features.rows(),
        })
    }
}
