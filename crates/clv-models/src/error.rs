//! Typed errors for the lifetime-value models.
//!
//! Every fallible operation in this crate returns [`ModelError`]. The
//! numerical code never hands back a NaN or an infinity silently: a value that
//! cannot be computed is reported as [`ModelError::NumericalFailure`].

use std::fmt;

use super::ModelKind;

/// Error returned by data validation, fitting and scoring.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ModelError {
    /// The input has no rows (or only rows with zero weight).
    EmptyInput,
    /// Every customer has frequency 0: a repeat-purchase model cannot be
    /// identified (and Gamma-Gamma has nothing to fit).
    NoRepeatPurchases,
    /// Two input columns have different lengths.
    LengthMismatch {
        /// Name of the offending column.
        field: &'static str,
        /// Length of the first column.
        expected: usize,
        /// Length of the offending column.
        found: usize,
    },
    /// A value is NaN or infinite.
    NonFinite {
        /// Zero-based row index (messages count rows from 1).
        row: usize,
        /// Column name.
        field: &'static str,
    },
    /// A value that must be non-negative (or positive) is not.
    Negative {
        /// Zero-based row index (messages count rows from 1).
        row: usize,
        /// Column name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A count (frequency, periods, ...) is not a whole number.
    NotInteger {
        /// Zero-based row index (messages count rows from 1).
        row: usize,
        /// Column name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A row whose values contradict each other (e.g. `t_x > T`).
    InconsistentRow {
        /// Zero-based row index (messages count rows from 1).
        row: usize,
        /// What is inconsistent.
        reason: &'static str,
    },
    /// An argument of a method (horizon, discount rate, penalizer, ...) is invalid.
    InvalidArgument {
        /// Argument name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A model parameter is not strictly positive and finite.
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
    },
    /// The optimiser did not reach the convergence criterion. Only returned
    /// when convergence is required (the default); otherwise the fitted model
    /// carries `converged == false`.
    NotConverged {
        /// The model being fitted.
        model: ModelKind,
        /// Iterations used (all optimiser stages).
        iterations: usize,
        /// Log-likelihood at the best point found (NaN never appears here:
        /// `None` when it could not be evaluated).
        log_likelihood: Option<f64>,
        /// Largest absolute gradient component (mean negative log-likelihood,
        /// log-parameter scale) at the best point.
        gradient_norm: Option<f64>,
    },
    /// A quantity could not be computed in floating point (overflow, a series
    /// that does not converge, ...).
    NumericalFailure {
        /// What was being computed.
        context: &'static str,
    },
    /// A serialized model of one kind was loaded as another kind.
    WrongModelKind {
        /// The kind the caller asked for.
        expected: ModelKind,
        /// The kind recorded in the serialized model.
        found: ModelKind,
    },
    /// The serialized model has an unsupported format version.
    UnsupportedFormatVersion {
        /// Version found in the input.
        found: u32,
    },
    /// A value of a named feature column is unusable (NaN, infinite) or the column is
    /// missing, empty or of the wrong length.
    BadFeature {
        /// The feature's name, as given by the caller.
        feature: String,
        /// Zero-based row index (`None` for a problem with the whole column).
        row: Option<usize>,
        /// What is wrong.
        reason: &'static str,
    },
    /// A Gamma-Gamma model with `q ≤ 1` (or `p·x + q ≤ 1`): the prior (posterior) mean spend
    /// is infinite, so the expected spend cannot be computed. Fits on heavy-tailed spend can
    /// end there; [`crate::FittedGammaGamma::mean_spend_is_finite`] tells. A penalizer does
    /// not help (it shrinks `q` towards 0); capping extreme amounts does.
    InfiniteMeanSpend {
        /// The model's `q`.
        q: f64,
        /// The customer's repeat purchases.
        x: f64,
    },
    /// A time unit is missing or does not fit the model.
    MissingTimeUnit {
        /// Explanation.
        reason: &'static str,
    },
    /// A clustering feature value outside its transform's domain (see `kmeans`).
    InvalidFeature {
        /// Zero-based row index.
        row: usize,
        /// Feature (column) name.
        feature: String,
        /// The offending raw value.
        value: f64,
        /// What was expected.
        reason: &'static str,
    },
    /// A covariate value is NaN or infinite.
    InvalidCovariate {
        /// Zero-based covariate column (in the order the covariates were given).
        column: usize,
        /// Zero-based row index.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// A prediction the model does not answer (see `ModelSpec::predicts`).
    UnsupportedPrediction {
        /// The model.
        model: ModelKind,
        /// The prediction asked for.
        prediction: &'static str,
    },
}

impl ModelError {
    /// The zero-based index of the input row the error is about, if it is about one.
    pub fn row(&self) -> Option<usize> {
        match self {
            ModelError::NonFinite { row, .. }
            | ModelError::Negative { row, .. }
            | ModelError::NotInteger { row, .. }
            | ModelError::InconsistentRow { row, .. }
            | ModelError::InvalidFeature { row, .. }
            | ModelError::InvalidCovariate { row, .. } => Some(*row),
            ModelError::BadFeature { row, .. } => *row,
            _ => None,
        }
    }

    /// The message without the row it is about (the `Display` form puts "row N: " before it,
    /// counting rows from 1).
    pub fn detail(&self) -> String {
        match self {
            ModelError::EmptyInput => "empty input: no rows with positive weight".to_string(),
            ModelError::NoRepeatPurchases => {
                "all customers have frequency 0: the model cannot be identified".to_string()
            }
            ModelError::LengthMismatch { field, expected, found } => {
                format!("column `{field}` has length {found}, expected {expected}")
            }
            ModelError::NonFinite { field, .. } => format!("`{field}` is NaN or infinite"),
            ModelError::Negative { field, value, .. } => {
                format!("`{field}` = {value} is out of range (negative or zero)")
            }
            ModelError::NotInteger { field, value, .. } => format!("`{field}` = {value} is not a whole number"),
            ModelError::InconsistentRow { reason, .. } => reason.to_string(),
            ModelError::InvalidArgument { name, value, reason } => {
                format!("invalid argument `{name}` = {value}: {reason}")
            }
            ModelError::InvalidParameter { name, value } => {
                format!("invalid model parameter `{name}` = {value}: must be positive and finite")
            }
            ModelError::NotConverged {
                model,
                iterations,
                log_likelihood,
                gradient_norm,
            } => {
                let mut text = format!("{model} fit did not converge after {iterations} iterations");
                if let Some(ll) = log_likelihood {
                    text += &format!(" (log-likelihood {ll}");
                    if let Some(g) = gradient_norm {
                        text += &format!(", gradient norm {g:e}");
                    }
                    text += ")";
                }
                text
            }
            ModelError::NumericalFailure { context } => format!("numerical failure while computing {context}"),
            ModelError::WrongModelKind { expected, found } => {
                format!("model kind mismatch: expected {expected}, found {found}")
            }
            ModelError::UnsupportedFormatVersion { found } => {
                format!("unsupported serialized model format version {found}")
            }
            ModelError::BadFeature { feature, row, reason } => match row {
                Some(_) => format!("feature `{feature}` {reason}"),
                None => format!("feature `{feature}`: {reason}"),
            },
            ModelError::InvalidFeature {
                feature, value, reason, ..
            } => {
                format!("feature `{feature}` = {value}: {reason}")
            }
            ModelError::InvalidCovariate { column, value, .. } => {
                format!("covariate column {} = {value} is not finite", column + 1)
            }
            ModelError::UnsupportedPrediction { model, prediction } => {
                format!("a {model} model does not answer {prediction}")
            }
            ModelError::MissingTimeUnit { reason } => format!("time unit: {reason}"),
            ModelError::InfiniteMeanSpend { q, x } => {
                let whose = if *x == 0.0 {
                    "the prior mean spend p·γ/(q − 1) of a customer without repeat purchases".to_string()
                } else {
                    format!("the mean spend p·(γ + x·z̄)/(p·x + q − 1) at x = {x}")
                };
                format!(
                    "the Gamma-Gamma model has q = {q} <= 1, so {whose} is infinite: the spend is too heavy-tailed \
                     for the model. Cap extreme amounts before fitting, or score only customers with repeat purchases; \
                     a penalizer does not raise q (it shrinks every parameter towards 0)"
                )
            }
        }
    }
}

impl fmt::Display for ModelError {
    /// The message, after "row N: " (N counted from 1) when it is about one input row.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row() {
            Some(row) => write!(f, "row {}: {}", row + 1, self.detail()),
            None => f.write_str(&self.detail()),
        }
    }
}

impl std::error::Error for ModelError {}

/// Returns `Ok(v)` when `v` is finite, otherwise a [`ModelError::NumericalFailure`].
#[inline]
pub(crate) fn finite(v: f64, context: &'static str) -> Result<f64, ModelError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ModelError::NumericalFailure { context })
    }
}
