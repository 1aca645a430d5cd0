//! Gamma-Gamma model of monetary value.
//!
//! Fader, P. S. & Hardie, B. G. S. (2013), "The Gamma-Gamma Model of
//! Monetary Value" (note 025): the density of z̄ (eq. 1a), the population mean `pγ/(q−1)`
//! (eq. 3) and the conditional expected average spend (eq. 5); originally Colombo & Jiang (1999) and Fader,
//! Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer
//! Base Analysis", *JMR* 42(4).
//!
//! * Transaction values `z_i ~ Gamma(p, ν)` (shape p, rate ν);
//!   the mean of x transactions `z̄ ~ Gamma(px, νx)`.
//! * `ν ~ Gamma(q, γ)` (shape q, rate γ) across customers.
//!
//! Only customers with `x > 0` repeat transactions enter the fit, and `z̄` is
//! the mean of the repeat transactions (first purchase excluded).
//!
//! **Log-likelihood convention.** The log-likelihood is the log of the
//! marginal *density of z̄* (the mixture of `Gamma(px, νx)` over ν in the note):
//!
//! `ln f(z̄ | p, q, γ; x) = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ
//!   + px ln x + (px − 1) ln z̄ − (px + q) ln(γ + x z̄)`,
//!
//! which is also the `lifetimes` convention; with it the published
//! CDNOW estimate reproduces the published value −4055.92. (The density of
//! the *total* spend `x z̄` differs by `−Σ ln x`, −4659.30 on the same data.)
//!
//! Conditional expected average spend (the note's posterior-mean result):
//! `E(M | p, q, γ, x, z̄) = p (γ + x z̄) / (px + q − 1)`, a weighted mean of
//! the population mean `pγ/(q−1)` and the customer's `z̄`.
//!
//! The model assumes spend is independent of the purchase process; check
//! it with [`spend_frequency_correlation`].

use serde::{Deserialize, Serialize};

use super::data::{Compressed, SpendSummary};
use super::error::{ModelError, finite};
use super::model::{
    EXPECTED_SPEND, FitData, Input, Model, Prediction, Role, SpendModel, model_accessors, model_params, unsupported,
};
use super::optimize::{FitOptions, Objective, fit_builder_methods, run_fit};
use super::special::{digamma, ln_gamma};
use super::{FitReport, FittedRepr, ModelKind, TimeUnit, check_param, fitted_serde};

/// Gamma-Gamma parameters (names as in the note).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction gamma distribution.
    pub p: f64,
    /// Shape of the gamma distribution of ν.
    pub q: f64,
    /// Rate of the gamma distribution of ν (in currency units, as z̄).
    pub gamma: f64,
}

impl GammaGammaParams {
    fn to_array(self) -> [f64; 3] {
        [self.p, self.q, self.gamma]
    }
    fn from_array(v: [f64; 3]) -> Self {
        GammaGammaParams {
            p: v[0],
            q: v[1],
            gamma: v[2],
        }
    }
    fn validate(&self) -> Result<(), ModelError> {
        check_param("p", self.p)?;
        check_param("q", self.q)?;
        check_param("gamma", self.gamma)?;
        Ok(())
    }
}

pub(crate) struct GgObjective {
    data: Compressed,
    groups: Vec<(f64, usize, usize)>,
    ln_z: Vec<f64>,
}

impl GgObjective {
    pub(crate) fn new(data: Compressed) -> Self {
        let groups = data.groups();
        let ln_z = data.k1.iter().map(|z| z.ln()).collect();
        GgObjective { data, groups, ln_z }
    }
}

impl Objective<3> for GgObjective {
    fn eval(&mut self, phi: &[f64; 3], grad: &mut [f64; 3]) -> f64 {
        let [p, q, g] = phi.map(f64::exp);
        let ln_g = g.ln();
        let lg_q = ln_gamma(q);
        let dg_q = digamma(q);
        let (mut ll, mut gp, mut gq, mut gg) = (0.0, 0.0, 0.0, 0.0);
        for &(x, s, e) in &self.groups {
            let px = p * x;
            let ln_x = x.ln();
            let dg_pxq = digamma(px + q);
            let head = ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_g + px * ln_x;
            let (mut sw, mut slz, mut slg, mut sig) = (0.0, 0.0, 0.0, 0.0);
            for i in s..e {
                let w = self.data.w[i];
                let den = g + x * self.data.k1[i];
                sw += w;
                slz += w * self.ln_z[i];
                slg += w * den.ln();
                sig += w / den;
            }
            ll += sw * head + (px - 1.0) * slz - (px + q) * slg;
            gp += x * (sw * (dg_pxq - digamma(px) + ln_x) + slz - slg);
            gq += sw * (dg_pxq - dg_q + ln_g) - slg;
            gg += sw * q / g - (px + q) * sig;
        }
        let scale = -1.0 / self.data.total_weight;
        *grad = [gp * p * scale, gq * q * scale, gg * g * scale];
        ll * scale
    }
    fn total_weight(&self) -> f64 {
        self.data.total_weight
    }
    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(GgObjective::new(self.data.subsample(max_rows)?))
    }
    fn set_weights(&mut self, w: &[f64]) -> bool {
        self.data.set_weights(w)
    }
}

/// Gamma-Gamma fitter (builder); defaults as [`FitOptions`]; starting point
/// `p = 1, q = 2, γ = mean z̄` unless set.
#[derive(Debug, Clone, Default)]
pub struct GammaGamma {
    options: FitOptions,
    initial: Option<GammaGammaParams>,
}

impl GammaGamma {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Starting point of the optimiser.
    pub fn initial_params(mut self, p: GammaGammaParams) -> Self {
        self.initial = Some(p);
        self
    }

    /// Maximum-likelihood fit on the rows with `x > 0`.
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`] (no rows), [`ModelError::NoRepeatPurchases`]
    /// (no row with `x > 0`), [`ModelError::NotConverged`].
    pub fn fit(&self, data: &SpendSummary) -> Result<FittedGammaGamma, ModelError> {
        if data.is_empty() || !(data.weights().iter().sum::<f64>() > 0.0) {
            return Err(ModelError::EmptyInput);
        }
        let c = data.compress_internal();
        if c.len() == 0 {
            return Err(ModelError::NoRepeatPurchases);
        }
        let start = match self.initial {
            Some(p) => {
                p.validate()?;
                p.to_array()
            }
            None => {
                let m: f64 = (0..c.len()).map(|i| c.w[i] * c.k1[i]).sum::<f64>() / c.total_weight;
                [1.0, 2.0, m.clamp(1e-6, 1e12)]
            }
        };
        let mut obj = GgObjective::new(c);
        let out = run_fit(&mut obj, start, &self.options, ModelKind::GammaGamma)?;
        let report = FitReport {
            log_likelihood: out.log_likelihood,
            iterations: out.iterations,
            converged: out.converged,
            standard_errors: out.standard_errors.map(GammaGammaParams::from_array),
            n_customers: out.n_customers,
            penalizer: self.options.penalizer,
        };
        FittedGammaGamma::build(GammaGammaParams::from_array(out.theta), Some(report))
    }
}

/// A fitted (or parameter-specified) Gamma-Gamma model. It has no time unit.
#[derive(Debug, Clone)]
pub struct FittedGammaGamma {
    params: GammaGammaParams,
    fit: Option<FitReport<GammaGammaParams>>,
}

fitted_serde!(FittedGammaGamma, GammaGammaParams, ModelKind::GammaGamma);

impl FittedGammaGamma {
    fn build(params: GammaGammaParams, fit: Option<FitReport<GammaGammaParams>>) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(FittedGammaGamma { params, fit })
    }
    /// A model with known parameters.
    pub fn from_params(params: GammaGammaParams) -> Result<Self, ModelError> {
        Self::build(params, None)
    }
    fn from_repr(r: FittedRepr<GammaGammaParams>) -> Result<Self, ModelError> {
        Self::build(r.params, r.fit)
    }
    fn to_repr(&self) -> FittedRepr<GammaGammaParams> {
        FittedRepr {
            kind: ModelKind::GammaGamma,
            format_version: super::FORMAT_VERSION,
            params: self.params,
            time_unit: None,
            fit: self.fit.clone(),
        }
    }
    /// Always [`ModelKind::GammaGamma`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::GammaGamma
    }
    /// The parameters.
    pub fn params(&self) -> GammaGammaParams {
        self.params
    }
    /// Fit diagnostics.
    pub fn fit_report(&self) -> Option<&FitReport<GammaGammaParams>> {
        self.fit.as_ref()
    }
    /// Log-likelihood at the estimate (density-of-z̄ convention), if fitted.
    pub fn log_likelihood(&self) -> Option<f64> {
        self.fit.as_ref().map(|f| f.log_likelihood)
    }
    /// Standard errors, if fitted and available.
    pub fn standard_errors(&self) -> Option<GammaGammaParams> {
        self.fit.as_ref().and_then(|f| f.standard_errors)
    }

    /// Whether the prior mean spend `pγ/(q−1)` is finite (`q > 1`). A fit on heavy-tailed
    /// spend can converge to `q ≤ 1`: the model then has no expected spend for customers
    /// without repeat purchases ([`ModelError::InfiniteMeanSpend`]). The L2 penalizer
    /// ([`GammaGamma::penalizer`]) shrinks `q` towards 0, so it does not help; capping extreme
    /// amounts before fitting does.
    pub fn mean_spend_is_finite(&self) -> bool {
        self.params.q > 1.0
    }

    /// Population mean spend per transaction `pγ/(q−1)`.
    ///
    /// # Errors
    /// [`ModelError::InfiniteMeanSpend`] when `q ≤ 1` (the mean is infinite).
    pub fn population_mean_spend(&self) -> Result<f64, ModelError> {
        let GammaGammaParams { p, q, gamma } = self.params;
        if q <= 1.0 {
            return Err(ModelError::InfiniteMeanSpend { q, x: 0.0 });
        }
        finite(p * gamma / (q - 1.0), "population mean spend")
    }

    /// Conditional expected average spend `p(γ + x z̄)/(px + q − 1)`;
    /// `x = 0` gives the population mean `pγ/(q−1)` (z̄ ignored).
    pub fn conditional_expected_spend(&self, x: f64, zbar: f64) -> Result<f64, ModelError> {
        if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "x",
                value: x,
                reason: "must be a whole number >= 0",
            });
        }
        if x == 0.0 {
            return self.population_mean_spend();
        }
        // A zero mean (free repeat purchases) is outside the gamma model's support but the
        // posterior mean p(γ + x z̄)/(px + q − 1) is still defined: it shrinks to the prior.
        if !(zbar.is_finite() && zbar >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "zbar",
                value: zbar,
                reason: "must be finite and >= 0",
            });
        }
        let GammaGammaParams { p, q, gamma } = self.params;
        let den = p * x + q - 1.0;
        if den <= 0.0 {
            return Err(ModelError::InfiniteMeanSpend { q, x });
        }
        finite(p * (gamma + x * zbar) / den, "conditional expected spend")
    }

    /// Total log-likelihood (density-of-z̄ convention) of the rows of `data`
    /// with `x > 0`.
    pub fn log_likelihood_of(&self, data: &SpendSummary) -> Result<f64, ModelError> {
        let c = data.compress_internal();
        if c.len() == 0 {
            return Err(ModelError::NoRepeatPurchases);
        }
        let w = c.total_weight;
        let mut obj = GgObjective::new(c);
        let mut g = [0.0; 3];
        finite(
            -obj.eval(&self.params.to_array().map(f64::ln), &mut g) * w,
            "log-likelihood",
        )
    }
}

/// Weighted Pearson correlation between frequency and mean spend over the
/// rows with `x > 0`. The Gamma-Gamma model assumes the two are independent;
/// a correlation far from 0 is a warning sign.
///
/// # Errors
/// [`ModelError::NoRepeatPurchases`] when fewer than two rows have `x > 0`;
/// [`ModelError::NumericalFailure`] when either column is constant.
pub fn spend_frequency_correlation(data: &SpendSummary) -> Result<f64, ModelError> {
    let (x, m, w) = (data.frequency(), data.monetary(), data.weights());
    let idx: Vec<usize> = (0..data.len()).filter(|&i| x[i] > 0.0 && w[i] > 0.0).collect();
    if idx.len() < 2 {
        return Err(ModelError::NoRepeatPurchases);
    }
    let sw: f64 = idx.iter().map(|&i| w[i]).sum();
    let mx = idx.iter().map(|&i| w[i] * x[i]).sum::<f64>() / sw;
    let mm = idx.iter().map(|&i| w[i] * m[i]).sum::<f64>() / sw;
    let (mut sxx, mut smm, mut sxm) = (0.0, 0.0, 0.0);
    for &i in &idx {
        let (dx, dm) = (x[i] - mx, m[i] - mm);
        sxx += w[i] * dx * dx;
        smm += w[i] * dm * dm;
        sxm += w[i] * dx * dm;
    }
    if !(sxx > 0.0 && smm > 0.0) {
        return Err(ModelError::NumericalFailure {
            context: "correlation of a constant column",
        });
    }
    finite(sxm / (sxx * smm).sqrt(), "spend-frequency correlation")
}

model_params!(GammaGammaParams { p, q, gamma });

impl SpendModel for FittedGammaGamma {
    fn conditional_expected_spend(&self, x: f64, mean_spend: f64) -> Result<f64, ModelError> {
        FittedGammaGamma::conditional_expected_spend(self, x, mean_spend)
    }
}

/// The fit's spend summary: `(x, monetary)` with weights.
fn spend_summary(data: &FitData) -> Result<SpendSummary, ModelError> {
    SpendSummary::new(data.column(0), data.column(1))?.with_weights(data.weights.clone())
}

impl Model for FittedGammaGamma {
    type Params = GammaGammaParams;
    const KIND: ModelKind = ModelKind::GammaGamma;
    const DISPLAY_NAME: &'static str = "Gamma-Gamma";
    const DESCRIPTION: &'static str =
        "Gamma-Gamma spend per transaction (Fader & Hardie 2013), on customers with repeat purchases";
    const FIT_FUNCTION: &'static str = "gamma_gamma_fit";
    const INPUTS: &'static [Input] = &[Input::number("x"), Input::number("monetary")];
    // The model assumes spend is independent of frequency: the fit reports the check.
    const DIAGNOSTICS: &'static [&'static str] = &["spend_frequency_correlation"];
    // q > 1: the prior mean spend is finite, so customers without repeat purchases have an
    // expected spend.
    const CHECKS: &'static [&'static str] = &["finite_mean_spend"];
    const ROLES: &'static [Role] = &[Role::Spend];
    const PREDICTIONS: &'static [&'static Prediction] = &[&EXPECTED_SPEND];

    fn fit(data: FitData, options: &FitOptions) -> Result<Self, ModelError> {
        GammaGamma::default().with_options(*options).fit(&spend_summary(&data)?)
    }
    fn diagnostics(data: &FitData) -> Vec<Option<f64>> {
        vec![spend_summary(data).and_then(|d| spend_frequency_correlation(&d)).ok()]
    }
    fn checks(&self) -> Vec<bool> {
        vec![self.mean_spend_is_finite()]
    }
    fn from_params(params: GammaGammaParams, _: TimeUnit) -> Result<Self, ModelError> {
        Self::from_params(params)
    }
    model_accessors!();
    fn predict(&self, prediction: &Prediction, a: &[f64]) -> Result<f64, ModelError> {
        match prediction.name {
            "expected_spend" => self.conditional_expected_spend(a[0], a[1]),
            _ => Err(unsupported(Self::KIND, prediction)),
        }
    }
    fn spend_model(&self) -> Option<&dyn SpendModel> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beta_geo::tests::check_gradient;

    #[test]
    fn gradient_matches_finite_differences() {
        let d = SpendSummary::new(vec![1.0, 2.0, 2.0, 7.0, 0.0], vec![10.0, 22.5, 30.0, 14.0, 0.0]).unwrap();
        let mut o = GgObjective::new(d.compress_internal());
        check_gradient(&mut o, [6.2, 3.7, 15.4]);
        check_gradient(&mut o, [0.5, 1.2, 300.0]);
    }
}
