//! Discounted customer lifetime value.
//!
//! `CLV = margin × E[spend per transaction] × Σ discount(τ) · dE[purchases in (T, T+τ]]`
//! over a finite horizon, where the expected purchases come from a fitted
//! continuous-time transaction model ([`TransactionModel`]: BG/NBD,
//! MBG/NBD, Pareto/NBD) and the expected spend from a fitted Gamma-Gamma
//! model (or is supplied by the caller). This is the standard
//! "expected transactions × expected spend" decomposition (Fader, Hardie &
//! Lee 2005b, *JMR* 42(4)), which relies on the Gamma-Gamma independence
//! assumption.
//!
//! **Time units.** The horizon, the discounting period and the continuous
//! rate each carry a [`TimeUnit`]; all are converted explicitly to the
//! transaction model's unit with [`TimeUnit::convert`] (a month is
//! `365.25/12` days, never "30 days").
//!
//! **Discounting.**
//! * [`Discounting::Discrete`] — rate `d` per `period`: the purchases
//!   expected during the k-th period `((k−1)Δ, kΔ]` are discounted by
//!   `(1+d)^{−k}` (cash flows booked at the end of each period; the last
//!   period may be partial if the horizon is not a whole number of periods).
//! * [`Discounting::Continuous`] — force of interest `δ` per `unit`:
//!   `∫_0^H e^{−δτ} dE(τ) = e^{−δH} E(H) + δ ∫_0^H e^{−δτ} E(τ) dτ`
//!   (integration by parts, adaptive Gauss–Kronrod quadrature).
//! * [`Discounting::None`] — `E(H)`.
//!
//! [`historical_clv`] is a clearly separate *heuristic* that does not use
//! any model.

use super::error::{ModelError, finite};
use super::model::SpendModel;
use super::special::integrate;
use super::{TimeUnit, TransactionModel};

/// How future purchases are discounted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Discounting {
    /// No discounting.
    None,
    /// Rate `rate ≥ 0` per `period`; purchases of period k discounted by `(1+rate)^{-k}`.
    Discrete {
        /// Discount rate per period.
        rate: f64,
        /// Period length.
        period: TimeUnit,
    },
    /// Continuous rate `rate ≥ 0` per `unit`: discount factor `e^{−rate·τ}`.
    Continuous {
        /// Force of interest per `unit`.
        rate: f64,
        /// Unit of the rate.
        unit: TimeUnit,
    },
}

/// Specification of a CLV calculation (builder). Defaults: no discounting,
/// margin 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvSpec {
    horizon: f64,
    horizon_unit: TimeUnit,
    discounting: Discounting,
    margin: f64,
}

/// Maximal number of discrete discounting periods in a horizon.
const MAX_PERIODS: f64 = 1e6;

impl ClvSpec {
    /// A horizon of `horizon` units of `horizon_unit`.
    pub fn new(horizon: f64, horizon_unit: TimeUnit) -> Self {
        ClvSpec {
            horizon,
            horizon_unit,
            discounting: Discounting::None,
            margin: 1.0,
        }
    }
    /// Profit margin applied to the spend (default 1).
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = margin;
        self
    }
    /// Discrete discounting at `rate` per `period`.
    pub fn discrete(mut self, rate: f64, period: TimeUnit) -> Self {
        self.discounting = Discounting::Discrete { rate, period };
        self
    }
    /// Continuous discounting at `rate` per `unit`.
    pub fn continuous(mut self, rate: f64, unit: TimeUnit) -> Self {
        self.discounting = Discounting::Continuous { rate, unit };
        self
    }
    /// Any [`Discounting`].
    pub fn discounting(mut self, d: Discounting) -> Self {
        self.discounting = d;
        self
    }

    fn validate(&self) -> Result<(), ModelError> {
        if !(self.horizon.is_finite() && self.horizon >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "horizon",
                value: self.horizon,
                reason: "must be finite and >= 0",
            });
        }
        if !(self.margin.is_finite()) {
            return Err(ModelError::InvalidArgument {
                name: "margin",
                value: self.margin,
                reason: "must be finite",
            });
        }
        match self.discounting {
            Discounting::None => {}
            Discounting::Discrete { rate, .. } | Discounting::Continuous { rate, .. } => {
                if !(rate.is_finite() && rate >= 0.0) {
                    return Err(ModelError::InvalidArgument {
                        name: "discount rate",
                        value: rate,
                        reason: "must be finite and >= 0",
                    });
                }
            }
        }
        Ok(())
    }

    /// Discounted expected number of purchases of a customer with history
    /// `(x, t_x, T)` (in the model's unit) over the horizon.
    pub fn discounted_purchases<M: TransactionModel + ?Sized>(
        &self,
        model: &M,
        x: f64,
        t_x: f64,
        T: f64,
    ) -> Result<f64, ModelError> {
        self.validate()?;
        let unit = model.time_unit();
        let h = self.horizon_unit.convert(self.horizon, unit);
        let e = |tau: f64| model.expected_purchases(tau, x, t_x, T);
        let v = match self.discounting {
            Discounting::None => e(h)?,
            Discounting::Discrete { rate, period } => {
                let step = period.convert(1.0, unit);
                let k_max = (h / step - 1e-9).ceil().max(0.0);
                if k_max > MAX_PERIODS {
                    return Err(ModelError::InvalidArgument {
                        name: "horizon",
                        value: self.horizon,
                        reason: "more than 1e6 discounting periods",
                    });
                }
                let ln_v = -rate.ln_1p();
                let mut prev = 0.0;
                let mut sum = 0.0;
                for k in 1..=(k_max as u64) {
                    let cur = e((k as f64 * step).min(h))?;
                    sum += (cur - prev) * (k as f64 * ln_v).exp();
                    prev = cur;
                }
                sum
            }
            Discounting::Continuous { rate, unit: rate_unit } => {
                // rate per `rate_unit` -> rate per model unit
                let delta = rate * (unit.days() / rate_unit.days());
                let eh = e(h)?;
                if delta == 0.0 || h == 0.0 {
                    eh
                } else {
                    let mut err = None;
                    let tol = 1e-12 * eh.max(1e-12);
                    let integral = integrate(
                        |tau| match e(tau) {
                            Ok(v) => (-delta * tau).exp() * v,
                            Err(er) => {
                                err = Some(er);
                                f64::NAN
                            }
                        },
                        0.0,
                        h,
                        tol,
                    );
                    if let Some(er) = err {
                        return Err(er);
                    }
                    let integral = integral.ok_or(ModelError::NumericalFailure {
                        context: "CLV discount integral",
                    })?;
                    (-delta * h).exp() * eh + delta * integral
                }
            }
        };
        finite(v.max(0.0), "discounted expected purchases")
    }

    /// The margin.
    pub(crate) fn margin_value(&self) -> f64 {
        self.margin
    }

    /// [`ClvSpec::discounted_purchases`] for many customers (slices of equal length, in the
    /// model's unit), through the models' batch kernels: one batch call per discounting period.
    /// Without discounting, or at a discrete rate of 0, the value is `E(h)` directly (equal to
    /// the per-customer sum over the periods up to rounding); continuous discounting is
    /// integrated customer by customer.
    pub fn discounted_purchases_many<M: TransactionModel + ?Sized>(
        &self,
        model: &M,
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
    ) -> Result<Vec<f64>, ModelError> {
        self.validate()?;
        let unit = model.time_unit();
        let h = self.horizon_unit.convert(self.horizon, unit);
        let n = x.len();
        let at = |tau: f64| model.expected_purchases_many(&vec![tau; n], x, t_x, T);
        let v = match self.discounting {
            Discounting::None => at(h)?,
            Discounting::Discrete { rate: 0.0, .. } => at(h)?,
            Discounting::Discrete { rate, period } => {
                let step = period.convert(1.0, unit);
                let k_max = (h / step - 1e-9).ceil().max(0.0);
                if k_max > MAX_PERIODS {
                    return Err(ModelError::InvalidArgument {
                        name: "horizon",
                        value: self.horizon,
                        reason: "more than 1e6 discounting periods",
                    });
                }
                let ln_v = -rate.ln_1p();
                let mut prev = vec![0.0; n];
                let mut sum = vec![0.0; n];
                for k in 1..=(k_max as u64) {
                    let cur = at((k as f64 * step).min(h))?;
                    let f = (k as f64 * ln_v).exp();
                    for i in 0..n {
                        sum[i] += (cur[i] - prev[i]) * f;
                    }
                    prev = cur;
                }
                sum
            }
            Discounting::Continuous { .. } => {
                return (0..n)
                    .map(|i| self.discounted_purchases(model, x[i], t_x[i], T[i]))
                    .collect();
            }
        };
        v.into_iter()
            .map(|v| finite(v.max(0.0), "discounted expected purchases"))
            .collect()
    }

    /// CLV with a caller-supplied expected spend per transaction:
    /// `margin × expected_spend × discounted purchases`.
    pub fn clv_with_spend<M: TransactionModel + ?Sized>(
        &self,
        model: &M,
        expected_spend: f64,
        x: f64,
        t_x: f64,
        T: f64,
    ) -> Result<f64, ModelError> {
        if !(expected_spend.is_finite() && expected_spend >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "expected_spend",
                value: expected_spend,
                reason: "must be finite and >= 0",
            });
        }
        let n = self.discounted_purchases(model, x, t_x, T)?;
        finite(self.margin * expected_spend * n, "CLV")
    }

    /// CLV with the Gamma-Gamma conditional expected spend of a customer
    /// with frequency `x` and mean repeat-transaction value `mean_spend`
    /// (ignored when `x = 0`).
    pub fn clv<M: TransactionModel + ?Sized, S: SpendModel + ?Sized>(
        &self,
        model: &M,
        spend: &S,
        x: f64,
        t_x: f64,
        T: f64,
        mean_spend: f64,
    ) -> Result<f64, ModelError> {
        let s = spend.conditional_expected_spend(x, mean_spend)?;
        self.clv_with_spend(model, s, x, t_x, T)
    }
}

/// **Heuristic, not a probability model**: "historical CLV" =
/// average order value × purchase rate × expected lifespan × margin.
///
/// `purchases_per_unit` and `lifespan_units` must use the same time unit
/// (e.g. orders per month and lifespan in months). No discounting, no
/// heterogeneity, no dropout process: use only as a rough benchmark next to
/// the model-based [`ClvSpec::clv`].
pub fn historical_clv(
    average_order_value: f64,
    purchases_per_unit: f64,
    lifespan_units: f64,
    margin: f64,
) -> Result<f64, ModelError> {
    for (name, v) in [
        ("average_order_value", average_order_value),
        ("purchases_per_unit", purchases_per_unit),
        ("lifespan_units", lifespan_units),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name,
                value: v,
                reason: "must be finite and >= 0",
            });
        }
    }
    if !margin.is_finite() {
        return Err(ModelError::InvalidArgument {
            name: "margin",
            value: margin,
            reason: "must be finite",
        });
    }
    finite(
        average_order_value * purchases_per_unit * lifespan_units * margin,
        "historical CLV",
    )
}
