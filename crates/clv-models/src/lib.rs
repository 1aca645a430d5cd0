//! Customer-lifetime-value models: the numerical core.
//!
//! | model | file | reference |
//! |---|---|---|
//! | BG/NBD | [`bgnbd`] | Fader, Hardie & Lee (2005), *Marketing Science* 24(2) |
//! | Pareto/NBD | [`pareto_nbd`] | Schmittlein, Morrison & Colombo (1987); Fader & Hardie (2005) notes |
//! | MBG/NBD | [`mbgnbd`] | Batislam, Denizel & Filiztekin (2007), *IJRM* 24(3) |
//! | BG/BB | [`bgbb`] | Fader, Hardie & Shang (2010), *Marketing Science* 29(6) |
//! | Gamma-Gamma | [`gamma_gamma`] | Fader & Hardie (2013) note; Fader, Hardie & Lee (2005b) |
//! | sBG | [`sbg`] | Fader & Hardie (2007), *J. Interactive Marketing* 21(1); (2010) *Marketing Science* 29(1) |
//! | window forecasts (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB) | [`window`] | FHL (2005) eq. 8; Fader & Hardie notes 012, 028 |
//! | logistic regression (churn model) | [`logistic`] | ridge logistic regression, glmnet's objective |
//! | k-means | [`kmeans`] | Lloyd (1982); Arthur & Vassilvitskii (2007); Hamerly (2010) |
//!
//! Around the models: [`bootstrap`] (customer-bootstrap and delta-method intervals),
//! [`covariates`] (static covariates on BG/NBD and Pareto/NBD), [`dert`] (discounted expected
//! residual transactions), [`tracking`] (expected repeat transactions per period, frequency ×
//! recency matrices), [`holdout`] (holdout accuracy, AIC/BIC, likelihood-ratio tests, model
//! choice), [`probability`] (incomplete gamma and normal functions).
//!
//! Everything is computed in log space; parameters are named as in the
//! papers. Every fallible call returns [`ModelError`]; no function returns a
//! NaN or an infinity.
//!
//! Every model has one identity, the [`Model`] trait on its fitted type, listed once in
//! [`registry`]; see [`model`].
//!
//! Fitting: `Model::new()` returns a builder with documented defaults
//! ([`optimize::FitOptions`]), e.g.
//! `BgNbd::new().penalizer(0.0).fit(&summary)?` → [`FittedBgNbd`]. Identical
//! rows are merged into weights automatically. Fitted models serialize with
//! serde; the serialized form carries a `kind` tag and loading it as another
//! kind fails with [`ModelError::WrongModelKind`] (wrapped in the
//! deserializer's error).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
// `T` is the paper's name for the age of a customer.
#![allow(non_snake_case)]
// Numerical-code conventions: comparisons written as `!(x > 0.0)` are
// deliberate (they are also true for NaN); index loops walk parallel arrays
// and small matrices; likelihood kernels take the model parameters as
// separate arguments, named as in the papers.
#![allow(
    clippy::neg_cmp_op_on_partial_ord,
    clippy::needless_range_loop,
    clippy::too_many_arguments
)]

use serde::{Deserialize, Serialize};

pub(crate) mod batch;
pub(crate) mod beta_geo;
pub mod bgbb;
pub mod bgnbd;
pub mod bootstrap;
pub mod clv;
pub mod covariates;
pub mod data;
pub mod dert;
pub(crate) mod dual;
pub mod error;
pub mod exact_sum;
pub mod gamma_gamma;
pub mod holdout;
pub mod kmeans;
pub mod logistic;
pub mod mbgnbd;
pub(crate) mod memo;
pub mod model;
pub mod optimize;
pub mod pareto_nbd;
pub mod probability;
pub(crate) mod refine;
pub mod registry;
pub mod sbg;
pub mod simulate;
pub mod special;
pub mod tracking;
pub mod window;

pub use bgbb::{BgBb, BgBbParams, FittedBgBb};
pub use bgnbd::{BgNbd, BgNbdParams, FittedBgNbd};
pub use clv::{ClvSpec, Discounting, historical_clv};
pub use data::{DiscreteSummary, SpendSummary, SurvivalData, TIME_UNIT_METADATA, TimeUnit, TransactionSummary};
pub use error::ModelError;
pub use gamma_gamma::{FittedGammaGamma, GammaGamma, GammaGammaParams, spend_frequency_correlation};
pub use kmeans::{FittedKMeans, KMeans};
pub use logistic::{FittedLogistic, LogisticRegression};
pub use mbgnbd::{FittedMbgNbd, MbgNbd, MbgNbdParams};
pub use model::{FitData, FittedModel, Model, ModelSpec, Prediction, Role, SpendModel};
pub use optimize::FitOptions;
pub use pareto_nbd::{FittedParetoNbd, ParetoNbd, ParetoNbdParams};
pub use registry::{MODELS, ModelKind};
pub use sbg::{FittedSbg, Sbg, SbgParams};
pub use window::WindowForecast;

/// The cores this process may use, read once (`available_parallelism` reads cgroup files on
/// every call, too slow for an optimiser's inner loop).
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Deserialize any serialized fitted model into this to read its kind
/// without loading it (unknown fields are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct KindTag {
    /// The model kind recorded in the serialized model.
    pub kind: ModelKind,
}

/// Version of the serialized form written by this crate.
pub const FORMAT_VERSION: u32 = 1;

/// Diagnostics of a maximum-likelihood fit, carried by every fitted model
/// (absent for models built from known parameters with `from_params`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport<P> {
    /// Log-likelihood at the estimate (without the penalty term). For the
    /// continuous-time models it is in the fitted time unit (it is not
    /// invariant to a change of unit).
    pub log_likelihood: f64,
    /// Total optimiser iterations (warm start, L-BFGS and fallback stages).
    pub iterations: usize,
    /// Whether the convergence criterion was met (see [`optimize`]).
    pub converged: bool,
    /// Standard errors on the natural parameter scale; `None` when the
    /// numerically differentiated Hessian was not positive definite.
    pub standard_errors: Option<P>,
    /// Number of customers (sum of the weights).
    pub n_customers: f64,
    /// Penalizer used.
    pub penalizer: f64,
}

/// Serialized form of every fitted model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
pub(crate) struct FittedRepr<P> {
    pub kind: ModelKind,
    pub format_version: u32,
    pub params: P,
    #[serde(default)]
    pub time_unit: Option<TimeUnit>,
    #[serde(default)]
    pub fit: Option<FitReport<P>>,
}

/// Deserializes a [`FittedRepr`] and checks its kind as soon as the `kind`
/// field is read (the serializer writes it first), so that loading a model
/// as another kind reports [`ModelError::WrongModelKind`] rather than a
/// confusing "missing field" error about the parameters.
pub(crate) fn deserialize_repr<'de, D, P>(d: D, expected: ModelKind) -> Result<FittedRepr<P>, D::Error>
where
    D: serde::Deserializer<'de>,
    P: Deserialize<'de>,
{
    use serde::de::{self, IgnoredAny, MapAccess, Visitor};
    struct V<P> {
        expected: ModelKind,
        _p: std::marker::PhantomData<P>,
    }
    impl<'de, P: Deserialize<'de>> Visitor<'de> for V<P> {
        type Value = FittedRepr<P>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a serialized {} model", self.expected)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut kind = None;
            let mut format_version = None;
            let mut params = None;
            let mut time_unit = None;
            let mut fit = None;
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "kind" => {
                        let k: ModelKind = map.next_value()?;
                        k.ensure(self.expected).map_err(de::Error::custom)?;
                        kind = Some(k);
                    }
                    "format_version" => format_version = Some(map.next_value::<u32>()?),
                    "params" => params = Some(map.next_value::<P>()?),
                    "time_unit" => time_unit = map.next_value::<Option<TimeUnit>>()?,
                    "fit" => fit = map.next_value::<Option<FitReport<P>>>()?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
            let format_version = format_version.ok_or_else(|| de::Error::missing_field("format_version"))?;
            if format_version != FORMAT_VERSION {
                return Err(de::Error::custom(ModelError::UnsupportedFormatVersion {
                    found: format_version,
                }));
            }
            let params = params.ok_or_else(|| de::Error::missing_field("params"))?;
            Ok(FittedRepr {
                kind,
                format_version,
                params,
                time_unit,
                fit,
            })
        }
    }
    d.deserialize_struct(
        "FittedModel",
        &["kind", "format_version", "params", "time_unit", "fit"],
        V {
            expected,
            _p: std::marker::PhantomData,
        },
    )
}

/// Implements `Serialize` (through [`FittedRepr`]) and `Deserialize` (with
/// the kind check) for a fitted model that has
/// `fn from_repr(FittedRepr<P>) -> Result<Self, ModelError>` and
/// `fn to_repr(&self) -> FittedRepr<P>`.
macro_rules! fitted_serde {
    ($fitted:ident, $params:ty, $kind:expr) => {
        impl serde::Serialize for $fitted {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.to_repr().serialize(s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $fitted {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let r = $crate::deserialize_repr::<D, $params>(d, $kind)?;
                $fitted::from_repr(r).map_err(<D::Error as serde::de::Error>::custom)
            }
        }
    };
}
pub(crate) use fitted_serde;

/// `Ok(v)` for a strictly positive finite parameter.
pub(crate) fn check_param(name: &'static str, v: f64) -> Result<f64, ModelError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ModelError::InvalidParameter { name, value: v })
    }
}

/// `Ok(v)` for a finite, non-negative argument.
pub(crate) fn check_arg(name: &'static str, v: f64) -> Result<f64, ModelError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(ModelError::InvalidArgument {
            name,
            value: v,
            reason: "must be finite and >= 0",
        })
    }
}

/// Common interface of the continuous-time repeat-purchase models
/// (BG/NBD, MBG/NBD, Pareto/NBD), used by [`clv`].
///
/// All times (`t`, `t_x`, `T`) are in the model's [`TimeUnit`].
pub trait TransactionModel: Send + Sync {
    /// Which model this is.
    fn kind(&self) -> ModelKind;
    /// Unit of the data the model was fitted on (and of every time argument).
    fn time_unit(&self) -> TimeUnit;
    /// Probability that a customer with history `(x, t_x, T)` is alive at `T`.
    fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError>;
    /// Expected number of purchases in `(T, T + t]` given `(x, t_x, T)`.
    fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError>;
    /// Unconditional `E[X(t)]` for a customer who made the first purchase at 0.
    fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError>;
    /// `P(X(t) = n)` for a new customer.
    fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError>;

    /// [`TransactionModel::p_alive`] for many customers (slices of equal length, else
    /// [`ModelError::LengthMismatch`]; a bad row is an error naming its index). 65,536 rows or
    /// more are split over the cores; where a prediction costs more than a hash lookup,
    /// customers with equal `(x, t_x, T)` are evaluated once ([`batch`]), and models share
    /// work between customers with equal `(x, t_x)` or `(x, T)`. The values are exactly those
    /// of one call per customer.
    fn p_alive_many(&self, x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        batch::check_rows(&[], x, t_x, T)?;
        batch::score_rows([x, t_x, T], batch::Repeats::Ignore, |[x, t_x, T], out| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.p_alive(x[i], t_x[i], T[i])?;
            }
            Ok(())
        })
    }

    /// [`TransactionModel::expected_purchases`] for many customers (slices of equal length,
    /// one horizon per customer); see [`TransactionModel::p_alive_many`].
    fn expected_purchases_many(&self, t: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        batch::check_rows(&[("t", t)], x, t_x, T)?;
        batch::score_rows([t, x, t_x, T], batch::Repeats::Merge, |[t, x, t_x, T], out| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.expected_purchases(t[i], x[i], t_x[i], T[i])?;
            }
            Ok(())
        })
    }

    /// [`TransactionModel::p_alive`] for every row of `data` (its times are
    /// converted explicitly to the model's unit).
    fn p_alive_batch(&self, data: &TransactionSummary) -> Result<Vec<f64>, ModelError> {
        let (t_x, T) = (data.recency_in(self.time_unit()), data.t_in(self.time_unit()));
        self.p_alive_many(data.frequency(), &t_x, &T)
    }

    /// [`TransactionModel::expected_purchases`] for every row of `data`;
    /// `t` is in the model's unit, `data`'s times are converted explicitly.
    fn expected_purchases_batch(&self, t: f64, data: &TransactionSummary) -> Result<Vec<f64>, ModelError> {
        let (t_x, T) = (data.recency_in(self.time_unit()), data.t_in(self.time_unit()));
        let horizon = vec![t; data.len()];
        self.expected_purchases_many(&horizon, data.frequency(), &t_x, &T)
    }
}

/// Hooks for the criterion benches (`benches/benches/kernels.rs`): the fitting objectives as the
/// optimiser sees them. Not a stable API.
#[doc(hidden)]
pub mod bench_hooks {
    use super::optimize::Objective;
    use super::{TransactionSummary, beta_geo, pareto_nbd};

    /// The BG/NBD objective on `data` (rows compressed as in a fit): a closure returning the mean
    /// negative log-likelihood at `exp(φ)` and its gradient in `φ = ln(r, α, a, b)`.
    pub fn bgnbd_objective(data: &TransactionSummary) -> impl FnMut(&[f64; 4]) -> (f64, [f64; 4]) {
        let mut obj = beta_geo::BetaGeoObjective::new(beta_geo::Variant::Bg, data.compress_internal());
        move |phi| {
            let mut g = [0.0; 4];
            (obj.eval(phi, &mut g), g)
        }
    }

    /// The Pareto/NBD objective on `data`, as [`bgnbd_objective`] (`φ = ln(r, α, s, β)`).
    pub fn pareto_nbd_objective(data: &TransactionSummary) -> impl FnMut(&[f64; 4]) -> (f64, [f64; 4]) {
        let mut obj = pareto_nbd::ParetoObjective::new(data.compress_internal());
        move |phi| {
            let mut g = [0.0; 4];
            (obj.eval(phi, &mut g), g)
        }
    }
}
