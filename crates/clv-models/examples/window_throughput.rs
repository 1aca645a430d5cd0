//! Throughput of the batch window kernel, P(no purchase in the next τ) for many customers
//! (`WindowForecast::prob_no_purchase_many`), next to P(alive) on the same rows.
//!
//! `cargo run --release -p clv-models --example window_throughput -- [customers] [runs]`
//! (default 10,000,000 customers, 7 runs; prints the median). The customers are simulated
//! from BG/NBD with CDNOW-like parameters on a daily grid (times in weeks, T uniform on
//! 0..78 weeks), as a summary built from dates would be; the window is 90 days.
#![allow(clippy::print_stdout, non_snake_case)]

use std::time::Instant;

use clv_models::simulate::{BgNbdSimulator, Observation};
use clv_models::{BgNbdParams, FittedBgNbd, ParetoNbdParams, TimeUnit, TransactionModel, WindowForecast};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_it(runs: usize, mut f: impl FnMut() -> f64) -> (f64, f64) {
    let mut secs = vec![];
    let mut check = 0.0;
    for _ in 0..runs {
        let start = Instant::now();
        check = f();
        secs.push(start.elapsed().as_secs_f64());
    }
    (median(secs), check)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let params = BgNbdParams {
        r: 0.2426,
        alpha: 4.4136,
        a: 0.7929,
        b: 2.4259,
    };
    let data = BgNbdSimulator::new(params, Observation::Uniform { min: 0.0, max: 78.0 }, TimeUnit::Week)
        .unwrap()
        .resolution(1.0 / 7.0)
        .simulate(n, 42)
        .unwrap();
    let (x, t_x, T) = (data.frequency(), data.recency(), data.t());
    let tau = vec![90.0 / 7.0; n];
    let model = FittedBgNbd::from_params(params, TimeUnit::Week).unwrap();
    println!("{n} customers, {} cores, median of {runs} runs", clv_models::cores());
    let (s, sum) = time_it(runs, || {
        model.prob_no_purchase_many(&tau, x, t_x, T).unwrap().iter().sum()
    });
    println!(
        "BG/NBD P(no purchase in 90 days): {:.3} s, {:.1} M customers/s (mean {:.4})",
        s,
        n as f64 / s / 1e6,
        sum / n as f64
    );
    let (s, _) = time_it(runs, || model.p_alive_many(x, t_x, T).unwrap().iter().sum());
    println!("BG/NBD P(alive): {:.3} s, {:.1} M customers/s", s, n as f64 / s / 1e6);
    let pareto = clv_models::FittedParetoNbd::from_params(
        ParetoNbdParams {
            r: 0.5533,
            alpha: 10.5776,
            s: 0.6062,
            beta: 11.6679,
        },
        TimeUnit::Week,
    )
    .unwrap();
    let m = n.min(1_000_000);
    let (s, _) = time_it(runs.min(3), || {
        pareto
            .prob_no_purchase_many(&tau[..m], &x[..m], &t_x[..m], &T[..m])
            .unwrap()
            .iter()
            .sum()
    });
    println!(
        "Pareto/NBD P(no purchase in 90 days), {m} customers: {:.3} s, {:.1} M customers/s",
        s,
        m as f64 / s / 1e6
    );
}
