#![allow(dead_code)]
//! Test helpers: tiny CSV readers for the files in `testdata/`.

use clv_core::ltv::{DiscreteSummary, SpendSummary, TimeUnit, TransactionSummary};

pub fn read_csv(name: &str) -> Vec<Vec<f64>> {
    let path = format!("{}/../../testdata/{}", env!("CARGO_MANIFEST_DIR"), name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .skip(1)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap()).collect())
        .collect()
}

/// `cdnow_sample_summary.csv`: ID, x, t_x, T (weeks).
pub fn cdnow() -> TransactionSummary {
    let rows = read_csv("cdnow_sample_summary.csv");
    TransactionSummary::new(
        rows.iter().map(|r| r[1]).collect(),
        rows.iter().map(|r| r[2]).collect(),
        rows.iter().map(|r| r[3]).collect(),
        TimeUnit::Week,
    )
    .unwrap()
}

/// `cdnow_sample_summary_with_spend.csv`: ID, x, t_x, T, zbar.
pub fn cdnow_spend() -> (Vec<Vec<f64>>, SpendSummary) {
    let rows = read_csv("cdnow_sample_summary_with_spend.csv");
    let s = SpendSummary::new(rows.iter().map(|r| r[1]).collect(), rows.iter().map(|r| r[4]).collect()).unwrap();
    (rows, s)
}

/// `donations_bgbb.csv`: frequency, recency, periods, weights.
pub fn donations() -> DiscreteSummary {
    let rows = read_csv("donations_bgbb.csv");
    DiscreteSummary::new(
        rows.iter().map(|r| r[0]).collect(),
        rows.iter().map(|r| r[1]).collect(),
        rows.iter().map(|r| r[2]).collect(),
    )
    .unwrap()
    .with_weights(rows.iter().map(|r| r[3]).collect())
    .unwrap()
}

/// `sbg_retention_cohorts.csv`: year, regular %, high-end %.
pub fn retention() -> Vec<Vec<f64>> {
    read_csv("sbg_retention_cohorts.csv")
}

/// Relative agreement to `digits` significant digits.
pub fn sig(a: f64, b: f64, digits: i32) -> bool {
    (a - b).abs() <= 0.5 * 10f64.powi(-(digits - 1)) * b.abs().max(1e-300) * 1.0000001
}
