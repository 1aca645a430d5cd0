//! Times the customer bootstrap of BG/NBD on simulated summaries (the shape of the fit
//! benchmark: parameters near the CDNOW estimate, first purchases spread over a year, times on a
//! daily grid), and the per-customer and total intervals computed from it.
//!
//! `cargo run --release -p clv-models --example bootstrap_speed -- [customers] [replicates] [runs]`
//! (defaults 1000000 200 3). Prints one line per measurement: the median of `runs`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clv_models::bootstrap::{Bootstrap, CustomerKeys};
use clv_models::simulate::{BgNbdSimulator, Observation};
use clv_models::{BgNbd, BgNbdParams, TimeUnit};

#[path = "timing/mod.rs"]
mod timing;
use timing::{cpu_seconds, median};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let customers = args.first().copied().unwrap_or(1_000_000);
    let replicates = args.get(1).copied().unwrap_or(200);
    let runs = args.get(2).copied().unwrap_or(3);
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let sim =
        BgNbdSimulator::new(truth, Observation::Uniform { min: 0.0, max: 52.0 }, TimeUnit::Week)?.resolution(1.0 / 7.0);
    let data = sim.simulate(customers, 7)?;
    let ids: Vec<u64> = (0..customers as u64).map(|i| 1_000_000_007 + 3 * i).collect();
    let keys = CustomerKeys::from_u64(&ids);
    println!(
        "{customers} customers ({} distinct rows), {replicates} replicates, {} cores",
        data.compressed().len(),
        clv_models::cores()
    );
    let mut fit_times = vec![];
    let mut model = None;
    for _ in 0..runs {
        let t = Instant::now();
        model = Some(BgNbd::new().fit(&data)?);
        fit_times.push(t.elapsed().as_secs_f64());
    }
    let model = model.expect("runs >= 1");
    println!("fit: {:.3} s wall", median(fit_times));
    let mut boot_times = vec![];
    let mut boot_cpu = vec![];
    let mut boot = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_seconds());
        boot = Some(
            Bootstrap::new()
                .replicates(replicates)
                .seed(1)
                .run(&model, &data, &keys)?,
        );
        boot_times.push(t.elapsed().as_secs_f64());
        boot_cpu.push(cpu_seconds() - c);
    }
    let boot = boot.expect("runs >= 1");
    println!(
        "bootstrap: {:.3} s wall, {:.2} s CPU ({} converged, {} failed)",
        median(boot_times),
        median(boot_cpu),
        boot.replicates().len(),
        boot.failed().len()
    );
    for p in boot.parameter_intervals(0.9)? {
        println!("  {}: {:.4} [{:.4}, {:.4}]", p.name, p.estimate, p.lower, p.upper);
    }
    let t = Instant::now();
    let pa = boot.p_alive(0.9, data.frequency(), data.recency(), data.t())?;
    println!(
        "P(alive) intervals of every customer: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let ep = boot.expected_purchases(0.9, 52.0, data.frequency(), data.recency(), data.t())?;
    println!(
        "expected purchases (52 weeks) intervals of every customer: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let tot = boot.totals(0.9, 52.0, &data, None)?;
    println!(
        "totals (52 weeks): {:.3} s; transactions {:.0} [{:.0}, {:.0}]",
        t.elapsed().as_secs_f64(),
        tot.transactions.estimate,
        tot.transactions.lower,
        tot.transactions.upper
    );
    println!("first customer: P(alive) {:?}, E {:?}", pa[0], ep[0]);
    Ok(())
}
