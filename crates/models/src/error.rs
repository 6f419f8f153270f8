/// Why a model could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A size is zero or otherwise out of range.
    #[error("invalid {field} = {value}: {reason}")]
    InvalidSize {
        /// The configuration field, e.g. `image_size`.
        field: &'static str,
        /// The value given.
        value: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An option the architecture cannot take.
    #[error("{option} is not available for this architecture: {reason}")]
    Unsupported {
        /// The option, e.g. `spectral_norm_g`.
        option: &'static str,
        /// Why.
        reason: String,
    },
}

pub(crate) fn positive(field: &'static str, value: usize) -> Result<(), ModelError> {
    if value == 0 {
        return Err(ModelError::InvalidSize {
            field,
            value,
            reason: "must be at least 1".into(),
        });
    }
    Ok(())
}
