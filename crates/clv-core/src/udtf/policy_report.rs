//! `clv_policy_report(source [, as_of] [, 'name=value' ...])`: how many rows each data policy affected.
//!
//! One row: `as_of, rows_read, duplicate_rows, null_customer_or_time, invalid_amount,
//! after_as_of, negative_amount, zero_amount, rows_used, customers, customers_without_purchases`.
//! It takes the same options as `rfm()`, so it reports exactly what an `rfm()` call with those
//! options excluded.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::report::policy_report_plan;
use crate::plan::source::TransactionSource;

/// The `clv_policy_report` table function.
#[derive(Debug, Default)]
pub struct PolicyReportTableFunction;

impl ClvTableFunction for PolicyReportTableFunction {
    const NAME: &'static str = "clv_policy_report";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "One row counting what each data policy did for the same options as an rfm() call: rows read, duplicates, null customers or times, invalid, late, negative and zero amounts, rows used and customers.",
                "clv_policy_report(source [, as_of] [, 'name=value' ...])",
                &[SOURCE, ("as_of", "the as-of date YYYY-MM-DD"), NAMED_OPTIONS],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for PolicyReportTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("clv_policy_report", args.exprs(), &["as_of"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(policy_report_plan(plan, &options)?, None)))
    }
}
