//! Arguments of the clv table functions.
//!
//! The first argument names the transactions: a registered table, or a Parquet/CSV path or glob.
//! The rest are positional (each function documents its order; `NULL` skips one) or named,
//! written as one text `'name=value'` (DataFusion 55 does not pass `name => value` to table
//! functions; positional arguments fill the parameters not given by name). A name is any clv session option without the `clv.` / `clv.rfm.` prefix, e.g.
//! `'bins=4'`, `'customer_column=cust'`, `'negative_amounts=exclude'`. Arguments override the
//! session options, which override the defaults.

use std::collections::BTreeMap;

use datafusion::catalog::Session;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::Expr;

use crate::common::dates::format_date;
use crate::config::ClvOptions;

/// The bare message of a planning error (without DataFusion's "Error during planning: " prefix).
fn message(e: &datafusion::error::DataFusionError) -> String {
    match e {
        datafusion::error::DataFusionError::Plan(m) => m.clone(),
        other => other.strip_backtrace(),
    }
}

fn literal_text(function: &str, position: usize, e: &Expr) -> Result<Option<String>> {
    let Expr::Literal(v, _) = e else {
        return plan_err!("{function}: argument {position} must be a constant, got {e}");
    };
    Ok(match v {
        v if v.is_null() => None,
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(s.clone())
        }
        ScalarValue::Date32(Some(d)) => Some(format_date(*d)),
        ScalarValue::Boolean(Some(b)) => Some(b.to_string()),
        v if v.data_type().is_integer() || v.data_type().is_floating() => Some(v.to_string()),
        other => {
            return plan_err!(
                "{function}: argument {position} has unsupported type {}",
                other.data_type()
            );
        }
    })
}

/// Parses `(source, positional..., 'name=value'...)` into the source and the effective options.
pub fn parse_table_args(
    function: &str,
    exprs: &[Expr],
    positional: &[&str],
    session: &dyn Session,
) -> Result<(String, ClvOptions)> {
    parse_table_args_with_locals(function, exprs, positional, &[], session).map(|(s, o, _)| (s, o))
}

/// [`parse_table_args`] where the names in `locals` are arguments of the function itself
/// (not session options); their values are returned by name.
pub fn parse_table_args_with_locals(
    function: &str,
    exprs: &[Expr],
    positional: &[&str],
    locals: &[&str],
    session: &dyn Session,
) -> Result<(String, ClvOptions, BTreeMap<String, String>)> {
    let mut local_values = BTreeMap::new();
    let usage = || {
        let mut args = vec!["source".to_string()];
        args.extend(positional.iter().map(|p| format!("[{p}]")));
        format!("{function}({}, ['name=value' ...])", args.join(", "))
    };
    let Some(first) = exprs.first() else {
        return plan_err!("{function}: missing the transactions argument; usage: {}", usage());
    };
    let Some(source) = literal_text(function, 1, first)? else {
        return plan_err!("{function}: the transactions argument must be a table name or a path, not NULL");
    };
    let mut options = ClvOptions::from_session_config(session.config_options());
    // Positional arguments fill the parameters not given by name, in order.
    let mut named: Vec<String> = Vec::new();
    for (i, e) in exprs.iter().enumerate().skip(1) {
        if let Some((name, _)) = literal_text(function, i + 1, e)?
            .as_deref()
            .and_then(|t| t.split_once('='))
        {
            let name = name.trim().to_ascii_lowercase();
            // One value per name: "the last one wins" would hide a typo or a copy-paste.
            let key = |n: &str| {
                let n = n.strip_prefix("clv.").unwrap_or(n);
                n.split_once('.').map_or(n, |(_, k)| k).to_string()
            };
            if named.iter().any(|n| key(n) == key(&name)) {
                return crate::usage_err!(
                    "{function}: argument {} gives '{name}' a second time; give it once",
                    i + 1
                );
            }
            named.push(name);
        }
    }
    let mut open_positional = positional.iter().filter(|p| !named.iter().any(|n| n == *p));
    for (i, e) in exprs.iter().enumerate().skip(1) {
        let text = literal_text(function, i + 1, e)?;
        match text.as_deref().and_then(|t| t.split_once('=')) {
            Some((name, value)) if locals.contains(&name.trim()) => {
                local_values.insert(name.trim().to_string(), value.trim().to_string());
            }
            Some((name, value)) => options.set_option(name, value).map_err(|err| {
                datafusion::common::plan_datafusion_err!("{function}: argument {} ('{name}'): {}", i + 1, message(&err))
            })?,
            None => {
                let Some(name) = open_positional.next() else {
                    return plan_err!(
                        "{function}: too many positional arguments (argument {}); usage: {}",
                        i + 1,
                        usage()
                    );
                };
                if locals.contains(name) {
                    if let Some(value) = text {
                        local_values.insert(name.to_string(), value);
                    }
                } else if let Some(value) = text {
                    options.set_option(name, &value).map_err(|err| {
                        datafusion::common::plan_datafusion_err!(
                            "{function}: argument {} ({name}): {}",
                            i + 1,
                            message(&err)
                        )
                    })?;
                }
            }
        }
    }
    Ok((source, options, local_values))
}

/// A table function over transactions, as a view: parses `(source, positional..., 'name=value'...)`,
/// resolves the source and builds `plan` from it with the effective options.
pub fn transactions_view(
    function: &str,
    args: &datafusion::catalog::TableFunctionArgs,
    positional: &[&str],
    plan: impl FnOnce(
        datafusion::logical_expr::LogicalPlan,
        &ClvOptions,
        &dyn Session,
    ) -> Result<datafusion::logical_expr::LogicalPlan>,
) -> Result<std::sync::Arc<dyn datafusion::catalog::TableProvider>> {
    let session = args.session();
    let (source, options) = parse_table_args(function, args.exprs(), positional, session)?;
    let source = crate::plan::source::TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
    Ok(std::sync::Arc::new(datafusion::datasource::ViewTable::new(
        plan(source, &options, session)?,
        None,
    )))
}
