//! `cohort_retention(source [, period] [, 'name=value' ...])`: retention and revenue by
//! first-purchase cohort; `period` is day, week (Monday start), month (default), quarter or year.
//!
//! Columns: `cohort` (the period's first day), `period_offset`, `cohort_customers`,
//! `active_customers`, `retention_rate`, `revenue`, `revenue_retention`,
//! `cumulative_revenue_per_customer`. See [`crate::plan::cohort`] for the definitions.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::cohort::cohort_retention_plan;
use crate::plan::source::TransactionSource;

/// The `cohort_retention` table function.
#[derive(Debug, Default)]
pub struct CohortRetentionTableFunction;

impl ClvTableFunction for CohortRetentionTableFunction {
    const NAME: &'static str = "cohort_retention";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Retention and revenue by first-purchase cohort: one row per (cohort, period offset) with cohort_customers, active_customers, retention_rate, revenue, revenue_retention and cumulative_revenue_per_customer.",
                "cohort_retention(source [, period] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("period", "day, week (Monday start), month (default), quarter or year"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for CohortRetentionTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("cohort_retention", args.exprs(), &["period"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(
            cohort_retention_plan(plan, &options, options.cohort_period)?,
            None,
        )))
    }
}
