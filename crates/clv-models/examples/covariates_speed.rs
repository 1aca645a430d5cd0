//! Times covariate fits on simulated customers: BG/NBD (and Pareto/NBD) with three covariates,
//! two on the purchase rate and one on dropout, on a daily grid over a year of first purchases
//! (the shape of the fit benchmark), in two shapes:
//!
//! * `dummies`: three binary covariates (eight customer groups, each simulated from its
//!   parameters);
//! * `continuous`: three standard-normal covariates (every customer has their own parameters
//!   and is simulated alone).
//!
//! `cargo run --release -p clv-models --example covariates_speed -- [customers] [runs]`
//! (defaults 1000000 3). Prints the median fit time of `runs`, the estimates and the truth.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clv_models::covariates::{BgNbdCovariates, Covariates, ParetoNbdCovariates};
use clv_models::simulate::{BgNbdSimulator, Observation, ParetoNbdSimulator};
use clv_models::{BgNbdParams, ParetoNbdParams, TimeUnit, TransactionSummary};
use rand::{Rng, SeedableRng};

#[path = "timing/mod.rs"]
mod timing;
use timing::{cpu_seconds, median};

const OBSERVATION: Observation = Observation::Uniform { min: 0.0, max: 52.0 };
const GAMMA: [f64; 4] = [0.4, -0.3, 0.3, -0.2]; // purchase z1, z2; dropout on a, on b (BG/NBD)

fn base() -> BgNbdParams {
    BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    }
}

fn customer(z: [f64; 3]) -> BgNbdParams {
    let b = base();
    BgNbdParams {
        r: b.r,
        alpha: b.alpha * (-(GAMMA[0] * z[0] + GAMMA[1] * z[1])).exp(),
        a: b.a * (GAMMA[2] * z[2]).exp(),
        b: b.b * (GAMMA[3] * z[2]).exp(),
    }
}

type Data = (TransactionSummary, Covariates, Covariates);
/// A simulated customer: x, t_x, T and the three covariates.
type Row = (f64, f64, f64, [f64; 3]);

fn assemble(rows: Vec<Row>) -> Result<Data, Box<dyn std::error::Error>> {
    let n = rows.len();
    let col = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let data = TransactionSummary::new(col(&|r| r.0), col(&|r| r.1), col(&|r| r.2), TimeUnit::Week)?;
    let purchase = Covariates::new(
        vec!["z1".into(), "z2".into()],
        vec![col(&|r| r.3[0]), col(&|r| r.3[1])],
        n,
    )?;
    let dropout = Covariates::new(vec!["z3".into()], vec![col(&|r| r.3[2])], n)?;
    Ok((data, purchase, dropout))
}

fn dummies(n: usize) -> Result<Data, Box<dyn std::error::Error>> {
    let mut rows = Vec::with_capacity(n);
    for g in 0..8u32 {
        let z = [f64::from(g & 1), f64::from((g >> 1) & 1), f64::from((g >> 2) & 1)];
        let s = BgNbdSimulator::new(customer(z), OBSERVATION, TimeUnit::Week)?
            .resolution(1.0 / 7.0)
            .simulate(n / 8, 100 + u64::from(g))?;
        for i in 0..s.len() {
            rows.push((s.frequency()[i], s.recency()[i], s.t()[i], z));
        }
    }
    assemble(rows)
}

fn continuous(n: usize) -> Result<Data, Box<dyn std::error::Error>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let z: [f64; 3] = std::array::from_fn(|_| rng.sample(rand_distr::StandardNormal));
        let s = BgNbdSimulator::new(customer(z), OBSERVATION, TimeUnit::Week)?
            .resolution(1.0 / 7.0)
            .simulate(1, 1_000 + i as u64)?;
        rows.push((s.frequency()[0], s.recency()[0], s.t()[0], z));
    }
    assemble(rows)
}

fn pareto_dummies(n: usize) -> Result<Data, Box<dyn std::error::Error>> {
    let mut rows = Vec::with_capacity(n);
    for g in 0..8u32 {
        let z = [f64::from(g & 1), f64::from((g >> 1) & 1), f64::from((g >> 2) & 1)];
        let p = ParetoNbdParams {
            r: 0.55,
            alpha: 10.58 * (-(GAMMA[0] * z[0] + GAMMA[1] * z[1])).exp(),
            s: 0.61,
            beta: 11.67 * (-GAMMA[2] * z[2]).exp(),
        };
        let s = ParetoNbdSimulator::new(p, OBSERVATION, TimeUnit::Week)?
            .resolution(1.0 / 7.0)
            .simulate(n / 8, 200 + u64::from(g))?;
        for i in 0..s.len() {
            rows.push((s.frequency()[i], s.recency()[i], s.t()[i], z));
        }
    }
    assemble(rows)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let runs = args.get(1).copied().unwrap_or(3);
    println!(
        "{n} customers, {} cores; truth γ = {GAMMA:?} (purchase z1, z2; dropout z3 on a, b)",
        clv_models::cores()
    );
    for (shape, make) in [("dummies", dummies as fn(usize) -> _), ("continuous", continuous)] {
        let (data, purchase, dropout) = make(n)?;
        let mut times = vec![];
        let mut cpu = vec![];
        let mut fit = None;
        for _ in 0..runs {
            let (t, c) = (Instant::now(), cpu_seconds());
            fit = Some(BgNbdCovariates::new().fit(&data, &purchase, &dropout)?);
            times.push(t.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - c);
        }
        let m = fit.expect("runs >= 1");
        println!(
            "BG/NBD, 3 {shape} covariates: {:.3} s wall, {:.2} s CPU (medians of {runs}); r, α0, a0, b0 = {:?}; iterations {}",
            median(times),
            median(cpu),
            m.params(),
            m.fit_report().map_or(0, |r| r.iterations)
        );
        for c in m.coefficients() {
            println!(
                "  {} on {}: {:.4} ± {:.4}",
                c.covariate,
                c.parameter,
                c.estimate,
                c.std_error.unwrap_or(f64::NAN)
            );
        }
    }
    let (data, purchase, dropout) = pareto_dummies(n)?;
    let (t, c) = (Instant::now(), cpu_seconds());
    let m = ParetoNbdCovariates::new().fit(&data, &purchase, &dropout)?;
    println!(
        "Pareto/NBD, 3 dummies covariates: {:.3} s wall, {:.2} s CPU (one run)",
        t.elapsed().as_secs_f64(),
        cpu_seconds() - c
    );
    for c in m.coefficients() {
        println!(
            "  {} on {}: {:.4} ± {:.4}",
            c.covariate,
            c.parameter,
            c.estimate,
            c.std_error.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
