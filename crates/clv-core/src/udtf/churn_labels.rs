//! `churn_labels(source [, cutoffs] [, window_days] [, 'name=value' ...])`: per cutoff and
//! customer, the features as of the cutoff and the churn label of the window after it.
//!
//! `cutoffs` is a list `'1997-06-30,1997-09-30'` or a range `'1997-01-01..1997-12-31'` that
//! expands to the last day of every `every` period (default month) inside it. `window_days`
//! defaults to 90; `'btyd=true'` adds `x, t_x, t, p_alive, churn_probability,
//! expected_purchases`. See [`crate::plan::churn`] for the definitions.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::churn::churn_labels_plan;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `churn_labels` table function.
#[derive(Debug, Default)]
pub struct ChurnLabelsTableFunction;

impl ClvTableFunction for ChurnLabelsTableFunction {
    const NAME: &'static str = "churn_labels";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Churn training labels: per cutoff and customer, the RFM features as of the cutoff and whether the customer bought in the window after it (NULL when the window is censored).",
                "churn_labels(source [, cutoffs [, window_days]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "cutoffs",
                        "a list YYYY-MM-DD,YYYY-MM-DD or a range start..end (the last day of every `every` period)",
                    ),
                    ("window_days", "the churn window in days after a cutoff (default 90)"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ChurnLabelsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("churn_labels", args.exprs(), &["cutoffs", "window_days"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(ViewTable::new(churn_labels_plan(plan, &options, &fns)?, None)))
    }
}
