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

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use super::segment_evaluate::EVALUATE_POSITIONAL;
use crate::exec::segment_eval::{EvaluationOutput, evaluate_table};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `segment_metrics` table function.
#[derive(Debug, Default)]
pub struct SegmentMetricsTableFunction;

impl ClvTableFunction for SegmentMetricsTableFunction {
    const NAME: &'static str = "segment_metrics";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "A segmentation scored as a whole, one row per cutoff: eta2_revenue and eta2_repurchase (the share of the variance of future revenue per customer, or of repurchase, between segments), best_segment with its best_lift, and stability (the share of customers keeping their segment since the previous cutoff).",
                "segment_metrics(source [, cutoffs [, window_days]] [, 'name=value' ...])",
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

impl TableFunctionImpl for SegmentMetricsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("segment_metrics", args.exprs(), &EVALUATE_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(evaluate_table(
            plan,
            &options,
            &fns,
            EvaluationOutput::Metrics,
        )?))
    }
}
