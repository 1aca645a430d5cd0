//! `segment_outcomes(source [, cutoffs [, window_days]] [, 'name=value' ...])`: per cutoff and
//! customer with a purchase on or before it, the RFM values as of the cutoff and what the
//! customer did in the window after it, to score any segment column with `segmentation_score`.
//!
//! Columns: `cutoff, customer_id, recency_days, frequency, monetary, future_orders,
//! future_revenue, repurchased, window_end, complete`. The values equal `rfm()`'s at `as_of` =
//! the cutoff (same options, `lookback_days` included); the window is
//! `(cutoff, cutoff + window_days]`; `complete` says whether it ends by the data end.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::segment_evaluate_table::EVALUATE_POSITIONAL;
use super::table_args::parse_table_args;
use crate::plan::segment_eval::outcomes_table;
use crate::plan::source::TransactionSource;

/// The `segment_outcomes` table function.
#[derive(Debug, Default)]
pub struct SegmentOutcomesTableFunction;

impl TableFunctionImpl for SegmentOutcomesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_outcomes", args.exprs(), &EVALUATE_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(outcomes_table(plan, &options)?))
    }
}
