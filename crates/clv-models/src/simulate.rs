//! Seeded simulators that draw customer summaries from the models' own
//! generative processes (for testing parameter recovery and for
//! benchmarks).
//!
//! Determinism: the same seed, parameters and `rand` version give the same
//! output (the generator is `rand::rngs::StdRng::seed_from_u64`, ChaCha12 in
//! `rand` 0.8).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp1, Gamma};

use super::bgnbd::BgNbdParams;
use super::data::{SpendSummary, TimeUnit, TransactionSummary};
use super::error::ModelError;
use super::gamma_gamma::GammaGammaParams;
use super::pareto_nbd::ParetoNbdParams;

/// Length of each simulated customer's observation period T (time from the
/// first purchase to the end of calibration), in the simulator's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// Every customer is observed for `T`.
    Fixed(f64),
    /// T uniform on `[min, max]` (staggered acquisition).
    Uniform {
        /// Shortest observation period.
        min: f64,
        /// Longest observation period.
        max: f64,
    },
}

impl Observation {
    fn validate(&self) -> Result<(), ModelError> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            Observation::Fixed(t) if ok(t) => Ok(()),
            Observation::Uniform { min, max } if ok(min) && ok(max) && min <= max => Ok(()),
            _ => Err(ModelError::InvalidArgument {
                name: "observation",
                value: f64::NAN,
                reason: "invalid observation period",
            }),
        }
    }
    fn draw(&self, rng: &mut StdRng) -> f64 {
        match *self {
            Observation::Fixed(t) => t,
            Observation::Uniform { min, max } => {
                if min == max {
                    min
                } else {
                    rng.gen_range(min..=max)
                }
            }
        }
    }
}

/// Shared purchase-process bookkeeping: time grid (optional) and summary.
struct Recorder {
    resolution: Option<f64>,
}

impl Recorder {
    fn snap(&self, t: f64) -> f64 {
        match self.resolution {
            Some(step) => (t / step).floor() * step,
            None => t,
        }
    }
}

fn gamma_draw(shape: f64, rate: f64, rng: &mut StdRng) -> f64 {
    // Gamma::new only fails for invalid parameters, validated by the callers.
    Gamma::new(shape, 1.0 / rate).map(|g| g.sample(rng)).unwrap_or(0.0)
}

fn beta_draw(a: f64, b: f64, rng: &mut StdRng) -> f64 {
    let v = Beta::new(a, b).map(|d| d.sample(rng)).unwrap_or(f64::NAN);
    if v.is_finite() {
        v
    } else if rng.gen_bool(a / (a + b)) {
        1.0
    } else {
        0.0
    }
}

fn check_resolution(r: Option<f64>) -> Result<(), ModelError> {
    if let Some(step) = r
        && !(step.is_finite() && step > 0.0)
    {
        return Err(ModelError::InvalidArgument {
            name: "resolution",
            value: step,
            reason: "must be positive and finite",
        });
    }
    Ok(())
}

/// BG/NBD simulator: `λ ~ Gamma(r, α)`, `p ~ Beta(a, b)`, Poisson purchases,
/// dropout with probability p after each repeat purchase.
#[derive(Debug, Clone, Copy)]
pub struct BgNbdSimulator {
    params: BgNbdParams,
    observation: Observation,
    time_unit: TimeUnit,
    resolution: Option<f64>,
}

impl BgNbdSimulator {
    /// A simulator; `time_unit` is the unit of the parameters' α and of `observation`.
    pub fn new(params: BgNbdParams, observation: Observation, time_unit: TimeUnit) -> Result<Self, ModelError> {
        params.validate()?;
        observation.validate()?;
        Ok(BgNbdSimulator {
            params,
            observation,
            time_unit,
            resolution: None,
        })
    }

    /// Record purchase times (and T) on a grid of `step` time units, merging
    /// purchases that fall in the same cell as the previous one, like a
    /// summary built from daily dates (e.g. `1.0/7.0` weeks). Default: exact
    /// continuous times.
    pub fn resolution(mut self, step: f64) -> Self {
        self.resolution = Some(step);
        self
    }

    /// Simulates `n` customers.
    pub fn simulate(&self, n: usize, seed: u64) -> Result<TransactionSummary, ModelError> {
        check_resolution(self.resolution)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let rec = Recorder {
            resolution: self.resolution,
        };
        let p = self.params;
        let (mut xs, mut txs, mut ts) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let big_t = self.observation.draw(&mut rng);
            let lambda = gamma_draw(p.r, p.alpha, &mut rng);
            let drop = beta_draw(p.a, p.b, &mut rng);
            let (mut x, mut last, mut t) = (0.0, 0.0, 0.0);
            if lambda > 0.0 {
                loop {
                    let e: f64 = Exp1.sample(&mut rng);
                    t += e / lambda;
                    if t > big_t {
                        break;
                    }
                    let cell = rec.snap(t);
                    if cell > last {
                        x += 1.0;
                        last = cell;
                    }
                    if rng.gen_bool(drop) {
                        break;
                    }
                }
            }
            xs.push(x);
            txs.push(last);
            ts.push(rec.snap(big_t));
        }
        TransactionSummary::new(xs, txs, ts, self.time_unit)
    }
}

/// Pareto/NBD simulator: `λ ~ Gamma(r, α)`, lifetime `τ ~ Exp(μ)` with
/// `μ ~ Gamma(s, β)`, Poisson purchases while alive.
#[derive(Debug, Clone, Copy)]
pub struct ParetoNbdSimulator {
    params: ParetoNbdParams,
    observation: Observation,
    time_unit: TimeUnit,
    resolution: Option<f64>,
}

impl ParetoNbdSimulator {
    /// A simulator; `time_unit` is the unit of α, β and `observation`.
    pub fn new(params: ParetoNbdParams, observation: Observation, time_unit: TimeUnit) -> Result<Self, ModelError> {
        for (name, v) in [
            ("r", params.r),
            ("alpha", params.alpha),
            ("s", params.s),
            ("beta", params.beta),
        ] {
            super::check_param(name, v)?;
        }
        observation.validate()?;
        Ok(ParetoNbdSimulator {
            params,
            observation,
            time_unit,
            resolution: None,
        })
    }

    /// Time grid, as [`BgNbdSimulator::resolution`].
    pub fn resolution(mut self, step: f64) -> Self {
        self.resolution = Some(step);
        self
    }

    /// Simulates `n` customers.
    pub fn simulate(&self, n: usize, seed: u64) -> Result<TransactionSummary, ModelError> {
        check_resolution(self.resolution)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let rec = Recorder {
            resolution: self.resolution,
        };
        let p = self.params;
        let (mut xs, mut txs, mut ts) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let big_t = self.observation.draw(&mut rng);
            let lambda = gamma_draw(p.r, p.alpha, &mut rng);
            let mu = gamma_draw(p.s, p.beta, &mut rng);
            let e: f64 = Exp1.sample(&mut rng);
            let tau = if mu > 0.0 { e / mu } else { f64::INFINITY };
            let end = tau.min(big_t);
            let (mut x, mut last, mut t) = (0.0, 0.0, 0.0);
            if lambda > 0.0 {
                loop {
                    let e: f64 = Exp1.sample(&mut rng);
                    t += e / lambda;
                    if t > end {
                        break;
                    }
                    let cell = rec.snap(t);
                    if cell > last {
                        x += 1.0;
                        last = cell;
                    }
                }
            }
            xs.push(x);
            txs.push(last);
            ts.push(rec.snap(big_t));
        }
        TransactionSummary::new(xs, txs, ts, self.time_unit)
    }
}

/// Gamma-Gamma simulator: `ν ~ Gamma(q, γ)` per customer, each of the x
/// repeat transactions `~ Gamma(p, ν)`; returns the mean (0 when `x = 0`).
#[derive(Debug, Clone, Copy)]
pub struct GammaGammaSimulator {
    params: GammaGammaParams,
}

impl GammaGammaSimulator {
    /// A simulator.
    pub fn new(params: GammaGammaParams) -> Result<Self, ModelError> {
        for (name, v) in [("p", params.p), ("q", params.q), ("gamma", params.gamma)] {
            super::check_param(name, v)?;
        }
        Ok(GammaGammaSimulator { params })
    }

    /// Simulates the mean spend of customers with the given frequencies
    /// (whole numbers ≥ 0).
    pub fn simulate(&self, frequency: &[f64], seed: u64) -> Result<SpendSummary, ModelError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = self.params;
        let mut m = Vec::with_capacity(frequency.len());
        for &x in frequency {
            let nu = gamma_draw(p.q, p.gamma, &mut rng);
            if x > 0.0 {
                // mean of x Gamma(p, ν) draws ~ Gamma(p x, ν x)
                let z = gamma_draw(p.p * x, nu * x, &mut rng);
                m.push(if z > 0.0 { z } else { f64::MIN_POSITIVE });
            } else {
                m.push(0.0);
            }
        }
        SpendSummary::new(frequency.to_vec(), m)
    }
}
