//! Typed errors: every error clv raises has a kind, carried through DataFusion to the caller.
//!
//! clv's functions and plans run inside DataFusion, whose errors are [`DataFusionError`]s. A
//! [`ClvError`] travels inside one as [`DataFusionError::External`]; [`ClvError::find`] gets it
//! back out of whatever DataFusion wrapped around it (contexts, shared errors, Arrow errors), so
//! a caller reacts to the [`ErrorKind`] — the command line picks its exit code from it — and
//! never to the wording of a message.
//!
//! Messages name the option, column, value or row concerned and say what was expected. Hints
//! write options as SQL arguments (`'bins=5'`); the command line shows its own flags instead.
//! Rows are counted from 1.

use std::fmt;

use datafusion::error::DataFusionError;

/// What kind of problem an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is wrong: an option, argument, date, scheme or function call.
    Usage,
    /// The transactions cannot be used as given: a missing column, a wrong type, a value the
    /// data policies refuse, an unreadable file.
    InputData,
    /// A model cannot be used: invalid parameters, a fit that cannot score (e.g. a
    /// Gamma-Gamma `q ≤ 1`), a model of another kind.
    Model,
    /// A bug in clv.
    Internal,
}

impl ErrorKind {
    /// The kind's name: `usage`, `input data`, `model` or `internal`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::InputData => "input data",
            Self::Model => "model",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error raised by clv: a kind and a one-line message.
#[derive(Debug, Clone)]
pub struct ClvError {
    /// What kind of problem it is.
    pub kind: ErrorKind,
    /// The message: what is wrong, where, and what was expected.
    pub message: String,
    /// The error this one explains, if any.
    source: Option<std::sync::Arc<DataFusionError>>,
}

impl ClvError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// This error, explaining `source` (which stays reachable as its `source()`).
    pub fn caused_by(mut self, source: DataFusionError) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// An input-data error.
    pub fn input_data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InputData, message)
    }

    /// A model error.
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Model, message)
    }

    /// An internal error (a bug).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A model-mathematics error raised in the SQL function `function`: values the model
    /// refuses are the input's, an invalid argument the caller's, the rest the model's.
    /// `row` describes the offending row by its values (e.g. `x = 1, t_x = 12, t = 10`), for
    /// errors about one row: inside SQL a row has no useful position, its values identify it.
    pub fn from_model(function: &str, e: &crate::ltv::ModelError, row: impl FnOnce(usize) -> String) -> Self {
        use crate::ltv::ModelError as M;
        let kind = match e {
            M::EmptyInput
            | M::NoRepeatPurchases
            | M::NonFinite { .. }
            | M::Negative { .. }
            | M::NotInteger { .. }
            | M::InconsistentRow { .. } => ErrorKind::InputData,
            M::InvalidArgument { .. } => ErrorKind::Usage,
            M::LengthMismatch { .. } => ErrorKind::Internal,
            _ => ErrorKind::Model,
        };
        let message = match e.row() {
            Some(r) => format!("{function}: the row with {}: {}", row(r), e.detail()),
            None => format!("{function}: {}", e.detail()),
        };
        Self::new(kind, message)
    }

    /// The clv error inside a DataFusion error, wherever DataFusion wrapped it.
    pub fn find(e: &DataFusionError) -> Option<&ClvError> {
        // Every DataFusion and Arrow wrapper hands out what it wraps as its `source`.
        let mut current: &(dyn std::error::Error + 'static) = e;
        loop {
            if let Some(clv) = current.downcast_ref::<ClvError>() {
                return Some(clv);
            }
            current = current.source()?;
        }
    }

    /// The kind of a DataFusion error: the clv error's inside it, else `None` (DataFusion's
    /// own errors, which the caller classifies by their variant).
    pub fn kind_of(e: &DataFusionError) -> Option<ErrorKind> {
        Self::find(e).map(|c| c.kind)
    }
}

impl fmt::Display for ClvError {
    /// The message, then the error it explains (if any) after "caused by", as DataFusion
    /// writes its chains.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.source {
            Some(source) => write!(f, "\ncaused by\n{source}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ClvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ClvError> for DataFusionError {
    fn from(e: ClvError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// A [`DataFusionError`] holding a usage [`ClvError`], from `format!` arguments.
#[macro_export]
macro_rules! usage_error {
    ($($arg:tt)*) => {
        ::datafusion::error::DataFusionError::from($crate::error::ClvError::usage(format!($($arg)*)))
    };
}

/// A [`DataFusionError`] holding an input-data [`ClvError`], from `format!` arguments.
#[macro_export]
macro_rules! input_error {
    ($($arg:tt)*) => {
        ::datafusion::error::DataFusionError::from($crate::error::ClvError::input_data(format!($($arg)*)))
    };
}

/// A [`DataFusionError`] holding a model [`ClvError`], from `format!` arguments.
#[macro_export]
macro_rules! model_error {
    ($($arg:tt)*) => {
        ::datafusion::error::DataFusionError::from($crate::error::ClvError::model(format!($($arg)*)))
    };
}

/// `Err(usage_error!(...))`.
#[macro_export]
macro_rules! usage_err {
    ($($arg:tt)*) => { Err($crate::usage_error!($($arg)*)) };
}

/// `Err(input_error!(...))`.
#[macro_export]
macro_rules! input_err {
    ($($arg:tt)*) => { Err($crate::input_error!($($arg)*)) };
}

/// `Err(model_error!(...))`.
#[macro_export]
macro_rules! model_err {
    ($($arg:tt)*) => { Err($crate::model_error!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_kind_survives_datafusion_wrappers() {
        let e: DataFusionError = ClvError::input_data("amount column 'amount' not found").into();
        let wrapped = DataFusionError::Context(
            "while planning".into(),
            Box::new(DataFusionError::Shared(Arc::new(DataFusionError::ArrowError(
                Box::new(datafusion::arrow::error::ArrowError::ExternalError(Box::new(e))),
                None,
            )))),
        );
        let found = ClvError::find(&wrapped).unwrap();
        assert_eq!(found.kind, ErrorKind::InputData);
        assert_eq!(found.message, "amount column 'amount' not found");
        assert_eq!(ClvError::kind_of(&DataFusionError::Plan("x".into())), None);
        let e: Result<(), DataFusionError> = crate::usage_err!("bins must be {}", 5);
        assert_eq!(ClvError::kind_of(&e.unwrap_err()), Some(ErrorKind::Usage));
    }
}
