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
//! whole. All cutoffs share one pass over the data ([`crate::exec::panel_exec`]).

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use crate::exec::segment_eval::{EvaluationOutput, evaluate_table};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The positional arguments after the source.
pub const EVALUATE_POSITIONAL: [&str; 2] = ["cutoffs", "window_days"];

/// The `segment_evaluate` table function.
#[derive(Debug, Default)]
pub struct SegmentEvaluateTableFunction;

impl ClvTableFunction for SegmentEvaluateTableFunction {
    const NAME: &'static str = "segment_evaluate";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "A segmentation scored against what its customers did next, one row per cutoff and segment: customers, customer_share, repurchasers, repurchase_rate, churn_rate, future_orders, future_revenue, revenue_per_customer, revenue_share, aov, lift and complete. The segments are rfm()'s at as_of = each cutoff (scheme may also be cell, total, recency or kmeans).",
                "segment_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])",
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

impl TableFunctionImpl for SegmentEvaluateTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_evaluate", args.exprs(), &EVALUATE_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(evaluate_table(
            plan,
            &options,
            &fns,
            EvaluationOutput::Segments,
        )?))
    }
}
