//! `segment_outcomes(source [, cutoffs [, window_days]] [, 'name=value' ...])`: per cutoff and
//! customer with a purchase on or before it, the RFM values as of the cutoff and what the
//! customer did in the window after it, to score any segment column with `segmentation_score`.
//!
//! Columns: `cutoff, customer_id, recency_days, frequency, monetary, future_orders,
//! future_revenue, repurchased, window_end, complete`. The values equal `rfm()`'s at `as_of` =
//! the cutoff (same options, `lookback_days` included); the window is
//! `(cutoff, cutoff + window_days]`; `complete` says whether it ends by the data end.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use super::segment_evaluate::EVALUATE_POSITIONAL;
use crate::exec::segment_eval::outcomes_table;
use crate::plan::source::TransactionSource;

/// The `segment_outcomes` table function.
#[derive(Debug, Default)]
pub struct SegmentOutcomesTableFunction;

impl ClvTableFunction for SegmentOutcomesTableFunction {
    const NAME: &'static str = "segment_outcomes";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "Per cutoff and customer with a purchase by the cutoff: recency_days, frequency and monetary as rfm() at the cutoff, and the outcomes future_orders, future_revenue, repurchased, window_end and complete, to score any segment column with segmentation_score.",
                "segment_outcomes(source [, cutoffs [, window_days]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "cutoffs",
                        "a list 'YYYY-MM-DD,YYYY-MM-DD' or a range 'start..end' expanded to the last day of every `every` period (default: the cutoffs option)",
                    ),
                    (
                        "window_days",
                        "the outcome window in days after each cutoff: purchases in (cutoff, cutoff + window_days] (default 90)",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for SegmentOutcomesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_outcomes", args.exprs(), &EVALUATE_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(outcomes_table(plan, &options)?))
    }
}
