//! MBG/NBD — modified beta-geometric/negative-binomial model.
//!
//! Batislam, E. P., Denizel, M. & Filiztekin, A. (2007), "Empirical
//! validation and comparison of models for customer base analysis",
//! *International Journal of Research in Marketing* 24(3), 201–209
//! (P(alive): their Appendix A, eq. 5), with the corrections of Wagner, U. & Hoppe, D. (2008),
//! "Erratum on the MBG/NBD Model", *IJRM* 25(3), 225–226, for the conditional expectation and
//! P(alive). Differs from BG/NBD ([`super::bgnbd`]) only in
//! that a customer may also drop out right after the first purchase (time
//! 0), so customers with `x = 0` can be inactive.
//!
//! Likelihood (Batislam et al. 2007, section 2):
//!
//! `L = B(a, b+x+1)/B(a, b) · Γ(r+x) α^r / (Γ(r)(α+T)^{r+x})
//!    + B(a+1, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r)(α+t_x)^{r+x})`.
//!
//! `P(alive) = 1/(1 + a/(b+x) ((α+T)/(α+t_x))^{r+x})`; conditional
//! expectation `(a+b+x)/(a−1) [1 − ((α+T)/(α+T+t))^{r+x} ₂F₁(r+x, b+x+1; a+b+x; t/(α+T+t))] / (1 + a/(b+x) ((α+T)/(α+t_x))^{r+x})`,
//! evaluated through Euler's transformation exactly as for BG/NBD; the
//! unconditional `E[X(t)]` is its value at `x = t_x = T = 0`
//! (`b/(a−1) [1 − (α/(α+t))^r ₂F₁(r, b+1; a+b; t/(α+t))]`);
//! `P(X(t) = n) = B(a, b+n+1)/B(a,b) NB(n) + B(a+1, b+n)/B(a,b) P(NB ≥ n)`.

use serde::{Deserialize, Serialize};

use super::beta_geo::{BetaGeoCore, BetaGeoObjective, Variant, check_count_data, default_start};
use super::data::TransactionSummary;
use super::error::{ModelError, finite};
use super::model::{
    Input, Model, Prediction, Role, TRANSACTION_INPUTS, TRANSACTION_PREDICTIONS, model_params,
    transaction_model_methods,
};
use super::optimize::{FitOptions, fit_builder_methods, run_fit};
use super::{FitReport, FittedRepr, ModelKind, TimeUnit, TransactionModel, check_param, fitted_serde};

/// MBG/NBD parameters (names as in the paper).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MbgNbdParams {
    /// Gamma shape of the purchase rate.
    pub r: f64,
    /// Gamma rate of the purchase rate (1/time-unit).
    pub alpha: f64,
    /// Beta shape a of the dropout probability.
    pub a: f64,
    /// Beta shape b of the dropout probability.
    pub b: f64,
}

impl MbgNbdParams {
    fn to_array(self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
    fn from_array(v: [f64; 4]) -> Self {
        MbgNbdParams {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        }
    }
    fn validate(&self) -> Result<(), ModelError> {
        check_param("r", self.r)?;
        check_param("alpha", self.alpha)?;
        check_param("a", self.a)?;
        check_param("b", self.b)?;
        Ok(())
    }
}

/// MBG/NBD fitter (builder); defaults as [`FitOptions`].
#[derive(Debug, Clone, Default)]
pub struct MbgNbd {
    options: FitOptions,
    initial: Option<MbgNbdParams>,
}

impl MbgNbd {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Starting point of the optimiser.
    pub fn initial_params(mut self, p: MbgNbdParams) -> Self {
        self.initial = Some(p);
        self
    }

    /// Maximum-likelihood fit.
    pub fn fit(&self, data: &TransactionSummary) -> Result<FittedMbgNbd, ModelError> {
        let c = data.compress_internal();
        check_count_data(&c)?;
        let start = match self.initial {
            Some(p) => {
                p.validate()?;
                p.to_array()
            }
            None => default_start(&c),
        };
        let mut obj = BetaGeoObjective::new(Variant::Mbg, c);
        let out = run_fit(&mut obj, start, &self.options, ModelKind::MbgNbd)?;
        let report = FitReport {
            log_likelihood: out.log_likelihood,
            iterations: out.iterations,
            converged: out.converged,
            standard_errors: out.standard_errors.map(MbgNbdParams::from_array),
            n_customers: out.n_customers,
            penalizer: self.options.penalizer,
        };
        FittedMbgNbd::build(MbgNbdParams::from_array(out.theta), data.time_unit(), Some(report))
    }
}

/// A fitted (or parameter-specified) MBG/NBD model.
#[derive(Debug, Clone)]
pub struct FittedMbgNbd {
    params: MbgNbdParams,
    time_unit: TimeUnit,
    fit: Option<FitReport<MbgNbdParams>>,
    core: BetaGeoCore,
}

fitted_serde!(FittedMbgNbd, MbgNbdParams, ModelKind::MbgNbd);

impl FittedMbgNbd {
    fn build(
        params: MbgNbdParams,
        time_unit: TimeUnit,
        fit: Option<FitReport<MbgNbdParams>>,
    ) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(FittedMbgNbd {
            params,
            time_unit,
            fit,
            core: BetaGeoCore::new(Variant::Mbg, params.to_array()),
        })
    }
    /// A model with known parameters.
    pub fn from_params(params: MbgNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::build(params, time_unit, None)
    }
    fn from_repr(r: FittedRepr<MbgNbdParams>) -> Result<Self, ModelError> {
        let unit = r.time_unit.ok_or(ModelError::MissingTimeUnit {
            reason: "serialized MBG/NBD model has no time unit",
        })?;
        Self::build(r.params, unit, r.fit)
    }
    fn to_repr(&self) -> FittedRepr<MbgNbdParams> {
        FittedRepr {
            kind: ModelKind::MbgNbd,
            format_version: super::FORMAT_VERSION,
            params: self.params,
            time_unit: Some(self.time_unit),
            fit: self.fit.clone(),
        }
    }
    /// Always [`ModelKind::MbgNbd`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::MbgNbd
    }
    /// The parameters.
    pub fn params(&self) -> MbgNbdParams {
        self.params
    }
    /// Time unit.
    pub fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }
    /// Fit diagnostics.
    pub fn fit_report(&self) -> Option<&FitReport<MbgNbdParams>> {
        self.fit.as_ref()
    }
    /// Log-likelihood at the estimate, if fitted.
    pub fn log_likelihood(&self) -> Option<f64> {
        self.fit.as_ref().map(|f| f.log_likelihood)
    }
    /// Standard errors, if fitted and available.
    pub fn standard_errors(&self) -> Option<MbgNbdParams> {
        self.fit.as_ref().and_then(|f| f.standard_errors)
    }
    /// `P(alive | x, t_x, T) = 1/(1 + a/(b+x) ((α+T)/(α+t_x))^{r+x})`.
    pub fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        self.core.p_alive(x, t_x, T)
    }
    /// Expected purchases in `(T, T+t]` given the history.
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        self.core.expected_purchases(t, x, t_x, T)
    }
    /// Unconditional `E[X(t)]`.
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
        self.core.expected_purchases_new(t)
    }
    /// `P(X(t) = n)`.
    pub fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
        self.core.prob_purchases(n, t)
    }
    /// Total log-likelihood of `data` under these parameters.
    pub fn log_likelihood_of(&self, data: &TransactionSummary) -> Result<f64, ModelError> {
        let d = data.to_unit(self.time_unit).compress_internal();
        if d.len() == 0 {
            return Err(ModelError::EmptyInput);
        }
        let mut obj = BetaGeoObjective::new(Variant::Mbg, d);
        finite(obj.log_likelihood(self.params.to_array()), "log-likelihood")
    }
}

super::beta_geo::beta_geo_transaction_model!(FittedMbgNbd, ModelKind::MbgNbd);

model_params!(MbgNbdParams { r, alpha, a, b });

impl Model for FittedMbgNbd {
    type Params = MbgNbdParams;
    const KIND: ModelKind = ModelKind::MbgNbd;
    const ALIASES: &'static [&'static str] = &["mbgnbd"];
    const DISPLAY_NAME: &'static str = "MBG/NBD";
    const DESCRIPTION: &'static str = "Modified BG/NBD (Batislam, Denizel & Filiztekin 2007)";
    const FIT_FUNCTION: &'static str = "mbgnbd_fit";
    const INPUTS: &'static [Input] = TRANSACTION_INPUTS;
    const TIME_UNIT: bool = true;
    const ROLES: &'static [Role] = &[Role::Transactions];
    const PREDICTIONS: &'static [&'static Prediction] = TRANSACTION_PREDICTIONS;

    transaction_model_methods!(MbgNbd);

    fn from_params(params: MbgNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::from_params(params, time_unit)
    }
}
