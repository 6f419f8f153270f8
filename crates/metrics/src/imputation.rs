//! How far imputed cells are from the values that were removed.

use crate::error::MetricsError;

/// Root mean squared error over the `removed` cells of a table after min-max scaling every
/// column by the complete table (`(x - min) / (max - min + 1e-6)`), the measure of the GAIN
/// paper (Yoon et al. 2018) and its reference code.
///
/// `complete` and `imputed` are row-major with `columns` values per row; `removed` marks the
/// cells that were hidden from the imputer.
///
/// # Errors
/// [`MetricsError::Ragged`] when the three do not describe the same table,
/// [`MetricsError::Empty`] when no cell was removed, [`MetricsError::NotFinite`] when a
/// value is NaN or infinite.
pub fn imputation_rmse(
    complete: &[f64],
    imputed: &[f64],
    removed: &[bool],
    columns: usize,
) -> Result<f64, MetricsError> {
    let len = complete.len();
    if columns == 0 || !len.is_multiple_of(columns) || imputed.len() != len || removed.len() != len
    {
        return Err(MetricsError::Ragged {
            len: imputed.len().max(removed.len()),
            dim: columns,
        });
    }
    if let Some(i) = complete
        .iter()
        .zip(imputed)
        .position(|(a, b)| !a.is_finite() || !b.is_finite())
    {
        return Err(MetricsError::NotFinite { row: i / columns });
    }
    let mut low = vec![f64::INFINITY; columns];
    let mut high = vec![f64::NEG_INFINITY; columns];
    for (i, &v) in complete.iter().enumerate() {
        low[i % columns] = low[i % columns].min(v);
        high[i % columns] = high[i % columns].max(v);
    }
    let (mut sum, mut count) = (0.0, 0usize);
    for i in (0..len).filter(|&i| removed[i]) {
        let c = i % columns;
        let scale = high[c] - low[c] + 1e-6;
        sum += ((complete[i] - imputed[i]) / scale).powi(2);
        count += 1;
    }
    if count == 0 {
        return Err(MetricsError::Empty);
    }
    Ok((sum / count as f64).sqrt())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scales_by_the_complete_columns_and_counts_removed_cells_only() {
        // column 0 spans 0..10, column 1 spans 0..1
        let complete = [0.0, 0.0, 10.0, 1.0, 5.0, 0.5];
        let imputed = [0.0, 0.0, 8.0, 1.0, 5.0, 0.0];
        let removed = [false, false, true, false, false, true];
        let rmse = imputation_rmse(&complete, &imputed, &removed, 2).unwrap();
        let e0 = 2.0 / (10.0 + 1e-6);
        let e1 = 0.5 / (1.0 + 1e-6);
        let expected: f64 = ((e0 * e0 + e1 * e1) / 2.0_f64).sqrt();
        assert!((rmse - expected).abs() < 1e-12, "{rmse} vs {expected}");
        // errors in cells that were not removed do not count
        let other = [3.0, 3.0, 8.0, 1.0, 5.0, 0.0];
        assert_eq!(
            imputation_rmse(&complete, &other, &removed, 2).unwrap(),
            rmse
        );
    }

    #[test]
    fn refuses_mismatched_or_empty_input() {
        assert!(imputation_rmse(&[1.0, 2.0], &[1.0], &[true, true], 2).is_err());
        assert_eq!(
            imputation_rmse(&[1.0, 2.0], &[1.0, 2.0], &[false, false], 2),
            Err(MetricsError::Empty)
        );
        assert!(imputation_rmse(&[1.0, f64::NAN], &[1.0, 2.0], &[true, true], 2).is_err());
    }
}
