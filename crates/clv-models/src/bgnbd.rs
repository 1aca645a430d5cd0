//! BG/NBD — beta-geometric/negative-binomial model.
//!
//! Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your
//! Customers' the Easy Way: An Alternative to the Pareto/NBD Model",
//! *Marketing Science* 24(2), 275–284. Equation numbers below refer to that
//! paper.
//!
//! * While active, purchases follow a Poisson process with rate λ,
//!   `λ ~ Gamma(r, α)` (shape r, rate α).
//! * After every *repeat* purchase the customer becomes inactive with
//!   probability p, `p ~ Beta(a, b)`.
//!
//! Likelihood (eq. 6), evaluated in log space with a log-sum-exp of its two
//! terms:
//!
//! `L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^{r+x})
//!    + δ_{x>0} B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^{r+x})`.
//!
//! Predictions: `E[X(t)]` (eq. 9), `P(X(t) = x)` (eq. 8), conditional
//! expectation `E[Y(t) | x, t_x, T]` (eq. 10), and `P(alive)` from Fader,
//! Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD Model" (note 021). The Gauss
//! hypergeometric functions of eqs. 9 and 10 are
//! rewritten with Euler's transformation
//! `(1−z)^{r+x} ₂F₁(r+x, b+x; a+b+x−1; z) = (1−z)^{a−1} ₂F₁(a−1, a+b−1−r; a+b+x−1; z)`
//! and the `1 − …` difference divided by `a − 1` is evaluated without
//! cancellation (see `beta_geo_numerator`), so `a → 1` and `a + b < 1`
//! are handled.
//!
//! The likelihood and prediction code is shared with MBG/NBD ([`crate::mbgnbd`]) in
//! `beta_geo` (the beta-geometric family).
use serde::{Deserialize, Serialize};

use super::beta_geo::{
    BetaGeoCore, BetaGeoObjective, Variant, beta_geo_transaction_model, check_count_data, default_start,
};
use super::data::TransactionSummary;
use super::error::{ModelError, finite};
use super::model::{
    Input, Model, Prediction, Role, TRANSACTION_INPUTS, TRANSACTION_PREDICTIONS, model_params,
    transaction_model_methods,
};
use super::optimize::{FitOptions, fit_builder_methods, run_fit};
use super::{FitReport, FittedRepr, ModelKind, TimeUnit, TransactionModel, check_param, fitted_serde};

/// BG/NBD parameters (names as in the paper).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the gamma distribution of the purchase rate λ.
    pub r: f64,
    /// Rate (inverse scale) of the gamma distribution of λ, in 1/time-unit.
    pub alpha: f64,
    /// First shape of the beta distribution of the dropout probability p.
    pub a: f64,
    /// Second shape of the beta distribution of p.
    pub b: f64,
}

impl BgNbdParams {
    pub(crate) fn to_array(self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
    pub(crate) fn from_array(v: [f64; 4]) -> Self {
        BgNbdParams {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        }
    }
    pub(crate) fn validate(&self) -> Result<(), ModelError> {
        check_param("r", self.r)?;
        check_param("alpha", self.alpha)?;
        check_param("a", self.a)?;
        check_param("b", self.b)?;
        Ok(())
    }
}

/// BG/NBD fitter (builder). Defaults: see [`FitOptions`]; starting point
/// `r = 1`, `α = ΣT/Σx`, `a = b = 1` unless [`BgNbd::initial_params`] is set.
#[derive(Debug, Clone, Default)]
pub struct BgNbd {
    options: FitOptions,
    initial: Option<BgNbdParams>,
}

impl BgNbd {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Starting point of the optimiser.
    pub fn initial_params(mut self, p: BgNbdParams) -> Self {
        self.initial = Some(p);
        self
    }

    /// Maximum-likelihood fit (eq. 6) on `data`.
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`], [`ModelError::NoRepeatPurchases`],
    /// invalid options, [`ModelError::NotConverged`].
    pub fn fit(&self, data: &TransactionSummary) -> Result<FittedBgNbd, ModelError> {
        let c = data.compress_internal();
        check_count_data(&c)?;
        let start = match self.initial {
            Some(p) => {
                p.validate()?;
                p.to_array()
            }
            None => default_start(&c),
        };
        let mut obj = BetaGeoObjective::new(Variant::Bg, c);
        let out = run_fit(&mut obj, start, &self.options, ModelKind::BgNbd)?;
        let params = BgNbdParams::from_array(out.theta);
        let report = FitReport {
            log_likelihood: out.log_likelihood,
            iterations: out.iterations,
            converged: out.converged,
            standard_errors: out.standard_errors.map(BgNbdParams::from_array),
            n_customers: out.n_customers,
            penalizer: self.options.penalizer,
        };
        FittedBgNbd::build(params, data.time_unit(), Some(report))
    }
}

/// A fitted (or parameter-specified) BG/NBD model.
#[derive(Debug, Clone)]
pub struct FittedBgNbd {
    params: BgNbdParams,
    time_unit: TimeUnit,
    fit: Option<FitReport<BgNbdParams>>,
    core: BetaGeoCore,
}

fitted_serde!(FittedBgNbd, BgNbdParams, ModelKind::BgNbd);

impl FittedBgNbd {
    fn build(
        params: BgNbdParams,
        time_unit: TimeUnit,
        fit: Option<FitReport<BgNbdParams>>,
    ) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(FittedBgNbd {
            params,
            time_unit,
            fit,
            core: BetaGeoCore::new(Variant::Bg, params.to_array()),
        })
    }

    /// A model with known parameters (no fit report), times in `time_unit`.
    pub fn from_params(params: BgNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::build(params, time_unit, None)
    }

    fn from_repr(r: FittedRepr<BgNbdParams>) -> Result<Self, ModelError> {
        let unit = r.time_unit.ok_or(ModelError::MissingTimeUnit {
            reason: "serialized BG/NBD model has no time unit",
        })?;
        Self::build(r.params, unit, r.fit)
    }

    fn to_repr(&self) -> FittedRepr<BgNbdParams> {
        FittedRepr {
            kind: ModelKind::BgNbd,
            format_version: super::FORMAT_VERSION,
            params: self.params,
            time_unit: Some(self.time_unit),
            fit: self.fit.clone(),
        }
    }

    /// Always [`ModelKind::BgNbd`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::BgNbd
    }
    /// The parameters.
    pub fn params(&self) -> BgNbdParams {
        self.params
    }
    /// Time unit of the data (and of every time argument).
    pub fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }
    /// Fit diagnostics (`None` for [`FittedBgNbd::from_params`]).
    pub fn fit_report(&self) -> Option<&FitReport<BgNbdParams>> {
        self.fit.as_ref()
    }
    /// Log-likelihood at the estimate, if fitted.
    pub fn log_likelihood(&self) -> Option<f64> {
        self.fit.as_ref().map(|f| f.log_likelihood)
    }
    /// Standard errors, if fitted and available.
    pub fn standard_errors(&self) -> Option<BgNbdParams> {
        self.fit.as_ref().and_then(|f| f.standard_errors)
    }

    /// The same model expressed in another time unit: α (the gamma rate of
    /// λ, which carries the unit of time) is multiplied by
    /// `old unit / new unit` (×7 from weeks to days); r, a, b are unchanged.
    /// The fit report is dropped because the log-likelihood depends on the unit.
    pub fn to_unit(&self, unit: TimeUnit) -> FittedBgNbd {
        let mut p = self.params;
        p.alpha *= self.time_unit.convert(1.0, unit);
        FittedBgNbd::build(p, unit, None).expect("rescaled parameters stay valid")
    }

    /// `P(alive | x, t_x, T)` (Fader, Hardie & Lee 2008 note "Computing
    /// P(alive) Using the BG/NBD Model"):
    /// `1 / (1 + δ_{x>0} a/(b+x−1) ((α+T)/(α+t_x))^{r+x})`.
    pub fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        self.core.p_alive(x, t_x, T)
    }

    /// Conditional expectation of the number of purchases in `(T, T+t]`
    /// (eq. 10).
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        self.core.expected_purchases(t, x, t_x, T)
    }

    /// Unconditional `E[X(t)]` (eq. 9).
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
        self.core.expected_purchases_new(t)
    }

    /// `P(X(t) = n)` (eq. 8).
    pub fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
        self.core.prob_purchases(n, t)
    }

    /// Total log-likelihood (eq. 6) of `data` under these parameters; the
    /// data's times are converted explicitly to the model's unit.
    pub fn log_likelihood_of(&self, data: &TransactionSummary) -> Result<f64, ModelError> {
        let d = data.to_unit(self.time_unit).compress_internal();
        if d.len() == 0 {
            return Err(ModelError::EmptyInput);
        }
        let mut obj = BetaGeoObjective::new(Variant::Bg, d);
        finite(obj.log_likelihood(self.params.to_array()), "log-likelihood")
    }
}

beta_geo_transaction_model!(FittedBgNbd, ModelKind::BgNbd);

model_params!(BgNbdParams { r, alpha, a, b });

impl Model for FittedBgNbd {
    type Params = BgNbdParams;
    const KIND: ModelKind = ModelKind::BgNbd;
    const ALIASES: &'static [&'static str] = &["bgnbd"];
    const DISPLAY_NAME: &'static str = "BG/NBD";
    const DESCRIPTION: &'static str = "BG/NBD (Fader, Hardie & Lee 2005): repeat purchases and dropout";
    const FIT_FUNCTION: &'static str = "bgnbd_fit";
    const INPUTS: &'static [Input] = TRANSACTION_INPUTS;
    const TIME_UNIT: bool = true;
    const ROLES: &'static [Role] = &[Role::Transactions];
    const PREDICTIONS: &'static [&'static Prediction] = TRANSACTION_PREDICTIONS;

    transaction_model_methods!(BgNbd);

    fn from_params(params: BgNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::from_params(params, time_unit)
    }
}
