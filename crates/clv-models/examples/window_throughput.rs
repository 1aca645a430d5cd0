//! Throughput of the batch window kernels, P(no purchase in the next τ) for many customers
//! (`WindowForecast::prob_no_purchase_many` for BG/NBD, MBG/NBD and Pareto/NBD,
//! `FittedBgBb::prob_no_transaction_many` for BG/BB), next to BG/NBD P(alive) on the same rows.
//!
//! `cargo run --release -p clv-models --example window_throughput -- [customers] [runs]`
//! (default 10,000,000 customers, 7 runs; prints the median). The customers are simulated
//! from BG/NBD with CDNOW-like parameters on a daily grid (times in weeks, T uniform on
//! 0..78 weeks), as a summary built from dates would be; the window is 90 days. The BG/BB
//! customers are simulated from BG/BB (FHS 2010's parameters) over 1..=52 weekly
//! opportunities; its window is 13 opportunities.
#![allow(clippy::print_stdout, non_snake_case)]

use std::time::Instant;

use clv_models::simulate::{BgNbdSimulator, Observation};
use clv_models::{
    BgBbParams, BgNbdParams, FittedBgBb, FittedBgNbd, FittedMbgNbd, MbgNbdParams, ParetoNbdParams, TimeUnit,
    TransactionModel, WindowForecast,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds (user + system) used by this process so far, from `/proc/self/stat` (Linux;
/// clock ticks of 1/100 s); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Median wall-clock seconds of `runs` calls, the median CPU seconds (all threads) and the
/// last call's value. On a machine shared with other work the CPU time is the fairer figure:
/// it counts the time this process ran, not the time it waited for a core.
fn time_it(runs: usize, mut f: impl FnMut() -> f64) -> (f64, f64, f64) {
    let (mut secs, mut cpu) = (vec![], vec![]);
    let mut check = 0.0;
    for _ in 0..runs {
        let (start, cpu0) = (Instant::now(), cpu_seconds());
        check = f();
        secs.push(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu0, cpu_seconds()) {
            cpu.push(b - a);
        }
    }
    let cpu = if cpu.is_empty() { f64::NAN } else { median(cpu) };
    (median(secs), cpu, check)
}

/// `label: wall s, M/s; CPU s, M/s per core-pair` (the CPU figure as if the process had its
/// cores to itself: customers / (CPU seconds / cores)).
fn show(label: &str, n: usize, (wall, cpu, _): (f64, f64, f64)) {
    let cores = clv_models::cores() as f64;
    println!(
        "{label}: {wall:.3} s wall, {:.1} M customers/s; {cpu:.2} CPU s, {:.1} M customers/s on {cores} cores of CPU time",
        n as f64 / wall / 1e6,
        n as f64 / (cpu / cores) / 1e6
    );
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
    let none = time_it(runs, || {
        model.prob_no_purchase_many(&tau, x, t_x, T).unwrap().iter().sum()
    });
    show("BG/NBD P(no purchase in 90 days)", n, none);
    println!("  (mean P(none) {:.4})", none.2 / n as f64);
    let alive = time_it(runs, || model.p_alive_many(x, t_x, T).unwrap().iter().sum());
    show("BG/NBD P(alive)", n, alive);
    let mbg = FittedMbgNbd::from_params(
        MbgNbdParams {
            r: 0.5248,
            alpha: 6.1830,
            a: 0.8914,
            b: 1.6140,
        },
        TimeUnit::Week,
    )
    .unwrap();
    let timing = time_it(runs, || {
        mbg.prob_no_purchase_many(&tau, x, t_x, T).unwrap().iter().sum()
    });
    show("MBG/NBD P(no purchase in 90 days)", n, timing);
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
    let timing = time_it(runs, || {
        pareto.prob_no_purchase_many(&tau, x, t_x, T).unwrap().iter().sum()
    });
    show("Pareto/NBD P(no purchase in 90 days)", n, timing);
    println!("  (mean P(none) {:.4})", timing.2 / n as f64);
    let bgbb_params = BgBbParams {
        alpha: 1.204,
        beta: 0.750,
        gamma: 0.657,
        delta: 2.783,
    };
    let (bx, btx, bn) = simulate_bgbb(bgbb_params, n, 52, 7);
    let bgbb = FittedBgBb::from_params(bgbb_params, None).unwrap();
    let window = vec![13.0; n];
    let timing = time_it(runs, || {
        bgbb.prob_no_transaction_many(&window, &bx, &btx, &bn)
            .unwrap()
            .iter()
            .sum()
    });
    show("BG/BB P(no transaction in 13 periods)", n, timing);
    println!("  (mean P(none) {:.4})", timing.2 / n as f64);
}

/// `n` BG/BB customers `(x, t_x, n)` observed for 1..=`max_periods` opportunities: p ~ Beta(α,
/// β), θ ~ Beta(γ, δ); an alive customer dies at the start of each opportunity with
/// probability θ and else transacts with probability p (FHS 2010, section 2).
fn simulate_bgbb(p: BgBbParams, n: usize, max_periods: u32, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (buy, die) = (
        Beta::new(p.alpha, p.beta).unwrap(),
        Beta::new(p.gamma, p.delta).unwrap(),
    );
    let (mut xs, mut txs, mut ns) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let periods = rng.gen_range(1..=max_periods);
        let (pb, pd) = (buy.sample(&mut rng), die.sample(&mut rng));
        let (mut x, mut t_x) = (0u32, 0u32);
        for k in 1..=periods {
            if rng.gen_bool(pd) {
                break;
            }
            if rng.gen_bool(pb) {
                x += 1;
                t_x = k;
            }
        }
        xs.push(f64::from(x));
        txs.push(f64::from(t_x));
        ns.push(f64::from(periods));
    }
    (xs, txs, ns)
}
