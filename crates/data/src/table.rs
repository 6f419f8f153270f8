//! Tables with missing cells, read from and written to CSV.
//!
//! A [`Table`] keeps every observed cell as the text it was read as, so writing it back
//! changes only the cells that were missing. Each column is numeric (every observed cell
//! parses as a finite number) or categorical (its distinct texts, sorted, are its levels and
//! are coded `0, 1, ...`). [`Table::values`] gives the numbers a model works on, `NaN` where a
//! cell is missing; [`Table::filled`] writes numbers into the missing cells only, rounding
//! integer columns and mapping categorical codes back to their levels.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::error::DataError;

/// Cell texts read as missing (after trimming spaces).
pub const MISSING_TOKENS: [&str; 7] = ["", "NA", "N/A", "NaN", "nan", "null", "?"];

/// What a column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnKind {
    /// Numbers. `integer`: every observed value is a whole number, so filled values are
    /// rounded to whole numbers too.
    Numeric {
        /// Every observed value is a whole number.
        integer: bool,
    },
    /// Text categories, coded by their index in `levels` (sorted).
    Categorical {
        /// The distinct observed texts, sorted.
        levels: Vec<String>,
    },
}

/// A rectangular table: a header and, per cell, its text or nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    header: Vec<String>,
    kinds: Vec<ColumnKind>,
    rows: usize,
    /// Row-major cells; `None` is missing.
    cells: Vec<Option<String>>,
}

fn is_missing(text: &str) -> bool {
    MISSING_TOKENS.contains(&text.trim())
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

impl Table {
    /// Reads a CSV file with a header row.
    ///
    /// # Errors
    /// [`DataError::Io`] when the file cannot be read; [`DataError::Corrupt`] (naming the
    /// file and the line) for a missing header, rows of the wrong length, no data rows, or a
    /// column without a single observed cell.
    pub fn read_csv(path: &Path) -> Result<Self, DataError> {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        Self::from_reader(file, path)
    }

    /// Reads CSV text from `reader`; `path` names the source in errors.
    ///
    /// # Errors
    /// As [`Table::read_csv`].
    pub fn from_reader(reader: impl Read, path: &Path) -> Result<Self, DataError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(reader);
        let header: Vec<String> = csv
            .headers()
            .map_err(|e| csv_error(path, &e))?
            .iter()
            .map(str::to_string)
            .collect();
        if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
            return Err(DataError::corrupt(path, "no header row"));
        }
        let mut cells = Vec::new();
        let mut rows = 0;
        for record in csv.records() {
            let record = record.map_err(|e| csv_error(path, &e))?;
            cells.extend(record.iter().map(|text| {
                if is_missing(text) {
                    None
                } else {
                    Some(text.to_string())
                }
            }));
            rows += 1;
        }
        if rows == 0 {
            return Err(DataError::corrupt(path, "no data rows after the header"));
        }
        let kinds = (0..header.len())
            .map(|c| column_kind(&cells, header.len(), c))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                let empty = (0..header.len())
                    .find(|&c| column_kind(&cells, header.len(), c).is_none())
                    .unwrap_or(0);
                DataError::corrupt(
                    path,
                    format!(
                        "column {} (`{}`) has no observed cell: nothing to learn it from",
                        empty + 1,
                        header[empty]
                    ),
                )
            })?;
        Ok(Self {
            header,
            kinds,
            rows,
            cells,
        })
    }

    /// The header, as read.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The kind of each column.
    pub fn kinds(&self) -> &[ColumnKind] {
        &self.kinds
    }

    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn columns(&self) -> usize {
        self.header.len()
    }

    /// Whether the cell at `row`, `column` is missing.
    pub fn is_missing(&self, row: usize, column: usize) -> bool {
        self.cells[row * self.columns() + column].is_none()
    }

    /// Number of missing cells.
    pub fn missing(&self) -> usize {
        self.cells.iter().filter(|c| c.is_none()).count()
    }

    /// The cells as numbers, row-major: numeric cells parsed, categorical ones as the index
    /// of their level, missing ones `NaN`.
    pub fn values(&self) -> Vec<f64> {
        let columns = self.columns();
        self.cells
            .iter()
            .enumerate()
            .map(|(i, cell)| match (cell, &self.kinds[i % columns]) {
                (None, _) => f64::NAN,
                (Some(text), ColumnKind::Numeric { .. }) => parse_number(text).unwrap_or(f64::NAN),
                (Some(text), ColumnKind::Categorical { levels }) => levels
                    .binary_search(text)
                    .map(|i| i as f64)
                    .unwrap_or(f64::NAN),
            })
            .collect()
    }

    /// This table with its missing cells written from `values` (row-major, one per cell;
    /// the values of observed cells are ignored): integer columns rounded, categorical
    /// codes rounded and clamped to a level. Observed cells keep their text.
    ///
    /// # Panics
    /// If `values` does not hold one number per cell.
    pub fn filled(&self, values: &[f64]) -> Table {
        assert_eq!(values.len(), self.cells.len(), "one value per cell");
        let columns = self.columns();
        let cells = self
            .cells
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (cell, &value))| match cell {
                Some(text) => Some(text.clone()),
                None => Some(cell_text(&self.kinds[i % columns], value)),
            })
            .collect();
        Table {
            cells,
            ..self.clone()
        }
    }

    /// This table with `fraction` of its observed cells removed completely at random (each
    /// cell independently, from `seed`), and the mask of the removed cells (row-major).
    /// Column kinds stay those of the full table, so codes mean the same in both.
    pub fn remove_at_random(&self, fraction: f64, seed: u64) -> (Table, Vec<bool>) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let removed: Vec<bool> = self
            .cells
            .iter()
            .map(|cell| {
                let draw = rng.random::<f64>() < fraction;
                cell.is_some() && draw
            })
            .collect();
        let cells = self
            .cells
            .iter()
            .zip(&removed)
            .map(|(cell, &gone)| if gone { None } else { cell.clone() })
            .collect();
        (
            Table {
                cells,
                ..self.clone()
            },
            removed,
        )
    }

    /// The table as CSV text (the header as read; missing cells empty).
    ///
    /// # Errors
    /// [`DataError::Invalid`] if the CSV writer fails (it writes to memory, so only on a
    /// defect of its own).
    pub fn to_csv(&self) -> Result<Vec<u8>, DataError> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        let failed = |e: csv::Error| DataError::Invalid(format!("cannot write CSV: {e}"));
        csv.write_record(&self.header).map_err(failed)?;
        for row in self.cells.chunks(self.columns()) {
            csv.write_record(row.iter().map(|c| c.as_deref().unwrap_or("")))
                .map_err(failed)?;
        }
        csv.into_inner()
            .map_err(|e| DataError::Invalid(format!("cannot write CSV: {e}")))
    }
}

/// CSV text of a small table whose columns depend on each other, for tests and examples:
/// `x` uniform in `[0, 10)`, `y = 2x + noise`, `steps = round(x)` (integer), `side` (`low`
/// or `high`, categorical, by `x < 5`) and `w = 10 - x + noise`, with `missing` of its
/// cells (each independently, never a whole column) written as `NA`. Seeded.
pub fn table_fixture(rows: usize, missing: f64, seed: u64) -> String {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut text = String::from("x,y,steps,side,w\n");
    for _ in 0..rows {
        let x = rng.random::<f64>() * 10.0;
        let noise = |rng: &mut Pcg64Mcg| (rng.random::<f64>() - 0.5) * 0.5;
        let cells = [
            format!("{x:.3}"),
            format!("{:.3}", 2.0 * x + noise(&mut rng)),
            format!("{}", x.round()),
            (if x < 5.0 { "low" } else { "high" }).to_string(),
            format!("{:.3}", 10.0 - x + noise(&mut rng)),
        ];
        let row: Vec<String> = cells
            .into_iter()
            .map(|c| {
                if rng.random::<f64>() < missing {
                    "NA".into()
                } else {
                    c
                }
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

/// The kind of column `c`, or `None` when it has no observed cell.
fn column_kind(cells: &[Option<String>], columns: usize, c: usize) -> Option<ColumnKind> {
    let observed: Vec<&str> = cells[c..]
        .iter()
        .step_by(columns)
        .filter_map(|cell| cell.as_deref())
        .collect();
    if observed.is_empty() {
        return None;
    }
    let numbers: Option<Vec<f64>> = observed.iter().map(|t| parse_number(t)).collect();
    Some(match numbers {
        Some(numbers) => ColumnKind::Numeric {
            integer: numbers.iter().all(|v| v.fract() == 0.0),
        },
        None => ColumnKind::Categorical {
            levels: observed
                .iter()
                .map(|t| t.to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        },
    })
}

/// The text written into a missing cell of a column of `kind` for `value`.
fn cell_text(kind: &ColumnKind, value: f64) -> String {
    match kind {
        ColumnKind::Numeric { integer: true } => format!("{}", value.round()),
        ColumnKind::Numeric { integer: false } => format!("{}", value as f32),
        ColumnKind::Categorical { levels } => {
            let last = levels.len().saturating_sub(1);
            let code = if value.is_finite() {
                (value.round().max(0.0) as usize).min(last)
            } else {
                0
            };
            levels[code].clone()
        }
    }
}

fn csv_error(path: &Path, error: &csv::Error) -> DataError {
    let line = error
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    let reason = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{line}a row has {len} cells where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => format!("{line}not UTF-8 text"),
        _ => format!("{line}{error}"),
    };
    DataError::corrupt(path, format!("not a readable CSV table: {reason}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn table(text: &str) -> Result<Table, DataError> {
        Table::from_reader(text.as_bytes(), Path::new("t.csv"))
    }

    #[test]
    fn reads_kinds_and_missing_cells() {
        let t = table("a,b,c\n1,x,0.5\nNA,y,\n3,,1.5\n").unwrap();
        assert_eq!(t.rows(), 3);
        assert_eq!(t.missing(), 3);
        assert_eq!(t.kinds()[0], ColumnKind::Numeric { integer: true });
        assert_eq!(
            t.kinds()[1],
            ColumnKind::Categorical {
                levels: vec!["x".into(), "y".into()]
            }
        );
        assert_eq!(t.kinds()[2], ColumnKind::Numeric { integer: false });
        let v = t.values();
        assert_eq!(&v[..3], &[1.0, 0.0, 0.5]);
        assert!(v[3].is_nan() && v[5].is_nan() && v[7].is_nan());
        assert_eq!(v[4], 1.0);
    }

    #[test]
    fn filling_keeps_observed_text_and_restores_kinds() {
        let t = table("a,b,c\n1.0,x,0.50\nNA,y,\n3,,1.5\n").unwrap();
        let filled = t.filled(&[9.0, 9.0, 9.0, 2.4, 9.0, 0.25, 9.0, 7.0, 9.0]);
        assert_eq!(filled.missing(), 0);
        let mut out = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                out.push(filled.cells[r * 3 + c].clone().unwrap());
            }
        }
        assert_eq!(out, ["1.0", "x", "0.50", "2", "y", "0.25", "3", "y", "1.5"]);
    }

    #[test]
    fn removal_is_seeded_and_only_of_observed_cells() {
        let t = table("a,b\n1,2\n3,\n5,6\n7,8\n").unwrap();
        let (a, mask_a) = t.remove_at_random(0.5, 7);
        let (b, mask_b) = t.remove_at_random(0.5, 7);
        assert_eq!(a, b);
        assert_eq!(mask_a, mask_b);
        assert!(!mask_a[3], "a cell already missing is not removed again");
        assert_eq!(a.missing(), 1 + mask_a.iter().filter(|&&m| m).count());
    }

    #[test]
    fn csv_round_trip_keeps_text_and_header() {
        let text = "a,b ,c\n1.50,\"x, y\",\n,z,3\n";
        let t = table(text).unwrap();
        let out = String::from_utf8(t.to_csv().unwrap()).unwrap();
        assert_eq!(out, text);
        assert_eq!(table(&out).unwrap(), t);
    }

    #[test]
    fn bad_tables_are_named_errors() {
        let ragged = table("a,b\n1,2\n3\n").unwrap_err().to_string();
        assert!(
            ragged.contains("line 3") && ragged.contains("1 cells"),
            "{ragged}"
        );
        let empty = table("a,b\n").unwrap_err().to_string();
        assert!(empty.contains("no data rows"), "{empty}");
        let hollow = table("a,b\n1,NA\n2,\n").unwrap_err().to_string();
        assert!(hollow.contains("column 2 (`b`)"), "{hollow}");
        let nothing = table("").unwrap_err().to_string();
        assert!(nothing.contains("no header"), "{nothing}");
    }
}
