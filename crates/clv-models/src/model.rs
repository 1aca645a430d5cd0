//! One identity per model: the [`Model`] trait, implemented by each fitted model type in its
//! own kernel file, owns the model's name and aliases, its inputs and parameter names, its fit,
//! its predictions, its JSON form (serde) and, through them, the SQL struct its fit returns.
//! [`ModelSpec`] is its object-safe registry entry, listed once in [`crate::registry`].
//!
//! Everything else reads the registry: the SQL fit aggregates (`bgnbd_fit`, ...), the
//! prediction functions (`p_alive`, ...), the model structs they take, the `clv.ltv.model`
//! option, the `clv fit` / `clv predict` commands and their JSON files. Adding a model means one
//! kernel file that implements [`Model`], one line in [`crate::registry`] and its tests.

use std::any::Any;
use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{FitOptions, FitReport, ModelError, ModelKind, TimeUnit, TransactionModel, WindowForecast};

/// The kind of value a fit input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// A number (count, time, amount).
    Number,
    /// A yes/no flag, handed to the fit as 0 or 1 (SQL: boolean).
    Flag,
}

/// One input column of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Input {
    /// Its name in messages and in the SQL syntax (`x`, `t_x`, ...).
    pub name: &'static str,
    /// Number or flag.
    pub kind: InputKind,
}

impl Input {
    /// A numeric input.
    pub const fn number(name: &'static str) -> Self {
        Self {
            name,
            kind: InputKind::Number,
        }
    }

    /// A yes/no input.
    pub const fn flag(name: &'static str) -> Self {
        Self {
            name,
            kind: InputKind::Flag,
        }
    }
}

/// A slot a model can fill in clv's pipelines (`clv_predict`, `clv fit`, `clv predict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Repeat purchases over continuous time, fitted on a BTYD summary's `(x, t_x, t)`: the
    /// `clv.ltv.model` of `clv_predict` and the churn functions, `clv fit --model`,
    /// `clv predict --model`, the transaction side of `clv()`. Its fitted models answer
    /// [`FittedModel::transaction_model`].
    Transactions,
    /// Spend per purchase, fitted on a BTYD summary's `(x, monetary)` of the customers with
    /// repeat purchases of positive mean value: the spend side of `clv()` and `clv_predict`,
    /// `clv predict --spend-model`. Its fitted models answer [`FittedModel::spend_model`].
    Spend,
}

/// A prediction a model answers: the SQL scalar function `name(model, args...)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Prediction {
    /// The SQL function name.
    pub name: &'static str,
    /// The arguments after the model.
    pub args: &'static [&'static str],
    /// What it computes (the function's reference description).
    pub description: &'static str,
}

/// `p_alive(model, x, t_x, t)`.
pub const P_ALIVE: Prediction = Prediction {
    name: "p_alive",
    args: &["x", "t_x", "t"],
    description: "P(alive at t) of a customer with history (x, t_x, t); for bg_bb, t is n",
};
/// `churn_probability(model, window, x, t_x, t)`: what churn labels count as churn.
pub const CHURN_PROBABILITY: Prediction = Prediction {
    name: "churn_probability",
    args: &["window", "x", "t_x", "t"],
    description: "P(no purchase in (t, t + window]) of a customer with history (x, t_x, t), the probability that a churn label with this window is true (bg_bb: window in whole periods)",
};
/// `dropout_probability(model, x, t_x, t)`.
pub const DROPOUT_PROBABILITY: Prediction = Prediction {
    name: "dropout_probability",
    args: &["x", "t_x", "t"],
    description: "1 - p_alive: the probability of having dropped out for good by t (not the churn probability of a window)",
};
/// `expected_purchases(model, horizon, x, t_x, t)`.
pub const EXPECTED_PURCHASES: Prediction = Prediction {
    name: "expected_purchases",
    args: &["horizon", "x", "t_x", "t"],
    description: "expected purchases in (t, t + horizon] (bg_bb: horizon in whole periods)",
};
/// `expected_purchases_new(model, t)`.
pub const EXPECTED_PURCHASES_NEW: Prediction = Prediction {
    name: "expected_purchases_new",
    args: &["t"],
    description: "E[X(t)] of a new customer",
};
/// `prob_purchases(model, n, t)`.
pub const PROB_PURCHASES: Prediction = Prediction {
    name: "prob_purchases",
    args: &["n", "t"],
    description: "P(X(t) = n) of a new customer",
};
/// `expected_spend(model, x, monetary)`.
pub const EXPECTED_SPEND: Prediction = Prediction {
    name: "expected_spend",
    args: &["x", "monetary"],
    description: "the Gamma-Gamma conditional mean spend per purchase of a customer with x repeat purchases of mean monetary",
};
/// `survival(model, t)`.
pub const SURVIVAL: Prediction = Prediction {
    name: "survival",
    args: &["t"],
    description: "S(t), the share of a cohort still active after t periods",
};
/// `retention_rate(model, t)`.
pub const RETENTION_RATE: Prediction = Prediction {
    name: "retention_rate",
    args: &["t"],
    description: "r(t) = S(t) / S(t - 1)",
};
/// `derl(model, discount_rate)`.
pub const DERL: Prediction = Prediction {
    name: "derl",
    args: &["discount_rate"],
    description: "the discounted expected residual lifetime of a just-renewed customer",
};

/// The inputs of the continuous-time repeat-purchase models: a BTYD summary's repeat purchases,
/// recency and age.
pub const TRANSACTION_INPUTS: &[Input] = &[Input::number("x"), Input::number("t_x"), Input::number("t")];

/// The predictions of the continuous-time repeat-purchase models, answered through
/// [`TransactionModel`] by [`transaction_prediction`].
pub const TRANSACTION_PREDICTIONS: &[&Prediction] = &[
    &P_ALIVE,
    &CHURN_PROBABILITY,
    &DROPOUT_PROBABILITY,
    &EXPECTED_PURCHASES,
    &EXPECTED_PURCHASES_NEW,
    &PROB_PURCHASES,
];

/// A model's parameter struct, with its field names as in the paper.
pub trait Params: Copy + Debug + Send + Sync + 'static {
    /// The parameter names, in the paper's order.
    const NAMES: &'static [&'static str];
    /// The values in [`Params::NAMES`] order.
    fn values(&self) -> Vec<f64>;
    /// From values in [`Params::NAMES`] order (a missing value is NaN, which validation rejects).
    fn from_values(values: &[f64]) -> Self;
}

/// Implements [`Params`] for a parameter struct of `f64` fields.
macro_rules! model_params {
    ($params:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::model::Params for $params {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];
            fn values(&self) -> Vec<f64> {
                vec![$(self.$field),+]
            }
            fn from_values(values: &[f64]) -> Self {
                let mut v = values.iter().copied();
                Self { $($field: v.next().unwrap_or(f64::NAN)),+ }
            }
        }
    };
}
pub(crate) use model_params;

/// The data a fit reads, as the SQL fit aggregates collect it: one column per input (flags as
/// 0 or 1), a weight per row and, for the continuous-time models, the unit of the times.
#[derive(Debug, Clone, PartialEq)]
pub struct FitData {
    /// One column per [`Model::INPUTS`] entry, all of the same length.
    pub columns: Vec<Vec<f64>>,
    /// Customers each row stands for.
    pub weights: Vec<f64>,
    /// Unit of the time inputs (ignored by models without [`Model::TIME_UNIT`]).
    pub time_unit: TimeUnit,
}

impl FitData {
    /// Column `i` (empty when missing: the model's data constructor then reports the lengths).
    pub fn column(&self, i: usize) -> Vec<f64> {
        self.columns.get(i).cloned().unwrap_or_default()
    }
}

/// A model: its identity and behaviour, implemented by its fitted type (`FittedBgNbd`, ...).
pub trait Model: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// The parameters, named as in the paper.
    type Params: Params;
    /// The kind: the serialized and SQL name (`bg_nbd`).
    const KIND: ModelKind;
    /// Other names `clv.ltv.model` accepts (`bgnbd`).
    const ALIASES: &'static [&'static str] = &[];
    /// The name as the papers write it (`BG/NBD`).
    const DISPLAY_NAME: &'static str;
    /// One line: the model, its paper and what it describes.
    const DESCRIPTION: &'static str;
    /// The SQL aggregate that fits it (`bgnbd_fit`).
    const FIT_FUNCTION: &'static str;
    /// The fit's input columns, in order.
    const INPUTS: &'static [Input];
    /// Whether the time inputs carry a continuous time unit (day, week, month).
    const TIME_UNIT: bool = false;
    /// Fit diagnostics returned next to the parameters (SQL struct fields).
    const DIAGNOSTICS: &'static [&'static str] = &[];
    /// Yes/no properties of the fitted parameters returned next to them (SQL struct fields),
    /// such as Gamma-Gamma's `finite_mean_spend`.
    const CHECKS: &'static [&'static str] = &[];
    /// The pipeline slots it fills.
    const ROLES: &'static [Role] = &[];
    /// The SQL prediction functions it answers.
    const PREDICTIONS: &'static [&'static Prediction] = &[];

    /// Maximum-likelihood fit.
    fn fit(data: FitData, options: &FitOptions) -> Result<Self, ModelError>;
    /// The values of [`Model::DIAGNOSTICS`] on the fit's data (`None` where undefined).
    fn diagnostics(_data: &FitData) -> Vec<Option<f64>> {
        Vec::new()
    }
    /// The values of [`Model::CHECKS`].
    fn checks(&self) -> Vec<bool> {
        Vec::new()
    }
    /// A model with known parameters; `time_unit` is the unit of the time arguments
    /// (ignored by models without [`Model::TIME_UNIT`]).
    fn from_params(params: Self::Params, time_unit: TimeUnit) -> Result<Self, ModelError>;
    /// The parameters.
    fn model_params(&self) -> Self::Params;
    /// The fit diagnostics (`None` for a model built from parameters).
    fn model_fit_report(&self) -> Option<&FitReport<Self::Params>>;
    /// Answers one of [`Model::PREDICTIONS`] for one customer; `args` follow
    /// [`Prediction::args`].
    fn predict(&self, prediction: &Prediction, args: &[f64]) -> Result<f64, ModelError>;
    /// [`Model::predict`] for a whole batch (one column per argument), where the model shares
    /// work between rows; `None` where it has no batch form.
    fn predict_many(&self, _prediction: &Prediction, _columns: &[&[f64]]) -> Option<Result<Vec<f64>, ModelError>> {
        None
    }
    /// The model as a repeat-purchase model ([`Role::Transactions`]).
    fn transaction_model(&self) -> Option<&dyn TransactionModel> {
        None
    }
    /// The model as a spend model ([`Role::Spend`]).
    fn spend_model(&self) -> Option<&dyn SpendModel> {
        None
    }
}

/// A model of the spend per purchase ([`Role::Spend`]), as `clv()` uses it.
pub trait SpendModel: Send + Sync {
    /// Expected mean spend per purchase of a customer with `x` repeat purchases of mean
    /// `mean_spend`.
    fn conditional_expected_spend(&self, x: f64, mean_spend: f64) -> Result<f64, ModelError>;
}

/// What a fit reports, with the standard errors in parameter order.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// Log-likelihood at the estimate (without the penalty).
    pub log_likelihood: f64,
    /// Optimiser iterations.
    pub iterations: usize,
    /// Whether the convergence criterion was met.
    pub converged: bool,
    /// Standard errors in [`Params::NAMES`] order; `None` when the Hessian was not positive
    /// definite.
    pub standard_errors: Option<Vec<f64>>,
    /// Customers (sum of the weights).
    pub n_customers: f64,
}

/// A fitted model of any kind (object-safe; every [`Model`] is one).
pub trait FittedModel: Debug + Send + Sync {
    /// Which model it is.
    fn kind(&self) -> ModelKind;
    /// The parameter values in [`ModelSpec::params`] order.
    fn params(&self) -> Vec<f64>;
    /// The fit's report (`None` for a model built from parameters).
    fn fit_summary(&self) -> Option<FitSummary>;
    /// The values of [`ModelSpec::checks`].
    fn checks(&self) -> Vec<bool>;
    /// The serialized form (the JSON of `clv fit` files).
    fn to_json(&self) -> Result<String, serde_json::Error>;
    /// The serialized form, indented.
    fn to_json_pretty(&self) -> Result<String, serde_json::Error>;
    /// Answers a prediction it supports (see [`ModelSpec::predicts`]).
    fn predict(&self, prediction: &Prediction, args: &[f64]) -> Result<f64, ModelError>;
    /// The batch form of [`FittedModel::predict`], where the model has one.
    fn predict_many(&self, prediction: &Prediction, columns: &[&[f64]]) -> Option<Result<Vec<f64>, ModelError>>;
    /// The model as a repeat-purchase model.
    fn transaction_model(&self) -> Option<&dyn TransactionModel>;
    /// The model as a spend model.
    fn spend_model(&self) -> Option<&dyn SpendModel>;
    /// The concrete type, for downcasting.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Model> FittedModel for T {
    fn kind(&self) -> ModelKind {
        T::KIND
    }
    fn params(&self) -> Vec<f64> {
        self.model_params().values()
    }
    fn fit_summary(&self) -> Option<FitSummary> {
        self.model_fit_report().map(|r| FitSummary {
            log_likelihood: r.log_likelihood,
            iterations: r.iterations,
            converged: r.converged,
            standard_errors: r.standard_errors.as_ref().map(Params::values),
            n_customers: r.n_customers,
        })
    }
    fn checks(&self) -> Vec<bool> {
        Model::checks(self)
    }
    fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
    fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
    fn predict(&self, prediction: &Prediction, args: &[f64]) -> Result<f64, ModelError> {
        Model::predict(self, prediction, args)
    }
    fn predict_many(&self, prediction: &Prediction, columns: &[&[f64]]) -> Option<Result<Vec<f64>, ModelError>> {
        Model::predict_many(self, prediction, columns)
    }
    fn transaction_model(&self) -> Option<&dyn TransactionModel> {
        Model::transaction_model(self)
    }
    fn spend_model(&self) -> Option<&dyn SpendModel> {
        Model::spend_model(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A model's registry entry: its identity as data, and its constructors. Built from the
/// [`Model`] implementation by [`ModelSpec::of`]; listed in [`crate::registry::MODELS`].
#[derive(Debug)]
pub struct ModelSpec {
    /// [`Model::KIND`].
    pub kind: ModelKind,
    /// [`Model::ALIASES`].
    pub aliases: &'static [&'static str],
    /// [`Model::DISPLAY_NAME`].
    pub display_name: &'static str,
    /// [`Model::DESCRIPTION`].
    pub description: &'static str,
    /// [`Model::FIT_FUNCTION`].
    pub fit_function: &'static str,
    /// [`Model::INPUTS`].
    pub inputs: &'static [Input],
    /// [`Model::TIME_UNIT`].
    pub time_unit: bool,
    /// [`Params::NAMES`] of [`Model::Params`].
    pub params: &'static [&'static str],
    /// [`Model::DIAGNOSTICS`].
    pub diagnostics: &'static [&'static str],
    /// [`Model::CHECKS`].
    pub checks: &'static [&'static str],
    /// [`Model::ROLES`].
    pub roles: &'static [Role],
    /// [`Model::PREDICTIONS`].
    pub predictions: &'static [&'static Prediction],
    fit: fn(FitData, &FitOptions) -> Fitted,
    diagnose: fn(&FitData) -> Vec<Option<f64>>,
    from_params: fn(&[f64], TimeUnit) -> Fitted,
    from_json: fn(&str) -> Result<Box<dyn FittedModel>, serde_json::Error>,
}

/// A fitted model of any kind, or why there is none.
type Fitted = Result<Box<dyn FittedModel>, ModelError>;

fn fit_boxed<T: Model>(data: FitData, options: &FitOptions) -> Fitted {
    Ok(Box::new(T::fit(data, options)?))
}

fn from_params_boxed<T: Model>(params: &[f64], unit: TimeUnit) -> Fitted {
    Ok(Box::new(T::from_params(T::Params::from_values(params), unit)?))
}

fn from_json_boxed<T: Model>(text: &str) -> Result<Box<dyn FittedModel>, serde_json::Error> {
    Ok(Box::new(serde_json::from_str::<T>(text)?))
}

impl ModelSpec {
    /// The registry entry of `T`.
    pub const fn of<T: Model>() -> Self {
        Self {
            kind: T::KIND,
            aliases: T::ALIASES,
            display_name: T::DISPLAY_NAME,
            description: T::DESCRIPTION,
            fit_function: T::FIT_FUNCTION,
            inputs: T::INPUTS,
            time_unit: T::TIME_UNIT,
            params: <T::Params as Params>::NAMES,
            diagnostics: T::DIAGNOSTICS,
            checks: T::CHECKS,
            roles: T::ROLES,
            predictions: T::PREDICTIONS,
            fit: fit_boxed::<T>,
            diagnose: T::diagnostics,
            from_params: from_params_boxed::<T>,
            from_json: from_json_boxed::<T>,
        }
    }

    /// The serialized and SQL name (`bg_nbd`).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether `name` is this model's name or one of its aliases.
    pub fn is_named(&self, name: &str) -> bool {
        self.name() == name || self.aliases.contains(&name)
    }

    /// Whether the model fills `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The prediction called `name`, when the model answers it.
    pub fn predicts(&self, name: &str) -> Option<&'static Prediction> {
        self.predictions.iter().copied().find(|p| p.name == name)
    }

    /// Maximum-likelihood fit on `data` (columns in [`ModelSpec::inputs`] order).
    pub fn fit(&self, data: FitData, options: &FitOptions) -> Result<Box<dyn FittedModel>, ModelError> {
        (self.fit)(data, options)
    }

    /// The values of [`ModelSpec::diagnostics`] on `data`.
    pub fn diagnostics_of(&self, data: &FitData) -> Vec<Option<f64>> {
        (self.diagnose)(data)
    }

    /// A model with known parameters (in [`ModelSpec::params`] order).
    pub fn from_params(&self, params: &[f64], time_unit: TimeUnit) -> Result<Box<dyn FittedModel>, ModelError> {
        (self.from_params)(params, time_unit)
    }

    /// Reads a serialized model of this kind (checking kind, format version and parameters).
    pub fn from_json(&self, text: &str) -> Result<Box<dyn FittedModel>, serde_json::Error> {
        (self.from_json)(text)
    }
}

/// A count argument: a whole number `>= 0`.
pub fn whole(v: f64, what: &'static str) -> Result<u32, ModelError> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) {
        Ok(v as u32)
    } else {
        Err(ModelError::InvalidArgument {
            name: what,
            value: v,
            reason: "must be a whole number >= 0",
        })
    }
}

/// A prediction horizon (the kernels call it `t`): finite and `>= 0`.
pub fn horizon(v: f64) -> Result<f64, ModelError> {
    length(v, "horizon")
}

/// A horizon or window length named `name`: finite and `>= 0`.
pub fn length(v: f64, name: &'static str) -> Result<f64, ModelError> {
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

/// The error for a prediction a model does not answer (callers check
/// [`ModelSpec::predicts`] first).
pub fn unsupported(kind: ModelKind, prediction: &Prediction) -> ModelError {
    ModelError::UnsupportedPrediction {
        model: kind,
        prediction: prediction.name,
    }
}

/// [`TRANSACTION_PREDICTIONS`] answered through [`TransactionModel`] and its window forecasts.
pub fn transaction_prediction(m: &dyn WindowForecast, prediction: &Prediction, a: &[f64]) -> Result<f64, ModelError> {
    match prediction.name {
        "p_alive" => m.p_alive(a[0], a[1], a[2]),
        "churn_probability" => m.prob_no_purchase(length(a[0], "window")?, a[1], a[2], a[3]),
        "dropout_probability" => Ok(1.0 - m.p_alive(a[0], a[1], a[2])?),
        "expected_purchases" => m.expected_purchases(horizon(a[0])?, a[1], a[2], a[3]),
        "expected_purchases_new" => m.expected_purchases_new(a[0]),
        "prob_purchases" => m.prob_purchases(whole(a[0], "n")?, a[1]),
        _ => Err(unsupported(m.kind(), prediction)),
    }
}

/// The batch forms of [`transaction_prediction`]: P(alive), the window probability and expected
/// purchases share work between customers (see [`TransactionModel::p_alive_many`]).
pub fn transaction_prediction_many(
    m: &dyn WindowForecast,
    prediction: &Prediction,
    a: &[&[f64]],
) -> Option<Result<Vec<f64>, ModelError>> {
    match prediction.name {
        "p_alive" => Some(m.p_alive_many(a[0], a[1], a[2])),
        "churn_probability" => Some(
            a[0].iter()
                .try_for_each(|w| length(*w, "window").map(|_| ()))
                .and_then(|_| m.prob_no_purchase_many(a[0], a[1], a[2], a[3])),
        ),
        "dropout_probability" => Some(
            m.p_alive_many(a[0], a[1], a[2])
                .map(|v| v.into_iter().map(|p| 1.0 - p).collect()),
        ),
        "expected_purchases" => Some(
            a[0].iter()
                .try_for_each(|h| horizon(*h).map(|_| ()))
                .and_then(|_| m.expected_purchases_many(a[0], a[1], a[2], a[3])),
        ),
        _ => None,
    }
}

/// Implements [`Model::model_params`] and [`Model::model_fit_report`] through the fitted type's
/// own `params()` and `fit_report()`.
macro_rules! model_accessors {
    () => {
        fn model_params(&self) -> Self::Params {
            self.params()
        }
        fn model_fit_report(&self) -> Option<&$crate::FitReport<Self::Params>> {
            self.fit_report()
        }
    };
}
pub(crate) use model_accessors;

/// Implements the [`Model`] methods every continuous-time repeat-purchase model shares: fit
/// on `(x, t_x, t)` through its builder, parameters, predictions through [`TransactionModel`].
macro_rules! transaction_model_methods {
    ($builder:ty) => {
        fn fit(data: $crate::model::FitData, options: &$crate::FitOptions) -> Result<Self, $crate::ModelError> {
            let summary =
                $crate::TransactionSummary::new(data.column(0), data.column(1), data.column(2), data.time_unit)?
                    .with_weights(data.weights)?;
            <$builder>::default().with_options(*options).fit(&summary)
        }
        $crate::model::model_accessors!();
        fn predict(&self, prediction: &$crate::model::Prediction, args: &[f64]) -> Result<f64, $crate::ModelError> {
            $crate::model::transaction_prediction(self, prediction, args)
        }
        fn predict_many(
            &self,
            prediction: &$crate::model::Prediction,
            columns: &[&[f64]],
        ) -> Option<Result<Vec<f64>, $crate::ModelError>> {
            $crate::model::transaction_prediction_many(self, prediction, columns)
        }
        fn transaction_model(&self) -> Option<&dyn $crate::TransactionModel> {
            Some(self)
        }
    };
}
pub(crate) use transaction_model_methods;
