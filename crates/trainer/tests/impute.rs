//! GAIN imputation through the library: it learns how columns depend on each other, it is
//! deterministic, it leaves observed cells alone, and it refuses impossible settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use burn::prelude::*;
use ganforge_data::{ColumnKind, Table, table_fixture};
use ganforge_metrics::imputation_rmse;
use ganforge_trainer::TrainError;
use ganforge_trainer::impute::{GainSpec, GainStats, impute};

fn fixture(rows: usize, missing: f64) -> Table {
    let text = table_fixture(rows, missing, 3);
    Table::from_reader(text.as_bytes(), Path::new("fixture.csv")).unwrap()
}

fn quick(iterations: u64) -> GainSpec {
    GainSpec {
        iterations,
        batch_size: 64,
        ..GainSpec::default()
    }
}

/// Mean imputation's values: every missing cell of a column takes the mean of its observed
/// cells (integer and categorical columns rounded as the table rounds them).
fn column_means(table: &Table) -> Table {
    let values = table.values();
    let d = table.columns();
    let means: Vec<f64> = (0..d)
        .map(|c| {
            let observed: Vec<f64> = values[c..]
                .iter()
                .step_by(d)
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            observed.iter().sum::<f64>() / observed.len() as f64
        })
        .collect();
    let filled: Vec<f64> = (0..values.len()).map(|i| means[i % d]).collect();
    table.filled(&filled)
}

#[test]
fn gain_beats_column_means_on_dependent_columns() {
    let complete = fixture(400, 0.0);
    let (holed, removed) = complete.remove_at_random(0.2, 11);
    let device = Device::flex();
    let mut logged = Vec::new();
    let out = impute(&holed, &quick(1500), &device, 500, &mut |s: &GainStats| {
        logged.push(*s)
    })
    .unwrap();
    assert_eq!(
        logged.iter().map(|s| s.iteration).collect::<Vec<_>>(),
        [500, 1000, 1500]
    );
    assert_eq!(out.table.missing(), 0);
    assert_eq!(out.report.filled_cells, holed.missing());
    let truth = complete.values();
    let score = |t: &Table| imputation_rmse(&truth, &t.values(), &removed, 5).unwrap();
    let gain = score(&out.table);
    let means = score(&column_means(&holed));
    eprintln!("fixture RMSE: GAIN {gain:.4}, column means {means:.4}");
    assert!(gain < 0.6 * means, "GAIN {gain} vs column means {means}");

    // observed cells come back as they were read, filled ones take their column's kind
    let holed_csv = String::from_utf8(holed.to_csv().unwrap()).unwrap();
    let out_csv = String::from_utf8(out.table.to_csv().unwrap()).unwrap();
    for (a, b) in holed_csv.lines().zip(out_csv.lines()) {
        for (x, y) in a.split(',').zip(b.split(',')) {
            assert!(x.is_empty() || x == y, "observed {x} became {y}");
        }
        let cells: Vec<&str> = b.split(',').collect();
        if cells[0] != "x" {
            assert!(cells[2].parse::<i64>().is_ok(), "steps {}", cells[2]);
            assert!(["low", "high"].contains(&cells[3]), "side {}", cells[3]);
        }
    }
    assert_eq!(out.table.kinds()[2], ColumnKind::Numeric { integer: true });

    // holding observed cells out of the generator's view: it must predict them, not copy them
    let spec = GainSpec {
        holdout: 0.5,
        ..quick(1500)
    };
    let held = impute(&holed, &spec, &device, 1500, &mut |_| {}).unwrap();
    let held = score(&held.table);
    eprintln!("fixture RMSE with holdout 0.5: {held:.4}");
    assert!(held < gain, "holdout {held} vs reference {gain}");
}

#[test]
fn same_seed_same_table_other_seed_other_table() {
    let table = fixture(120, 0.2);
    let device = Device::flex();
    let run = |seed| {
        let spec = GainSpec { seed, ..quick(30) };
        let out = impute(&table, &spec, &device, 1000, &mut |_| {}).unwrap();
        out.table.to_csv().unwrap()
    };
    let first = run(5);
    assert_eq!(first, run(5));
    assert_ne!(first, run(6));
}

#[test]
fn impossible_settings_are_named() {
    let table = fixture(20, 0.2);
    let device = Device::flex();
    for (spec, key) in [
        (
            GainSpec {
                batch_size: 0,
                ..quick(5)
            },
            "gain.batch_size",
        ),
        (
            GainSpec {
                hint_rate: 1.5,
                ..quick(5)
            },
            "gain.hint_rate",
        ),
        (
            GainSpec {
                hidden: Some(0),
                ..quick(5)
            },
            "gain.hidden",
        ),
        (quick(0), "gain.iterations"),
    ] {
        match impute(&table, &spec, &device, 1, &mut |_| {}) {
            Err(TrainError::Invalid { key: k, .. }) => assert_eq!(k, key),
            Err(e) => panic!("{key}: {e}"),
            Ok(_) => panic!("{key} accepted"),
        }
    }
}
