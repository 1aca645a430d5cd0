//! `segment_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])`: a segmentation
//! scored against what its customers did next, one row per cutoff and segment.
//!
//! Columns: `cutoff, window_end, segment, customers, customer_share, repurchasers,
//! repurchase_rate, churn_rate, future_orders, future_revenue, revenue_per_customer,
//! revenue_share, aov, lift, complete`. The segmentation is the one `rfm()` computes with the
//! same options (`scheme`, `bins`, `method`, thresholds, `monetary`, `lookback_days`), with
//! `as_of` = each cutoff; `scheme` may also be `cell`, `total`, `recency` or `kmeans` (with
//! `k`, `seed`). The outcome window is `(cutoff, cutoff + window_days]` (default 90 days).
//! Definitions: [`crate::segment::evaluate`]; `segment_metrics` scores the segmentation as a
//! whole. All cutoffs share one pass over the data ([`crate::plan::panel_exec`]).

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::parse_table_args;
use crate::plan::rfm::RfmFunctions;
use crate::plan::segment_eval::{EvaluationOutput, evaluate_table};
use crate::plan::source::TransactionSource;

/// The positional arguments after the source.
pub const EVALUATE_POSITIONAL: [&str; 2] = ["cutoffs", "window_days"];

/// The `segment_evaluate` table function.
#[derive(Debug, Default)]
pub struct SegmentEvaluateTableFunction;

impl TableFunctionImpl for SegmentEvaluateTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_evaluate", args.exprs(), &EVALUATE_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(evaluate_table(
            plan,
            &options,
            &fns,
            EvaluationOutput::Segments,
        )?))
    }
}
