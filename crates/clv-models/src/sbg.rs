//! sBG — shifted-beta-geometric model of contract duration.
//!
//! Fader, P. S. & Hardie, B. G. S. (2007), "How to Project Customer
//! Retention", *Journal of Interactive Marketing* 21(1), 76–90; DERL from
//! Fader & Hardie (2010), "Customer-Base Valuation in a Contractual Setting:
//! The Perils of Ignoring Heterogeneity", *Marketing Science* 29(1), 85–93.
//!
//! * At the end of each period an active customer cancels with probability
//!   θ, `θ ~ Beta(α, β)`.
//! * `P(T = t) = B(α+1, β+t−1)/B(α, β)` (2007, eq. 5; computed by the recursion of eq. 7),
//!   `S(t) = B(α, β+t)/B(α, β)` (eq. 6),
//!   retention rate `r(t) = S(t)/S(t−1) = (β+t−1)/(α+β+t−1)` (eq. 8).
//! * Log-likelihood: `Σ_churned ln P(T = t) + Σ_censored ln S(t)`.
//! * Discounted expected residual lifetime of a customer who has made
//!   `n − 1` renewals (2010, eq. 6):
//!   `DERL(d | α, β, n−1) = B(α, β+n)/B(α, β+n−1) · ₂F₁(1, β+n; α+β+n; 1/(1+d))
//!    = Σ_{t≥n} S(t)/S(n−1) · (1+d)^{−(t−n)}`,
//!   i.e. the payment of the upcoming renewal is counted undiscounted.
//!   Discounted expected lifetime of a new customer (2010):
//!   `DEL(d) = ₂F₁(1, β; α+β; 1/(1+d))`.

use serde::{Deserialize, Serialize};

use super::data::{Compressed, SurvivalData};
use super::dual::{Dual, Real, ln_beta_r};
use super::error::{ModelError, finite};
use super::model::{
    DERL, FitData, Input, Model, Prediction, RETENTION_RATE, SURVIVAL, model_accessors, model_params, unsupported,
    whole,
};
use super::optimize::{FitOptions, Objective, fit_builder_methods, run_fit};
use super::special::{ln_beta, ln_hyp2f1_one};
use super::{FitReport, FittedRepr, ModelKind, TimeUnit, check_param, fitted_serde};

/// sBG parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SbgParams {
    /// Beta shape α of the churn probability θ.
    pub alpha: f64,
    /// Beta shape β of θ.
    pub beta: f64,
}

impl SbgParams {
    fn validate(&self) -> Result<(), ModelError> {
        check_param("alpha", self.alpha)?;
        check_param("beta", self.beta)?;
        Ok(())
    }
}

struct SbgObjective {
    data: Compressed,
}

impl Objective<2> for SbgObjective {
    fn eval(&mut self, phi: &[f64; 2], grad: &mut [f64; 2]) -> f64 {
        let th = phi.map(f64::exp);
        let al = Dual::<2>::var(th[0], 0);
        let be = Dual::<2>::var(th[1], 1);
        let lnb = ln_beta_r(al, be);
        let mut total = Dual::<2>::cst(0.0);
        let d = &self.data;
        for i in 0..d.len() {
            let t = d.k0[i];
            let l = if d.k1[i] == 1.0 {
                ln_beta_r(al + 1.0, be + (t - 1.0))
            } else {
                ln_beta_r(al, be + t)
            };
            total = total + (l - lnb) * d.w[i];
        }
        let scale = -1.0 / d.total_weight;
        *grad = std::array::from_fn(|j| total.d[j] * th[j] * scale);
        total.v * scale
    }
    fn total_weight(&self) -> f64 {
        self.data.total_weight
    }
}

/// sBG fitter (builder); defaults as [`FitOptions`]; start at `α = β = 1`.
#[derive(Debug, Clone, Default)]
pub struct Sbg {
    options: FitOptions,
    initial: Option<SbgParams>,
}

impl Sbg {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Starting point of the optimiser.
    pub fn initial_params(mut self, p: SbgParams) -> Self {
        self.initial = Some(p);
        self
    }

    /// Maximum-likelihood fit.
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`]; [`ModelError::NoRepeatPurchases`] is
    /// never returned, but data without any churn has no finite maximum and
    /// ends in [`ModelError::NotConverged`].
    pub fn fit(&self, data: &SurvivalData) -> Result<FittedSbg, ModelError> {
        let c = data.compress_internal();
        if c.len() == 0 {
            return Err(ModelError::EmptyInput);
        }
        let start = match self.initial {
            Some(p) => {
                p.validate()?;
                [p.alpha, p.beta]
            }
            None => [1.0, 1.0],
        };
        let mut obj = SbgObjective { data: c };
        let out = run_fit(&mut obj, start, &self.options, ModelKind::Sbg)?;
        let report = FitReport {
            log_likelihood: out.log_likelihood,
            iterations: out.iterations,
            converged: out.converged,
            standard_errors: out.standard_errors.map(|s| SbgParams {
                alpha: s[0],
                beta: s[1],
            }),
            n_customers: out.n_customers,
            penalizer: self.options.penalizer,
        };
        FittedSbg::build(
            SbgParams {
                alpha: out.theta[0],
                beta: out.theta[1],
            },
            data.period_unit(),
            Some(report),
        )
    }
}

/// A fitted (or parameter-specified) sBG model.
#[derive(Debug, Clone)]
pub struct FittedSbg {
    params: SbgParams,
    period_unit: Option<TimeUnit>,
    fit: Option<FitReport<SbgParams>>,
}

fitted_serde!(FittedSbg, SbgParams, ModelKind::Sbg);

impl FittedSbg {
    fn build(
        params: SbgParams,
        period_unit: Option<TimeUnit>,
        fit: Option<FitReport<SbgParams>>,
    ) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(FittedSbg {
            params,
            period_unit,
            fit,
        })
    }
    /// A model with known parameters.
    pub fn from_params(params: SbgParams, period_unit: Option<TimeUnit>) -> Result<Self, ModelError> {
        Self::build(params, period_unit, None)
    }
    fn from_repr(r: FittedRepr<SbgParams>) -> Result<Self, ModelError> {
        Self::build(r.params, r.time_unit, r.fit)
    }
    fn to_repr(&self) -> FittedRepr<SbgParams> {
        FittedRepr {
            kind: ModelKind::Sbg,
            format_version: super::FORMAT_VERSION,
            params: self.params,
            time_unit: self.period_unit,
            fit: self.fit.clone(),
        }
    }
    /// Always [`ModelKind::Sbg`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::Sbg
    }
    /// The parameters.
    pub fn params(&self) -> SbgParams {
        self.params
    }
    /// Period length, if stated.
    pub fn period_unit(&self) -> Option<TimeUnit> {
        self.period_unit
    }
    /// Fit diagnostics.
    pub fn fit_report(&self) -> Option<&FitReport<SbgParams>> {
        self.fit.as_ref()
    }
    /// Log-likelihood at the estimate, if fitted.
    pub fn log_likelihood(&self) -> Option<f64> {
        self.fit.as_ref().map(|f| f.log_likelihood)
    }
    /// Standard errors, if fitted and available.
    pub fn standard_errors(&self) -> Option<SbgParams> {
        self.fit.as_ref().and_then(|f| f.standard_errors)
    }

    /// Survival `S(t) = B(α, β+t)/B(α, β)`.
    pub fn survival(&self, t: u32) -> Result<f64, ModelError> {
        let p = self.params;
        finite(
            (ln_beta(p.alpha, p.beta + t as f64) - ln_beta(p.alpha, p.beta)).exp(),
            "sBG survival",
        )
    }

    /// `P(T = t) = B(α+1, β+t−1)/B(α, β)` for `t ≥ 1` (2007, eq. 5); 0 for `t = 0`.
    pub fn churn_probability(&self, t: u32) -> Result<f64, ModelError> {
        if t == 0 {
            return Ok(0.0);
        }
        let p = self.params;
        finite(
            (ln_beta(p.alpha + 1.0, p.beta + t as f64 - 1.0) - ln_beta(p.alpha, p.beta)).exp(),
            "sBG churn probability",
        )
    }

    /// Retention rate in period `t ≥ 1`: `r(t) = (β+t−1)/(α+β+t−1)`.
    pub fn retention_rate(&self, t: u32) -> Result<f64, ModelError> {
        if t == 0 {
            return Err(ModelError::InvalidArgument {
                name: "t",
                value: 0.0,
                reason: "retention is defined for t >= 1",
            });
        }
        let p = self.params;
        let tf = t as f64;
        finite(
            (p.beta + tf - 1.0) / (p.alpha + p.beta + tf - 1.0),
            "sBG retention rate",
        )
    }

    /// Discounted expected residual lifetime of a customer who has made
    /// `renewals = n − 1` renewals, in periods (Fader & Hardie 2010, eq. 6).
    /// Multiply by the net cash flow per period for the residual value.
    ///
    /// # Errors
    /// `discount_rate` must be finite and `> 0`.
    pub fn derl(&self, discount_rate: f64, renewals: u32) -> Result<f64, ModelError> {
        if !(discount_rate.is_finite() && discount_rate > 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "discount_rate",
                value: discount_rate,
                reason: "must be finite and > 0",
            });
        }
        let p = self.params;
        let n = renewals as f64 + 1.0;
        let z = 1.0 / (1.0 + discount_rate);
        let lf =
            ln_hyp2f1_one(p.beta + n, p.alpha + p.beta + n, z, 50_000_000).ok_or(ModelError::NumericalFailure {
                context: "DERL (hypergeometric series)",
            })?;
        let lead = ((p.beta + n - 1.0) / (p.alpha + p.beta + n - 1.0)).ln();
        finite((lead + lf).exp(), "DERL")
    }

    /// Discounted expected lifetime of a just-acquired customer,
    /// `DEL(d) = ₂F₁(1, β; α+β; 1/(1+d))` (Fader & Hardie 2010).
    pub fn del(&self, discount_rate: f64) -> Result<f64, ModelError> {
        if !(discount_rate.is_finite() && discount_rate > 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "discount_rate",
                value: discount_rate,
                reason: "must be finite and > 0",
            });
        }
        let p = self.params;
        let lf = ln_hyp2f1_one(p.beta, p.alpha + p.beta, 1.0 / (1.0 + discount_rate), 50_000_000).ok_or(
            ModelError::NumericalFailure {
                context: "DEL (hypergeometric series)",
            },
        )?;
        finite(lf.exp(), "DEL")
    }

    /// Total log-likelihood of `data` under these parameters.
    pub fn log_likelihood_of(&self, data: &SurvivalData) -> Result<f64, ModelError> {
        let c = data.compress_internal();
        if c.len() == 0 {
            return Err(ModelError::EmptyInput);
        }
        let w = c.total_weight;
        let mut obj = SbgObjective { data: c };
        let mut g = [0.0; 2];
        finite(
            -obj.eval(&[self.params.alpha.ln(), self.params.beta.ln()], &mut g) * w,
            "log-likelihood",
        )
    }
}

model_params!(SbgParams { alpha, beta });

impl Model for FittedSbg {
    type Params = SbgParams;
    const KIND: ModelKind = ModelKind::Sbg;
    const DISPLAY_NAME: &'static str = "sBG";
    const DESCRIPTION: &'static str = "sBG (Fader & Hardie 2007): contract renewals and a cohort's survival";
    const FIT_FUNCTION: &'static str = "sbg_fit";
    const INPUTS: &'static [Input] = &[Input::number("t"), Input::flag("churned")];
    const PREDICTIONS: &'static [&'static Prediction] = &[&SURVIVAL, &RETENTION_RATE, &DERL];

    fn fit(data: FitData, options: &FitOptions) -> Result<Self, ModelError> {
        let churned = data.column(1).into_iter().map(|c| c != 0.0).collect();
        let survival = SurvivalData::new(data.column(0), churned)?.with_weights(data.weights)?;
        Sbg::default().with_options(*options).fit(&survival)
    }
    fn from_params(params: SbgParams, _: TimeUnit) -> Result<Self, ModelError> {
        Self::from_params(params, None)
    }
    model_accessors!();
    fn predict(&self, prediction: &Prediction, a: &[f64]) -> Result<f64, ModelError> {
        match prediction.name {
            "survival" => self.survival(whole(a[0], "t")?),
            "retention_rate" => self.retention_rate(whole(a[0], "t")?),
            "derl" => self.derl(a[0], 1),
            _ => Err(unsupported(Self::KIND, prediction)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beta_geo::tests::check_gradient;

    #[test]
    fn gradient_matches_finite_differences() {
        let d = SurvivalData::from_survival_curve(&[1.0, 0.631, 0.468, 0.382], 1000.0).unwrap();
        let mut o = SbgObjective {
            data: d.compress_internal(),
        };
        check_gradient(&mut o, [0.7, 1.2]);
    }
}
