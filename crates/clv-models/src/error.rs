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
        /// Zero-based row index.
        row: usize,
        /// Column name.
        field: &'static str,
    },
    /// A value that must be non-negative (or positive) is not.
    Negative {
        /// Zero-based row index.
        row: usize,
        /// Column name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A count (frequency, periods, ...) is not a whole number.
    NotInteger {
        /// Zero-based row index.
        row: usize,
        /// Column name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A row whose values contradict each other (e.g. `t_x > T`).
    InconsistentRow {
        /// Zero-based row index.
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
    /// A time unit is missing or does not fit the model.
    MissingTimeUnit {
        /// Explanation.
        reason: &'static str,
    },
    /// A prediction the model does not answer (see `ModelSpec::predicts`).
    UnsupportedPrediction {
        /// The model.
        model: ModelKind,
        /// The prediction asked for.
        prediction: &'static str,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::EmptyInput => write!(f, "empty input: no rows with positive weight"),
            ModelError::NoRepeatPurchases => {
                write!(f, "all customers have frequency 0: the model cannot be identified")
            }
            ModelError::LengthMismatch { field, expected, found } => {
                write!(f, "column `{field}` has length {found}, expected {expected}")
            }
            ModelError::NonFinite { row, field } => {
                write!(f, "row {row}: `{field}` is NaN or infinite")
            }
            ModelError::Negative { row, field, value } => {
                write!(f, "row {row}: `{field}` = {value} is out of range (negative or zero)")
            }
            ModelError::NotInteger { row, field, value } => {
                write!(f, "row {row}: `{field}` = {value} is not a whole number")
            }
            ModelError::InconsistentRow { row, reason } => write!(f, "row {row}: {reason}"),
            ModelError::InvalidArgument { name, value, reason } => {
                write!(f, "invalid argument `{name}` = {value}: {reason}")
            }
            ModelError::InvalidParameter { name, value } => {
                write!(
                    f,
                    "invalid model parameter `{name}` = {value}: must be positive and finite"
                )
            }
            ModelError::NotConverged {
                model,
                iterations,
                log_likelihood,
                gradient_norm,
            } => {
                write!(f, "{model} fit did not converge after {iterations} iterations")?;
                if let Some(ll) = log_likelihood {
                    write!(f, " (log-likelihood {ll}")?;
                    if let Some(g) = gradient_norm {
                        write!(f, ", gradient norm {g:e}")?;
                    }
                    write!(f, ")")?;
                }
                Ok(())
            }
            ModelError::NumericalFailure { context } => {
                write!(f, "numerical failure while computing {context}")
            }
            ModelError::WrongModelKind { expected, found } => {
                write!(f, "model kind mismatch: expected {expected}, found {found}")
            }
            ModelError::UnsupportedFormatVersion { found } => {
                write!(f, "unsupported serialized model format version {found}")
            }
            ModelError::MissingTimeUnit { reason } => write!(f, "time unit: {reason}"),
            ModelError::UnsupportedPrediction { model, prediction } => {
                write!(f, "a {model} model does not answer {prediction}")
            }
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
