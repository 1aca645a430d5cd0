//! Errors the command line reports: one line, a kind that picks the exit code, and a hint.
//!
//! | kind | exit code | when |
//! |---|---|---|
//! | usage | 2 | a flag, option, date, SQL text or `clv.toml` entry is wrong (clap's own errors exit 2 too); `--cluster` names a cluster without clv |
//! | data | 65 | an input or model file cannot be read, lacks a column, has a wrong type or invalid values; the data does not fit the memory limit |
//! | internal | 70 | a bug: DataFusion's internal errors, a panic |
//!
//! The kind of an error raised in the library is the [`ErrorKind`] of the [`ClvError`] it
//! carries (usage → usage; input data and model → data; internal → internal); DataFusion's own
//! errors are classified by their variant (planning and SQL errors are usage errors, errors
//! while running are data errors). Messages are never matched to choose a kind.

use std::process::ExitCode;

use clv::config::ClvOption;
use clv::{ClvError, ErrorKind};
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

impl From<ErrorKind> for Kind {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Usage => Kind::Usage,
            ErrorKind::InputData | ErrorKind::Model => Kind::Data,
            _ => Kind::Internal,
        }
    }
}

/// Classifies a DataFusion error: by the kind of the clv error inside it, else (DataFusion's
/// own errors) by its variant: planning errors are the request's (the SQL, an option), errors
/// while running are the data's. Never by the wording.
pub fn from_datafusion(e: DataFusionError) -> CliError {
    if let Some(clv) = ClvError::find(&e) {
        return CliError {
            kind: clv.kind.into(),
            message: clv.message.clone(),
        };
    }
    let message = root_message(&e);
    match e.find_root() {
        DataFusionError::Internal(_) => CliError::internal(message),
        // A memory limit the user set (or the machine's) is not a clv bug.
        DataFusionError::ResourcesExhausted(_) => CliError::data(format!(
            "{message}; raise the limit (SET datafusion.runtime.memory_limit = '4G') or give the query less data"
        )),
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => CliError::usage(message),
        _ => CliError::data(message),
    }
}

impl From<DataFusionError> for CliError {
    /// See [`from_datafusion`].
    fn from(e: DataFusionError) -> Self {
        from_datafusion(e)
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

/// The command-line flag (`--bins`) of the clv option a hint names (by key or by the short
/// name of a table-function argument), from the options' one declaration; `None` for an option
/// set only in SQL or clv.toml.
fn flag_of(name: &str) -> Option<String> {
    ClvOption::find(name).and_then(|o| o.flag).map(|f| format!("--{f}"))
}

/// The contract's column options, whose messages get a hint to choose another column.
const COLUMN_OPTIONS: [&str; 4] = ["customer_column", "time_column", "amount_column", "order_column"];

/// The library writes hints as SQL arguments, `'name=value'`; on the command line the same
/// hint is a flag, `--name value` (or, for an option without a flag, a `clv.toml` entry).
fn cli_syntax(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('\'') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('\'') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let quoted = &after[..end];
        let rewritten = quoted.split_once('=').and_then(|(name, value)| {
            let name = name.trim();
            let short = name.rsplit('.').next().unwrap_or(name);
            if !short.chars().all(|c| c.is_ascii_lowercase() || c == '_') || short.is_empty() {
                return None;
            }
            Some(match flag_of(short).or_else(|| flag_of(name)) {
                Some(flag) => format!("{flag} {value}"),
                None => format!("{name} = {value} in clv.toml"),
            })
        });
        match rewritten {
            Some(r) => out.push_str(&r),
            None => {
                out.push('\'');
                out.push_str(quoted);
                out.push('\'');
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A hint for the messages where the fix is a flag of this command line.
fn with_hint(text: &str) -> String {
    let text = &cli_syntax(text);
    for option in COLUMN_OPTIONS {
        let Some(flag) = flag_of(option) else { continue };
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
    fn the_kind_comes_from_the_clv_error_else_the_variant() {
        let e = DataFusionError::Plan("table 'x' not found".into());
        assert_eq!(from_datafusion(e).kind, Kind::Usage);
        let e = DataFusionError::from(ClvError::input_data(
            "amount column 'price' not found; the input has columns [a, b] (choose another with amount_column)",
        ));
        let e = from_datafusion(e);
        assert_eq!(e.kind, Kind::Data);
        assert!(
            e.line()
                .ends_with("(choose another with --amount-col, or amount_column in clv.toml)")
        );
        let e = DataFusionError::Internal("bug".into());
        assert_eq!(from_datafusion(e).kind, Kind::Internal);
        let e = DataFusionError::ResourcesExhausted("Failed to allocate 1 MB".into());
        let e = from_datafusion(e);
        assert_eq!(e.kind, Kind::Data);
        assert!(
            e.line()
                .contains("raise the limit (SET datafusion.runtime.memory_limit")
        );
    }

    #[test]
    fn hints_use_the_flags_of_the_command_line() {
        assert_eq!(
            cli_syntax("set 'bins=5' or 'scheme=none'; e.g. 'recency_thresholds=30,90,180,365'"),
            "set --bins 5 or --scheme none; e.g. --recency-thresholds 30,90,180,365"
        );
        assert_eq!(cli_syntax("use 'rfm.method=fixed'"), "use --method fixed");
        assert_eq!(cli_syntax("'penalizer=0.1'"), "penalizer = 0.1 in clv.toml");
        assert_eq!(cli_syntax("scheme 'rf_grid' labels"), "scheme 'rf_grid' labels");
        assert_eq!(cli_syntax("an id '007' and '7'"), "an id '007' and '7'");
    }

    #[test]
    fn lines_are_single() {
        let e = CliError::data("a\nb\n  c");
        assert_eq!(e.line(), "a b c");
    }
}
