//! Times `KMeans::fit` on a file of per-customer RFM columns (driven by `kmeans_speed.py`,
//! which also times scikit-learn on the same data in the same run).
//!
//! `cargo run --release -p clv-models --example kmeans_speed -- FILE CUSTOMERS K RUNS`
//! FILE holds three little-endian f64 columns one after the other: recency_days, frequency,
//! monetary. Prints one JSON line per variant: median and every run's wall time (after one
//! warm-up run), inertia, iterations.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clv_models::kmeans::{FeatureMatrix, KMeans};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, n, k, runs] = args.as_slice() else {
        return Err("usage: kmeans_speed FILE CUSTOMERS K RUNS".into());
    };
    let (n, k, runs): (usize, usize, usize) = (n.parse()?, k.parse()?, runs.parse()?);
    let bytes = std::fs::read(path)?;
    if bytes.len() != n * 3 * 8 {
        return Err(format!("{path}: {} bytes, expected {n} x 3 f64", bytes.len()).into());
    }
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let (r, rest) = values.split_at(n);
    let (f, m) = rest.split_at(n);
    let t = Instant::now();
    let x = FeatureMatrix::rfm(r, f, m)?;
    let transform = t.elapsed().as_secs_f64();
    for (name, builder) in [
        ("clv KMeans (n_init=10, default)", KMeans::new(k)),
        ("clv KMeans (n_init=1)", KMeans::new(k).n_init(1)),
    ] {
        let mut times = Vec::new();
        let mut model = builder.fit(&x)?; // warm-up
        for _ in 0..runs {
            let t = Instant::now();
            model = builder.fit(&x)?;
            times.push(t.elapsed().as_secs_f64());
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let report = model.report().ok_or("no report")?;
        println!(
            "{{\"name\":\"{name}\",\"median_s\":{},\"times_s\":{times:?},\"inertia\":{},\"iterations\":{},\"feature_transform_s\":{transform},\"start_iterations\":{:?}}}",
            sorted[sorted.len() / 2],
            report.inertia,
            report.iterations,
            report.starts.iter().map(|s| s.iterations).collect::<Vec<_>>(),
        );
    }
    Ok(())
}
