//! DERT: discounted expected residual transactions over an infinite horizon.
//!
//! `DERT(δ | x, t_x, T) = ∫_0^∞ e^{−δτ} dE[Y(τ) | x, t_x, T]`, the expected number of a
//! customer's future transactions, each discounted continuously at rate `δ` from the end of
//! the calibration period `T` (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves
//! for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415–430, §"Discounted
//! expected residual transactions"). Multiplied by a margin and the expected spend per
//! transaction it is the customer's residual lifetime value (their eq. 1). `δ` is a force of
//! interest per [`TimeUnit`] (an annual rate of 15 % compounded continuously is
//! `δ = ln 1.15 ≈ 0.1398` per year; with a model in weeks and δ given per month it is
//! converted explicitly).
//!
//! Both models are written the same way: a customer who is alive at T has the posterior
//! purchase rate `λ ~ Gamma(r+x, α+T)` and, given `(λ, ·)`, a known discounted number of future
//! transactions; DERT is `P(alive)` times its posterior mean.
//!
//! # Pareto/NBD
//!
//! Given alive, `μ ~ Gamma(s, β+T)` and the discounted transactions are `λ/(μ+δ)`, so
//! `DERT = (r+x)/(α+T) · E[1/(μ+δ)] · P(alive)` with
//! `E[1/(μ+δ)] = (β+T)^s δ^{s−1} Ψ(s, s; δ(β+T))`, Ψ the confluent hypergeometric function of the
//! second kind (Tricomi's U) — which is FHL 2005 **eq. 2**:
//!
//! `DERT = α^r β^s δ^{s−1} Γ(r+x+1) Ψ(s, s; δ(β+T)) / [Γ(r) (α+T)^{r+x+1} L(r, α, s, β | x, t_x, T)]`
//!
//! once `P(alive) = Γ(r+x) α^r β^s / [Γ(r) (α+T)^{r+x} (β+T)^s L]` is factored out (L the
//! Pareto/NBD likelihood). With `Ψ(s, s; z) = e^z Γ(1−s, z)` (DLMF 13.6.6) this is evaluated as
//!
//! `DERT = (r+x)/(α+T) · (β+T) · S(1−s, δ(β+T)) · P(alive)`,
//!
//! `S(a, z) = e^z z^{−a} Γ(a, z)` from [`crate::probability::ln_upper_gamma_scaled`] and P(alive)
//! from [`FittedParetoNbd::p_alive`]. As `δ → 0` it tends to the undiscounted expected residual
//! transactions `(r+x)(β+T)/((α+T)(s−1))` when `s > 1` (and grows without bound when `s ≤ 1`).
//!
//! # BG/NBD and MBG/NBD
//!
//! Derived here the same way (there is no published closed form). Given alive at T,
//! `p ~ Beta(a, b')` with `b' = b + x` (BG/NBD: FHL 2005 *Marketing Science* eq. 6's posterior)
//! or `b' = b + x + 1` (MBG/NBD, one more dropout opportunity at the first purchase). The k-th
//! future transaction happens at the k-th event of a Poisson(λ) process,
//! `E[e^{−δ S_k}] = (λ/(λ+δ))^k`, and only if the customer survived the k−1 transactions
//! before it, probability `(1−p)^{k−1}`; summing the geometric series,
//!
//! `E[discounted transactions | λ, p] = Σ_{k≥1} (1−p)^{k−1} (λ/(λ+δ))^k = λ/(pλ + δ)`
//!
//! (the same as `∫_0^∞ e^{−δτ} λ e^{−λpτ} dτ`, the discounted derivative of
//! `E[Y(τ) | λ, p] = (1 − e^{−λpτ})/p`). The mean over λ is, with `n = r+x`, `c = α+T`,
//! `z = cδ/p` and the substitution `λ = (δ/p) t` in the gamma integral,
//!
//! `g(p) = E[λ/(pλ+δ)] = (n/p) · z^n Ψ(n+1, n+1; z) = (n/p) · S(−n, z)`,
//!
//! which tends to `n/(cδ) = E[λ]/δ` (no dropout) as `p → 0`. So
//!
//! `DERT = P(alive) · ∫_0^1 Beta(p; a, b') g(p) dp`,
//!
//! the integral by adaptive Gauss–Kronrod quadrature after the substitutions that remove the
//! beta density's endpoint singularities (relative accuracy about 1e-12), P(alive) from the
//! model.
//!
//! Checked in the tests against `δ ∫_0^∞ e^{−δτ} E[Y(τ) | x, t_x, T] dτ` integrated numerically
//! from each model's conditional expectation, and (`tests/reference/dert.py`) against an
//! independent scipy implementation of FHL eq. 2 (`scipy.special.hyperu`) and a double integral
//! over `(λ, p)` for BG/NBD.

use super::beta_geo::beta_expectation;
use super::error::{ModelError, finite};
use super::probability::ln_upper_gamma_scaled;
use super::{FittedBgNbd, FittedMbgNbd, FittedParetoNbd, TimeUnit, TransactionModel, check_arg};

/// Discounted expected residual transactions of the continuous-time models.
pub trait Dert: TransactionModel {
    /// DERT of a customer with history `(x, t_x, T)` (in the model's unit) at the continuous
    /// discount rate `delta > 0` per `delta_unit` (see the module docs).
    ///
    /// # Errors
    /// [`ModelError::InvalidArgument`] for `delta ≤ 0` (without discounting the expected
    /// residual transactions can be infinite) or a non-finite rate; the row checks of
    /// [`TransactionModel::p_alive`]; [`ModelError::NumericalFailure`] when a special function
    /// or the quadrature fails.
    fn dert(&self, delta: f64, delta_unit: TimeUnit, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        let d = model_rate(self, delta, delta_unit)?;
        let pa = self.p_alive(x, t_x, T)?;
        finite(pa * self.dert_if_alive(d, x, T)?, "DERT")
    }

    /// [`Dert::dert`] for many customers (slices of equal length); the part that depends on
    /// `(x, T)` only is computed once per distinct pair.
    fn dert_many(
        &self,
        delta: f64,
        delta_unit: TimeUnit,
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
    ) -> Result<Vec<f64>, ModelError> {
        let d = model_rate(self, delta, delta_unit)?;
        let pa = self.p_alive_many(x, t_x, T)?;
        let mut memo: std::collections::HashMap<[u64; 2], f64> = std::collections::HashMap::new();
        (0..x.len())
            .map(|i| {
                let key = [x[i].to_bits(), T[i].to_bits()];
                let v = match memo.get(&key) {
                    Some(v) => *v,
                    None => {
                        let v = self.dert_if_alive(d, x[i], T[i])?;
                        memo.insert(key, v);
                        v
                    }
                };
                finite(pa[i] * v, "DERT")
            })
            .collect()
    }

    /// The DERT of a customer known to be alive at T, `delta` per model unit.
    #[doc(hidden)]
    fn dert_if_alive(&self, delta: f64, x: f64, T: f64) -> Result<f64, ModelError>;
}

/// `delta` per `unit` as a rate per model unit (checked).
fn model_rate<M: TransactionModel + ?Sized>(model: &M, delta: f64, unit: TimeUnit) -> Result<f64, ModelError> {
    if !(delta.is_finite() && delta > 0.0) {
        return Err(ModelError::InvalidArgument {
            name: "delta",
            value: delta,
            reason: "the continuous discount rate must be finite and > 0",
        });
    }
    Ok(delta * model.time_unit().convert(1.0, unit))
}

const S_FAILURE: ModelError = ModelError::NumericalFailure {
    context: "DERT (incomplete gamma function)",
};

impl Dert for FittedParetoNbd {
    fn dert_if_alive(&self, delta: f64, x: f64, T: f64) -> Result<f64, ModelError> {
        check_arg("x", x)?;
        check_arg("T", T)?;
        let p = self.params();
        let ln_s = ln_upper_gamma_scaled(1.0 - p.s, delta * (p.beta + T)).ok_or(S_FAILURE)?;
        finite((p.r + x) / (p.alpha + T) * (p.beta + T) * ln_s.exp(), "Pareto/NBD DERT")
    }
}

/// `∫ Beta(p; a, bb) g(p) dp` of the module docs, `n = r + x`, `c = α + T`.
fn beta_geo_dert_if_alive(a: f64, bb: f64, n: f64, c: f64, delta: f64) -> Result<f64, ModelError> {
    let cd = c * delta;
    let failed = std::cell::Cell::new(false);
    let g = |p: f64| -> f64 {
        // p → 0: z → ∞ and S(−n, z) ~ 1/z, so g → n/(cδ); beyond z = 1e15 that limit is exact
        // in floating point.
        if p <= 0.0 || cd / p > 1e15 {
            return n / cd;
        }
        let z = cd / p;
        match ln_upper_gamma_scaled(-n, z) {
            Some(l) => n / p * l.exp(),
            None => {
                failed.set(true);
                0.0
            }
        }
    };
    let v = beta_expectation(a, bb, g);
    match v {
        Some(v) if !failed.get() => finite(v, "BG/NBD DERT"),
        _ => Err(ModelError::NumericalFailure {
            context: "BG/NBD DERT (quadrature over the dropout probability)",
        }),
    }
}

impl Dert for FittedBgNbd {
    fn dert_if_alive(&self, delta: f64, x: f64, T: f64) -> Result<f64, ModelError> {
        check_arg("x", x)?;
        check_arg("T", T)?;
        let p = self.params();
        beta_geo_dert_if_alive(p.a, p.b + x, p.r + x, p.alpha + T, delta)
    }
}

impl Dert for FittedMbgNbd {
    fn dert_if_alive(&self, delta: f64, x: f64, T: f64) -> Result<f64, ModelError> {
        check_arg("x", x)?;
        check_arg("T", T)?;
        let p = self.params();
        beta_geo_dert_if_alive(p.a, p.b + x + 1.0, p.r + x, p.alpha + T, delta)
    }
}
