//! `segment_metrics(source [, cutoffs [, window_days]] [, 'name=value' ...])`: a segmentation
//! scored as a whole against the future, one row per cutoff.
//!
//! Columns: `cutoff, window_end, segmentation, customers, segments, repurchase_rate,
//! revenue_per_customer, eta2_revenue, eta2_repurchase, best_segment, best_lift, stability,
//! complete`: the share of the variance of future revenue per customer (and of repurchase)
//! between segments (η²), the segment with the highest future revenue per customer and its
//! lift over the population, and the share of the customers present at the previous cutoff
//! who keep their segment. Arguments as `segment_evaluate`; definitions:
//! [`crate::segment::evaluate`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::segment_evaluate_table::EVALUATE_POSITIONAL;
use super::table_args::parse_table_args;
use crate::plan::rfm::RfmFunctions;
use crate::plan::segment_eval::{EvaluationOutput, evaluate_table};
use crate::plan::source::TransactionSource;

/// The `segment_metrics` table function.
#[derive(Debug, Default)]
pub struct SegmentMetricsTableFunction;

impl TableFunctionImpl for SegmentMetricsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_metrics", args.exprs(), &EVALUATE_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(evaluate_table(
            plan,
            &options,
            &fns,
            EvaluationOutput::Metrics,
        )?))
    }
}
