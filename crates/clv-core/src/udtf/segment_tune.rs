//! `segment_tune(source [, cutoffs [, window_days]] [, 'name=value' ...])`: a grid of
//! segmentations evaluated at several cutoffs and ranked.
//!
//! The grid is given by lists: `'schemes=rf_grid,rfm11,cell,kmeans'`, `'bins=3,4,5'`,
//! `'methods=quantile,ntile'`, `'lookback_days=all,180,365'`, `'k=4,5,8'`, ranked by
//! `'rank_by=eta2_revenue'` (default; or `eta2_repurchase`, `best_lift`, `stability`), the
//! mean over the cutoffs. A list not given takes the session's value (one scheme, bins,
//! window, k; without a method, each scheme's own). The expansion rules (a scheme's bins are its levels, ...) and the
//! baseline (`recency`, 5 quantile bins, always evaluated) are in [`crate::segment::grid`].
//!
//! Columns: `rank, segmentation, scheme, bins, method, lookback_days, k, baseline, cutoffs,
//! segments, eta2_revenue, eta2_repurchase, best_lift, stability, min_eta2_revenue, rank_by`
//! (means over the cutoffs; `min_eta2_revenue` the worst cutoff). Every configuration of
//! every cutoff shares one pass over the data.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args_with_locals;
use super::segment_evaluate::EVALUATE_POSITIONAL;
use crate::exec::segment_eval::{GridArgs, tune_table};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The grid arguments (not session options).
pub const TUNE_LOCALS: [&str; 6] = ["schemes", "bins", "methods", "lookback_days", "k", "rank_by"];

/// The `segment_tune` table function.
#[derive(Debug, Default)]
pub struct SegmentTuneTableFunction;

impl ClvTableFunction for SegmentTuneTableFunction {
    const NAME: &'static str = "segment_tune";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "A grid of segmentations (schemes x bins x methods x lookback windows x k), each evaluated at every cutoff in one pass over the data, ranked by the mean of rank_by over the cutoffs; the baseline (recency, 5 quantile bins) is always evaluated.",
                "segment_tune(source [, cutoffs [, window_days]] [, 'name=value' ...])",
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
                    (
                        "'schemes=...'",
                        "schemes to compare: named ones, cell, total, recency, kmeans (default: the scheme option)",
                    ),
                    (
                        "'bins=...'",
                        "score levels of cell, total and recency, e.g. '3,4,5' (a named scheme's bins are its levels)",
                    ),
                    (
                        "'methods=...'",
                        "score methods, e.g. 'quantile,ntile' (default: each scheme's own)",
                    ),
                    (
                        "'lookback_days=...'",
                        "frequency and monetary windows in days, all = all history, e.g. 'all,180,365'",
                    ),
                    ("'k=...'", "cluster counts of kmeans, e.g. '4,5,8'"),
                    (
                        "'rank_by=...'",
                        "eta2_revenue (default), eta2_repurchase, best_lift or stability",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for SegmentTuneTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options, locals) = parse_table_args_with_locals(
            "segment_tune",
            args.exprs(),
            &EVALUATE_POSITIONAL,
            &TUNE_LOCALS,
            session,
        )?;
        let grid = GridArgs {
            schemes: locals.get("schemes").cloned(),
            bins: locals.get("bins").cloned(),
            methods: locals.get("methods").cloned(),
            lookback_days: locals.get("lookback_days").cloned(),
            k: locals.get("k").cloned(),
            rank_by: locals.get("rank_by").cloned(),
        };
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(tune_table(plan, &options, &fns, &grid)?))
    }
}
