//! Errors the command line reports: one line, a kind that picks the exit code, and a hint.
//!
//! | kind | exit code | when |
//! |---|---|---|
//! | usage | 2 | a flag, option, date, SQL text or `clv.toml` entry is wrong (clap's own errors exit 2 too); `--cluster` names a cluster without clv |
//! | data | 65 | an input or model file cannot be read, lacks a column, has a wrong type or invalid values; the data does not fit the memory limit |
//! | internal | 70 | a bug: DataFusion's internal errors, a panic |

use std::process::ExitCode;

use datafusion::common::DataFusionError;

/// What went wrong, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Wrong flags, options, dates, SQL text or configuration.
    Usage,
    /// An input or model file that cannot be used.
    Data,
    /// A bug.
    Internal,
}

impl Kind {
    /// The process exit code (sysexits' EX_DATAERR and EX_SOFTWARE; 2 like clap for usage).
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Kind::Usage => 2,
            Kind::Data => 65,
            Kind::Internal => 70,
        })
    }
}

/// An error for the user: its kind and one line of text.
#[derive(Debug, Clone)]
pub struct CliError {
    /// Usage, data or internal.
    pub kind: Kind,
    /// The message, without the `error: ` prefix.
    pub message: String,
}

/// The command line's result type.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage,
            message: message.into(),
        }
    }

    /// A data error.
    pub fn data(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Data,
            message: message.into(),
        }
    }

    /// An internal error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Internal,
            message: message.into(),
        }
    }

    /// The line printed on standard error: one line, with a hint where one helps.
    pub fn line(&self) -> String {
        let mut text = self.message.replace(['\n', '\r'], " ");
        while text.contains("  ") {
            text = text.replace("  ", " ");
        }
        let text = with_hint(text.trim());
        match self.kind {
            Kind::Internal => format!("internal error (please report it): {text}"),
            _ => text,
        }
    }

    /// Prefixes the message with context, e.g. the file it concerns.
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line())
    }
}

/// The message of the innermost error, without DataFusion's nested prefixes or backtraces.
pub fn root_message(e: &DataFusionError) -> String {
    let root = e.find_root();
    let text = match root {
        DataFusionError::External(inner) => inner.to_string(),
        DataFusionError::ArrowError(inner, _) => inner.to_string(),
        DataFusionError::ParquetError(inner) => inner.to_string(),
        DataFusionError::IoError(inner) => inner.to_string(),
        DataFusionError::SQL(inner, _) => inner.to_string(),
        other => other.message().to_string(),
    };
    let mut text = text;
    for prefix in [
        "Error during planning: ",
        "Execution error: ",
        "Arrow error: ",
        "Parser error: ",
        "Parquet error: ",
        "External error: ",
        "Invalid argument error: ",
        "Schema error: ",
        "sql parser error: ",
    ] {
        text = text.replace(prefix, "");
    }
    text
}

/// Where a DataFusion error happened, which decides its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the user's SQL or options: planning errors are usage errors.
    Query,
    /// Running over the data: errors are data errors.
    Data,
}

/// The first line clv-ballista put on a cluster error caused by a node without clv (it names
/// the node, the functions and the fix; see docs/distributed.md).
fn cluster_problem(e: &DataFusionError) -> Option<&str> {
    let mut e = e;
    while let DataFusionError::Context(text, inner) = e {
        if text.contains("docs/distributed.md") {
            return Some(text);
        }
        e = inner;
    }
    None
}

/// Classifies a DataFusion error.
pub fn from_datafusion(e: DataFusionError, stage: Stage) -> CliError {
    if let Some(problem) = cluster_problem(&e) {
        return CliError::usage(problem);
    }
    let message = root_message(&e);
    match e.find_root() {
        DataFusionError::Internal(_) => CliError::internal(message),
        // A memory limit the user set (or the machine's) is not a clv bug.
        DataFusionError::ResourcesExhausted(_) => CliError::data(format!(
            "{message}; raise the limit (SET datafusion.runtime.memory_limit = '4G') or give the query less data"
        )),
        DataFusionError::SQL(..) => CliError::usage(message),
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) | DataFusionError::NotImplemented(_)
            if stage == Stage::Query && !is_data_problem(&message) =>
        {
            CliError::usage(message)
        }
        _ => CliError::data(message),
    }
}

/// Planning errors that are about the data rather than the request (a missing column, a
/// wrong column type, an unreadable file).
fn is_data_problem(message: &str) -> bool {
    message.contains(" column '") && (message.contains("not found") || message.contains("has type"))
        || message.contains("cannot read")
        || message.contains("no file or folder exists")
}

impl From<DataFusionError> for CliError {
    /// Errors while running over data (planning errors of the user's own SQL are classified
    /// with [`from_datafusion`] and [`Stage::Query`]).
    fn from(e: DataFusionError) -> Self {
        from_datafusion(e, Stage::Data)
    }
}

impl From<datafusion::arrow::error::ArrowError> for CliError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        CliError::data(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::data(e.to_string())
    }
}

/// A hint for the messages where the fix is a flag of this command line.
fn with_hint(text: &str) -> String {
    const FLAGS: [(&str, &str); 4] = [
        ("customer_column", "--customer-col"),
        ("time_column", "--time-col"),
        ("amount_column", "--amount-col"),
        ("order_column", "--order-col"),
    ];
    for (option, flag) in FLAGS {
        let library = format!("(choose another with {option})");
        if text.contains(&library) {
            return text.replace(
                &library,
                &format!("(choose another with {flag}, or {option} in clv.toml)"),
            );
        }
        let role = option.trim_end_matches("_column");
        if text.starts_with(&format!("{role} column '")) && text.contains(" has type ") {
            return format!(
                "{text} (choose another with {flag}, or convert it first, e.g. clv sql \"SELECT ..., CAST(col AS ...) ...\" --out fixed.parquet)"
            );
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planning_errors_of_a_query_are_usage_errors_but_data_problems_are_data_errors() {
        let e = DataFusionError::Plan("table 'x' not found".into());
        assert_eq!(from_datafusion(e, Stage::Query).kind, Kind::Usage);
        let e = DataFusionError::Plan(
            "amount column 'price' not found; the input has columns [a, b] (choose another with amount_column)".into(),
        );
        let e = from_datafusion(e, Stage::Query);
        assert_eq!(e.kind, Kind::Data);
        assert!(
            e.line()
                .ends_with("(choose another with --amount-col, or amount_column in clv.toml)")
        );
        let e = DataFusionError::Internal("bug".into());
        assert_eq!(from_datafusion(e, Stage::Data).kind, Kind::Internal);
        let e = DataFusionError::ResourcesExhausted("Failed to allocate 1 MB".into());
        let e = from_datafusion(e, Stage::Data);
        assert_eq!(e.kind, Kind::Data);
        assert!(
            e.line()
                .contains("raise the limit (SET datafusion.runtime.memory_limit")
        );
    }

    #[test]
    fn lines_are_single() {
        let e = CliError::data("a\nb\n  c");
        assert_eq!(e.line(), "a b c");
    }
}
