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

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::segment_evaluate_table::EVALUATE_POSITIONAL;
use super::table_args::parse_table_args_with_locals;
use crate::plan::rfm::RfmFunctions;
use crate::plan::segment_eval::{GridArgs, tune_table};
use crate::plan::source::TransactionSource;

/// The grid arguments (not session options).
pub const TUNE_LOCALS: [&str; 6] = ["schemes", "bins", "methods", "lookback_days", "k", "rank_by"];

/// The `segment_tune` table function.
#[derive(Debug, Default)]
pub struct SegmentTuneTableFunction;

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
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(tune_table(plan, &options, &fns, &grid)?))
    }
}
