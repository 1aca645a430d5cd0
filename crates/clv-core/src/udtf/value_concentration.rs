//! `value_concentration(source [, as_of] [, 'name=value' ...])`: how concentrated the
//! customers' value is: the share of revenue from the top `p` % of customers and the Lorenz
//! curve, at every whole percent `p` = 0..100 (101 rows), with the Gini coefficient.
//!
//! Columns: `percent, top_customers, top_share, bottom_customers, bottom_share, gini,
//! customers, clamped_customers`. The value is `rfm()`'s `monetary` with the same options (as-of
//! date, policies, `monetary`, `lookback_days`); a negative net value counts as 0
//! (`clamped_customers`). Definitions: [`crate::segment::concentration`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use crate::exec::value_concentration::concentration_table;
use crate::plan::source::TransactionSource;

/// The `value_concentration` table function.
#[derive(Debug, Default)]
pub struct ValueConcentrationTableFunction;

impl ClvTableFunction for ValueConcentrationTableFunction {
    const NAME: &'static str = "value_concentration";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "How concentrated customer value is: 101 rows, percent = 0..100, with the share of revenue from the top percent of customers (top_customers, top_share), the Lorenz curve (bottom_customers, bottom_share), the Gini coefficient, customers and clamped_customers (negative net values counted as 0).",
                "value_concentration(source [, as_of] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "as_of",
                        "the as-of date YYYY-MM-DD (default: the day after the last transaction)",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ValueConcentrationTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("value_concentration", args.exprs(), &["as_of"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(concentration_table(plan, &options)?))
    }
}
