use thiserror::Error;

/// Why a metric could not be computed from the features given.
#[derive(Debug, Error, PartialEq)]
pub enum MetricsError {
    /// No samples, or samples with no features.
    #[error("the feature set is empty")]
    Empty,
    /// The values do not split into whole rows.
    #[error("{len} values do not split into rows of {dim} features")]
    Ragged {
        /// Number of values given.
        len: usize,
        /// Features per row.
        dim: usize,
    },
    /// A feature is NaN or infinite.
    #[error("sample {row} has a feature that is NaN or infinite")]
    NotFinite {
        /// The first such sample.
        row: usize,
    },
    /// The two sets have different feature sizes.
    #[error("the feature sets have {left} and {right} features per sample")]
    DimensionMismatch {
        /// Features per sample of the first set.
        left: usize,
        /// Features per sample of the second set.
        right: usize,
    },
    /// Too few samples for the metric's statistics.
    #[error("{metric} needs at least {needed} samples per set, got {got}")]
    TooFewSamples {
        /// The metric.
        metric: &'static str,
        /// Samples it needs.
        needed: usize,
        /// Samples given.
        got: usize,
    },
    /// Class probabilities that are negative or do not sum to one.
    #[error("sample {row}'s class probabilities are negative or do not sum to 1")]
    NotProbabilities {
        /// The first such sample.
        row: usize,
    },
    /// A mode label outside the modes counted.
    #[error("sample {row} is labelled mode {label}, but there are {modes} modes")]
    NotAMode {
        /// The first such sample.
        row: usize,
        /// Its label.
        label: u32,
        /// Modes counted.
        modes: usize,
    },
    /// A linear-algebra routine did not converge (it does not, in practice, on finite
    /// covariances).
    #[error("{0}")]
    Numerical(String),
}
