//! `clv sql`: a query (or several, separated by `;`) with every clv function registered.

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;

use crate::cli::{GlobalArgs, SqlArgs};
use crate::error::{CliError, Result, from_datafusion};
use crate::input;
use crate::output;
use crate::progress::Progress;
use crate::session;

/// Registers `--table NAME=PATH` inputs.
pub async fn register_tables(ctx: &SessionContext, tables: &[String]) -> Result<()> {
    let time_column = session::options(ctx).time_column;
    let mut seen: Vec<&str> = vec![];
    for t in tables {
        let Some((name, path)) = t.split_once('=') else {
            return Err(CliError::usage(format!("--table '{t}': expected NAME=PATH")));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(CliError::usage(format!(
                "--table '{t}': the name must be letters, digits and '_'"
            )));
        }
        if name.eq_ignore_ascii_case(crate::sample::SAMPLE_TABLE) {
            return Err(CliError::usage(format!(
                "--table '{t}': '{name}' is the bundled CDNOW sample's name; choose another name"
            )));
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(CliError::usage(format!(
                "--table '{t}': a table named '{name}' is already given; give each table one name"
            )));
        }
        seen.push(name);
        input::register_path(ctx, name, path.trim(), None, Some(&time_column))
            .await
            .map_err(|e| e.context(format!("--table {name}")))?;
    }
    Ok(())
}

/// Runs every statement of `text` in order and returns the last one's result.
pub async fn run_statements(ctx: &SessionContext, text: &str, progress: &Progress) -> Result<Vec<RecordBatch>> {
    let statements = DFParser::parse_sql(text).map_err(from_datafusion)?;
    if statements.is_empty() {
        return Err(CliError::usage("the query is empty"));
    }
    let mut last = vec![];
    for statement in statements {
        let plan = ctx
            .state()
            .statement_to_plan(statement)
            .await
            .map_err(from_datafusion)?;
        let df = ctx.execute_logical_plan(plan).await.map_err(from_datafusion)?;
        last = progress.collect("query", df).await?;
    }
    Ok(last)
}

/// Runs `clv sql`.
pub async fn run(global: &GlobalArgs, args: SqlArgs) -> Result<()> {
    let ctx = session::context(global).await?;
    register_tables(&ctx, &args.tables).await?;
    args.output.check()?;
    let Some(query) = &args.query else {
        return super::shell::run(&ctx, global).await;
    };
    let progress = Progress::new(global.quiet, None);
    let batches = run_statements(&ctx, query, &progress).await?;
    if output::emit(&batches, &args.output, global.quiet)? == output::Emitted::Nothing {
        output::write(&batches, Some(output::Format::Table), None)?;
    }
    Ok(())
}
