//! Coverage of the bootstrap and delta-method intervals on data simulated from known BG/NBD
//! parameters (the benchmark-style check of issue 21; `tests/bootstrap.rs` keeps a small, fast
//! version).
//!
//! For each of `datasets` seeds: simulate `customers` customers from BG/NBD with the CDNOW
//! parameters (r, α, a, b) = (0.243, 4.414, 0.793, 2.426), observation periods T uniform on
//! [26, 78] weeks, continuous times; fit; bootstrap with `replicates` replicates; and record
//! whether each nominal `level` interval covers the true value: the four parameters (bootstrap
//! `log_normal` — the default —, percentile, bias-corrected percentile and BCa, basic on the
//! natural and the log scale; observed-information delta method on the natural and on the log
//! scale), and the population's expected repeat transactions over the next 52 weeks under the
//! true parameters (the bootstrap's log_normal, percentile and bias-corrected intervals).
//!
//! `cargo run --release -p clv-models --example bootstrap_coverage -- [datasets] [customers] [replicates] [level]`
//! (defaults 200 5000 200 0.95).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clv_models::bootstrap::{
    Bootstrap, CustomerKeys, DeltaScale, IntervalMethod, ModelParameters, delta_method_intervals,
};
use clv_models::simulate::{BgNbdSimulator, Observation};
use clv_models::{BgNbd, BgNbdParams, FittedBgNbd, TimeUnit, TransactionModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: f64| args.get(i).map_or(d, |a| a.parse().expect("a number"));
    let datasets = arg(0, 200.0) as usize;
    let customers = arg(1, 5000.0) as usize;
    let replicates = arg(2, 200.0) as usize;
    let level = arg(3, 0.95);
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let truth_v = [truth.r, truth.alpha, truth.a, truth.b];
    let true_model = FittedBgNbd::from_params(truth, TimeUnit::Week)?;
    let sim = BgNbdSimulator::new(truth, Observation::Uniform { min: 26.0, max: 78.0 }, TimeUnit::Week)?;
    let ids: Vec<u64> = (0..customers as u64).collect();
    let keys = CustomerKeys::from_u64(&ids);
    // covered[method][parameter], methods in the order of `names` below.
    let mut covered = [[0usize; 4]; 8];
    let mut all_four = [0usize; 8];
    let mut totals_covered = [0usize; 3];
    // Sums of the BCa accelerations, to report their mean.
    let mut acceleration = [0.0f64; 4];
    let (mut fitted, mut failed_fits, mut failed_replicates, mut no_se) = (0usize, 0usize, 0usize, 0usize);
    let start = Instant::now();
    for d in 0..datasets {
        let data = sim.simulate(customers, 1_000 + d as u64)?;
        let Ok(model) = BgNbd::new().fit(&data) else {
            failed_fits += 1;
            continue;
        };
        fitted += 1;
        let boot = Bootstrap::new()
            .replicates(replicates)
            .seed(d as u64)
            .run(&model, &data, &keys)?;
        failed_replicates += boot.failed().len();
        let log_normal = boot.clone().with_interval_method(IntervalMethod::LogNormal);
        let pc = boot.clone().with_interval_method(IntervalMethod::Percentile);
        let bc = boot.clone().with_interval_method(IntervalMethod::BiasCorrected);
        let bca = boot.clone().with_interval_method(IntervalMethod::Bca);
        if let Some(a) = boot.acceleration() {
            for j in 0..4 {
                acceleration[j] += a[j];
            }
        }
        let mut intervals = vec![
            log_normal.parameter_intervals(level)?,
            pc.parameter_intervals(level)?,
            bc.parameter_intervals(level)?,
            bca.parameter_intervals(level)?,
        ];
        // Basic (reflected) intervals on the natural and the log scale, read off the same
        // replicates.
        let est = model.parameter_values();
        let mut basic = intervals[0].clone();
        let mut basic_log = intervals[0].clone();
        for j in 0..4 {
            let mut v: Vec<f64> = boot
                .replicates()
                .iter()
                .map(|r| r.model.parameter_values()[j])
                .collect();
            v.sort_by(f64::total_cmp);
            let q = |p: f64| {
                let h = (v.len() - 1) as f64 * p;
                let lo = h.floor() as usize;
                let hi = (lo + 1).min(v.len() - 1);
                v[lo] + (h - lo as f64) * (v[hi] - v[lo])
            };
            let (lo, hi) = (q(0.5 * (1.0 - level)), q(0.5 * (1.0 + level)));
            basic[j].lower = 2.0 * est[j] - hi;
            basic[j].upper = 2.0 * est[j] - lo;
            basic_log[j].lower = est[j] * est[j] / hi;
            basic_log[j].upper = est[j] * est[j] / lo;
        }
        match (
            delta_method_intervals(&model, level, DeltaScale::Natural),
            delta_method_intervals(&model, level, DeltaScale::Log),
        ) {
            (Ok(n), Ok(l)) => {
                intervals.push(n);
                intervals.push(l);
                intervals.push(basic);
                intervals.push(basic_log);
            }
            _ => no_se += 1,
        }
        for (m, iv) in intervals.iter().enumerate() {
            let mut all = true;
            for j in 0..4 {
                let c = iv[j].lower <= truth_v[j] && truth_v[j] <= iv[j].upper;
                covered[m][j] += usize::from(c);
                all &= c;
            }
            all_four[m] += usize::from(all);
        }
        let horizon = vec![52.0; data.len()];
        let truth_total: f64 = true_model
            .expected_purchases_many(&horizon, data.frequency(), data.recency(), data.t())?
            .iter()
            .sum();
        for (m, b) in [&log_normal, &pc, &bc].into_iter().enumerate() {
            let tot = b.totals(level, 52.0, &data, None)?;
            totals_covered[m] +=
                usize::from(tot.transactions.lower <= truth_total && truth_total <= tot.transactions.upper);
        }
        if (d + 1) % 50 == 0 {
            println!("{} datasets, {:.0} s", d + 1, start.elapsed().as_secs_f64());
        }
    }
    let se = (level * (1.0 - level) / fitted as f64).sqrt();
    println!(
        "BG/NBD, {customers} customers per data set, {fitted} data sets fitted ({failed_fits} fits failed), {replicates} replicates ({failed_replicates} replicate refits failed in all), nominal level {level}; Monte Carlo standard error of a coverage {:.1} %; {:.0} s",
        100.0 * se,
        start.elapsed().as_secs_f64()
    );
    println!("| interval | r | α | a | b | all four |");
    println!("|---|---|---|---|---|---|");
    let bootstrap_methods = [
        IntervalMethod::LogNormal,
        IntervalMethod::Percentile,
        IntervalMethod::BiasCorrected,
        IntervalMethod::Bca,
    ];
    let others = [
        "delta method (natural scale)",
        "delta method (log scale)",
        "bootstrap basic",
        "bootstrap basic, log scale",
    ];
    for m in 0..8 {
        let n = if m < 4 { fitted } else { fitted - no_se } as f64;
        let name = match bootstrap_methods.get(m) {
            Some(&b) if b == IntervalMethod::default() => format!("bootstrap `{b}` (the default)"),
            Some(b) => format!("bootstrap `{b}`"),
            None => others[m - 4].to_string(),
        };
        let pct = |c: usize| format!("{:.1} %", 100.0 * c as f64 / n);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            name,
            pct(covered[m][0]),
            pct(covered[m][1]),
            pct(covered[m][2]),
            pct(covered[m][3]),
            pct(all_four[m])
        );
    }
    println!(
        "expected repeat transactions of the population over 52 weeks: bootstrap log_normal {:.1} %, percentile {:.1} %, bias-corrected {:.1} %",
        100.0 * totals_covered[0] as f64 / fitted as f64,
        100.0 * totals_covered[1] as f64 / fitted as f64,
        100.0 * totals_covered[2] as f64 / fitted as f64
    );
    println!(
        "mean BCa acceleration: r {:.4}, α {:.4}, a {:.4}, b {:.4}",
        acceleration[0] / fitted as f64,
        acceleration[1] / fitted as f64,
        acceleration[2] / fitted as f64,
        acceleration[3] / fitted as f64
    );
    if no_se > 0 {
        println!("{no_se} fits without standard errors (singular Hessian)");
    }
    Ok(())
}
