//! `segment_series(source [, cutoffs] [, 'name=value' ...])`: segment sizes and revenue over
//! time, for trend charts: one row per cutoff and segment with `customers, customer_share,
//! monetary, period_revenue, period_revenue_share`.
//!
//! Cutoffs default to the last day of every month (`every`) from the first transaction to the
//! data end. Segments as `rfm()` with `as_of` = each cutoff; `period_revenue` is what the
//! segment's customers spent after the previous cutoff (the first: since the start of its
//! month). See [`crate::exec::segment_moves`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use crate::exec::segment_moves::series_table;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `segment_series` table function.
#[derive(Debug, Default)]
pub struct SegmentSeriesTableFunction;

impl ClvTableFunction for SegmentSeriesTableFunction {
    const NAME: &'static str = "segment_series";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "Segment sizes and revenue over time, one row per cutoff and segment: customers, customer_share, monetary (as of the cutoff), period_revenue (spent since the previous cutoff) and period_revenue_share.",
                "segment_series(source [, cutoffs] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "cutoffs",
                        "a list or a range start..end (default: every month end, or every `every` period end, of the data)",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for SegmentSeriesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_series", args.exprs(), &["cutoffs"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(series_table(plan, &options, &fns)?))
    }
}
