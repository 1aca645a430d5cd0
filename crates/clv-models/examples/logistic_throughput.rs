//! Fit and scoring time of the logistic churn model on generated rows.
//!
//! `cargo run --release -p clv-models --example logistic_throughput -- [rows] [features] [runs]`
//! (default 1,000,000 rows, 15 features, 3 runs; prints the medians). Features are
//! pseudo-random (xorshift, fixed seed) on different scales; labels are drawn from a logistic
//! model of them, so the fit has an optimum.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clv_models::LogisticRegression;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let d: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(15);
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let columns: Vec<Vec<f64>> = (0..d)
        .map(|j| (0..n).map(|_| uniform() * (1.0 + j as f64 * 10.0)).collect())
        .collect();
    let labels: Vec<bool> = (0..n)
        .map(|i| {
            let eta: f64 = 0.5
                + (0..d)
                    .map(|j| (columns[j][i] / (1.0 + j as f64 * 10.0) - 0.5) * if j % 2 == 0 { 1.0 } else { -0.7 })
                    .sum::<f64>();
            uniform() < 1.0 / (1.0 + (-eta).exp())
        })
        .collect();
    let names: Vec<String> = (0..d).map(|j| format!("f{j}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let cols: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let (mut fit_s, mut score_s) = (vec![], vec![]);
    let mut iterations = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let model = LogisticRegression::new().fit(&names, &cols, &labels, None).unwrap();
        fit_s.push(start.elapsed().as_secs_f64());
        iterations = model.fit_report().unwrap().iterations;
        let start = Instant::now();
        let p = model.predict_many(&cols).unwrap();
        score_s.push(start.elapsed().as_secs_f64());
        assert_eq!(p.len(), n);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (f, s) = (median(fit_s), median(score_s));
    println!(
        "{n} rows x {d} features, {} cores: fit {f:.3} s ({iterations} Newton iterations, {:.2} M rows/s), score {s:.3} s ({:.1} M rows/s)",
        clv_models::cores(),
        n as f64 / f / 1e6,
        n as f64 / s / 1e6
    );
}
