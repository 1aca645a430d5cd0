#![allow(dead_code)]
//! Test helpers: tiny CSV readers for the files in `testdata/` and `tests/data/`.

use clv_models::{SpendSummary, TimeUnit, TransactionSummary};

/// Rows of a CSV file with a header line and numeric columns.
pub fn read_csv_at(path: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .skip(1)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f64>().unwrap_or_else(|e| panic!("{path}: `{v}`: {e}")))
                .collect()
        })
        .collect()
}

/// A file of the repository's `testdata/`.
pub fn testdata(name: &str) -> Vec<Vec<f64>> {
    read_csv_at(&format!("{}/../../testdata/{}", env!("CARGO_MANIFEST_DIR"), name))
}

/// A file of this crate's `tests/data/` (reference values written by the scripts beside them).
pub fn reference(name: &str) -> Vec<Vec<f64>> {
    read_csv_at(&format!("{}/tests/data/{}", env!("CARGO_MANIFEST_DIR"), name))
}

/// `cdnow_sample_summary.csv`: ids and the summary (weeks).
pub fn cdnow() -> (Vec<u64>, TransactionSummary) {
    let rows = testdata("cdnow_sample_summary.csv");
    let s = TransactionSummary::new(
        rows.iter().map(|r| r[1]).collect(),
        rows.iter().map(|r| r[2]).collect(),
        rows.iter().map(|r| r[3]).collect(),
        TimeUnit::Week,
    )
    .unwrap();
    (rows.iter().map(|r| r[0] as u64).collect(), s)
}

/// `cdnow_sample_summary_with_spend.csv`: rows (ID, x, t_x, T, zbar) and the spend summary.
pub fn cdnow_spend() -> (Vec<Vec<f64>>, SpendSummary) {
    let rows = testdata("cdnow_sample_summary_with_spend.csv");
    let s = SpendSummary::new(rows.iter().map(|r| r[1]).collect(), rows.iter().map(|r| r[4]).collect()).unwrap();
    (rows, s)
}

/// `|a − b| ≤ tol·|b|`.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs()
}
