//! One module per command. Every command computes through the clv SQL functions on a session
//! that carries the options (defaults, `clv.toml`, flags), so the CLI adds presentation only.

pub mod churn;
pub mod churn_risk;
pub mod cohorts;
pub mod compare;
pub mod models;
pub mod report;
pub mod rfm;
pub mod schemes;
pub mod segments;
pub mod shell;
pub mod sql;
pub mod summary;
pub mod tune;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::cli::{GlobalArgs, InputArgs};
use crate::error::{CliError, Result, from_datafusion};
use crate::input::{self, Input};
use crate::progress::Progress;
use crate::session;

/// A command's session, its registered input and its progress reporter.
pub struct Job {
    /// The session, with clv registered and the options set: local, or on the cluster.
    pub ctx: SessionContext,
    /// Where collected results are registered and summarised ([`Job::sql_registered`],
    /// [`Job::sql_results`]): `ctx` itself, or a local session when `ctx` runs on a cluster
    /// (the results are already on this machine; shipping them back would be wasted work).
    results: SessionContext,
    /// The registered input.
    pub input: Input,
    /// Progress on stderr.
    pub progress: Progress,
    /// `--quiet`.
    pub quiet: bool,
}

impl Job {
    /// Creates the session, applies `clv.toml` then the flags' options, and registers the input.
    pub async fn new(global: &GlobalArgs, input: &InputArgs, options: &[(&str, Option<String>)]) -> Result<Self> {
        if global.cluster.is_some() && input.path.is_none() {
            return Err(CliError::usage(
                "--cluster needs an input PATH that every executor can read (the bundled sample exists only in this process), e.g. clv --cluster df://host:50050 rfm /data/orders/",
            ));
        }
        let ctx = session::context(global).await?;
        session::set_options(&ctx, &input.contract.options(), "")?;
        session::set_options(&ctx, options, "")?;
        let time_column = session::options(&ctx).time_column;
        let input = input::register(&ctx, input.path.as_deref(), input.input_format, &time_column).await?;
        let progress = Progress::new(global.quiet, input.total_rows);
        let results = if global.cluster.is_some() {
            session::new_context(None).await?
        } else {
            ctx.clone()
        };
        Ok(Self {
            ctx,
            results,
            input,
            progress,
            quiet: global.quiet,
        })
    }

    /// Runs a query over the session as the progress step `step`.
    pub async fn sql(&self, step: &str, query: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.collect(step, plan(&self.ctx, query).await?).await?.0)
    }

    /// Runs `df`; a data error over CSV or NDJSON files names the file, row and column of the
    /// first bad value ([`crate::locate`]) when one is found.
    async fn collect(
        &self,
        step: &str,
        df: datafusion::dataframe::DataFrame,
    ) -> Result<(
        Vec<RecordBatch>,
        std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    )> {
        match self.progress.collect_plan(step, df).await {
            Err(e) if e.kind == crate::error::Kind::Data && !self.input.text_files.is_empty() => {
                let o = session::options(&self.ctx);
                Err(
                    match crate::locate::locate(
                        &self.input.text_files,
                        self.input.json,
                        &o.time_column,
                        &o.amount_column,
                    ) {
                        Some(found) => CliError::data(found),
                        None => e,
                    },
                )
            }
            other => other,
        }
    }

    /// Runs a query like [`Job::sql`] and also registers its result as table `name` (replacing
    /// one of that name) for the summaries [`Job::sql_results`] computes from it.
    pub async fn sql_registered(&self, step: &str, query: &str, name: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.sql_registered_plan(step, query, name).await?.0)
    }

    /// [`Job::sql_registered`], also returning the executed plan.
    pub async fn sql_registered_plan(
        &self,
        step: &str,
        query: &str,
        name: &str,
    ) -> Result<(
        Vec<RecordBatch>,
        std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    )> {
        let df = plan(&self.ctx, query).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let (batches, executed) = self.collect(step, df).await?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches.clone()])?;
        self.results.deregister_table(name)?;
        self.results.register_table(name, std::sync::Arc::new(table))?;
        Ok((batches, executed))
    }

    /// Runs a query over the tables [`Job::sql_registered`] registered, on this machine.
    pub async fn sql_results(&self, step: &str, query: &str) -> Result<Vec<RecordBatch>> {
        self.progress.collect(step, plan(&self.results, query).await?).await
    }

    /// The input table name quoted as a SQL string literal, for table-function calls.
    pub fn source(&self) -> String {
        format!("'{}'", self.input.table.replace('\'', "''"))
    }

    /// Warns on stderr (unless `--quiet`) when a per-customer result is empty, naming the likely
    /// cause from the data-policy counts; the output is still written, with its columns.
    pub async fn warn_if_empty(&self, batches: &[RecordBatch], what: &str) -> Result<()> {
        use clv::rfm::diagnostics::{EmptyCounts, empty};
        if self.quiet || crate::output::rows(batches) > 0 {
            return Ok(());
        }
        let report = clv::prelude::PolicyReport::from_batches(
            &self
                .sql(
                    "data policies",
                    &format!("SELECT * FROM clv_policy_report({})", self.source()),
                )
                .await?,
        )?;
        let counts = EmptyCounts {
            rows_read: report.rows_read,
            after_as_of: report.after_as_of,
            null_customer_or_time: report.null_customer_or_time,
            invalid_amount: report.invalid_amount,
        };
        if let Some(d) = empty(what, 0, counts, report.as_of.as_deref()) {
            self.warn(d);
        }
        Ok(())
    }

    /// Prints a warning on stderr unless `--quiet`.
    pub fn warn(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("warning: {text}");
        }
    }

    /// Prints a note on stderr unless `--quiet`.
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", text.as_ref());
        }
    }
}

/// Plans `query` on `ctx`; its planning errors are the user's (usage) unless clv typed them.
async fn plan(ctx: &SessionContext, query: &str) -> Result<datafusion::dataframe::DataFrame> {
    ctx.sql(query).await.map_err(from_datafusion)
}

/// `expr` as an exact decimal, `CAST(expr AS DECIMAL(38, 10))`: sums and means of it do not
/// depend on the order of the rows (a float SUM or AVG adds in partition order, so its last
/// digits change with the partitioning; the printed figures must not).
pub fn exact_decimal(expr: &str) -> String {
    format!("CAST({expr} AS DECIMAL(38, 10))")
}

/// `agg(expr)` over a float column, computed exactly ([`exact_decimal`]) and cast back to DOUBLE:
/// `exact("sum", "monetary")`.
pub fn exact(agg: &str, expr: &str) -> String {
    format!("CAST({agg}({}) AS DOUBLE)", exact_decimal(expr))
}

/// Quotes a date or option value as a SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
