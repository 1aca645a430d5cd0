//! `value_concentration(source [, as_of] [, 'name=value' ...])`: how concentrated the
//! customers' value is: the share of revenue from the top `p` % of customers and the Lorenz
//! curve, at every whole percent `p` = 0..100 (101 rows), with the Gini coefficient.
//!
//! Columns: `percent, top_customers, top_share, bottom_customers, bottom_share, gini,
//! customers, clamped_customers`. The value is `rfm()`'s `monetary` with the same options (as-of
//! date, policies, `monetary`, `lookback_days`); a negative net value counts as 0
//! (`clamped_customers`). Definitions: [`crate::segment::concentration`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::parse_table_args;
use crate::plan::source::TransactionSource;
use crate::plan::value_concentration::concentration_table;

/// The `value_concentration` table function.
#[derive(Debug, Default)]
pub struct ValueConcentrationTableFunction;

impl TableFunctionImpl for ValueConcentrationTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("value_concentration", args.exprs(), &["as_of"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(concentration_table(plan, &options)?))
    }
}
