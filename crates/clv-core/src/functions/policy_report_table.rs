//! `clv_policy_report(source [, as_of] [, 'name=value' ...])`: how many rows each data policy affected.
//!
//! One row: `as_of, rows_read, duplicate_rows, null_customer_or_time, invalid_amount,
//! after_as_of, negative_amount, zero_amount, rows_used, customers, customers_without_purchases`.
//! It takes the same options as `rfm()`, so it reports exactly what an `rfm()` call with those
//! options excluded.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;

use super::table_args::parse_table_args;
use crate::plan::report::policy_report_plan;
use crate::plan::source::TransactionSource;

/// The `clv_policy_report` table function.
#[derive(Debug, Default)]
pub struct PolicyReportTableFunction;

impl TableFunctionImpl for PolicyReportTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("clv_policy_report", args.exprs(), &["as_of"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(policy_report_plan(plan, &options)?, None)))
    }
}
