//! The Rust API of segment evaluation, migration, tuning, clustering and value concentration:
//! builders that mirror the SQL table functions option for option.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> datafusion::common::Result<()> {
//! use clv_core::{SegmentEvaluation, SegmentGrid};
//! use datafusion::prelude::*;
//! let ctx = SessionContext::new();
//! clv_core::register_all(&ctx)?;
//! ctx.sql("CREATE TABLE orders (customer_id INT, order_date DATE, amount DOUBLE) AS VALUES
//!          (1, DATE '2024-01-05', 20.0), (1, DATE '2024-03-01', 35.5), (2, DATE '2024-02-10', 12.0),
//!          (3, DATE '2024-01-20', 80.0), (3, DATE '2024-04-02', 10.0)").await?;
//! let e = SegmentEvaluation::new().cutoffs("2024-02-29").window_days(60).scheme("recency").bins(2);
//! let per_segment = e.segments(&ctx, "orders").await?.collect().await?;   // segment_evaluate
//! let grid = SegmentGrid::new().schemes("cell,total").bins("2,3");
//! let ranked = e.tune(&ctx, "orders", &grid).await?.collect().await?;      // segment_tune
//! # Ok(()) }
//! ```

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::builder;
use crate::churn::Period;
use crate::common::dates::parse_date;
use crate::config::ClvOptions;
use crate::exec::segment_eval::{EvaluationOutput, GridArgs, evaluate_table, outcomes_table, tune_table};
use crate::exec::segment_moves::{series_table, transitions_table};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;
use crate::rfm::ScoreMethod;

builder!(
    /// A segmentation evaluated against the future, mirroring SQL `segment_evaluate`,
    /// `segment_metrics`, `segment_outcomes`, `segment_tune`, `rfm_transitions` and
    /// `segment_series`: `SegmentEvaluation::new().cutoffs("1997-09-30").window_days(273)`.
    ///
    /// Every setter sets the SQL option of the same name; options left unset come from the
    /// session (then the documented defaults).
    SegmentEvaluation
);

/// The source resolved as the table functions resolve it (a path is read with `o`'s columns
/// and id type).
pub(super) async fn resolve(
    ctx: &SessionContext,
    source: impl Into<TransactionSource>,
    o: &ClvOptions,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    source.into().resolve_with(&ctx.state(), o).await
}

impl SegmentEvaluation {
    /// Cutoff dates: a list `"1997-06-30,1997-09-30"` or a range `"1997-01-01..1997-12-31"`.
    pub fn cutoffs(self, cutoffs: &str) -> Self {
        self.set("cutoffs", cutoffs)
    }

    /// The period whose last days a cutoff range expands to (default month).
    pub fn every(self, period: Period) -> Self {
        self.set("every", period)
    }

    /// The outcome window in days after each cutoff (default 90).
    pub fn window_days(self, days: u32) -> Self {
        self.set("window_days", days)
    }

    /// The scheme: a named one, or `cell`, `total`, `recency`, `kmeans`.
    pub fn scheme(self, name: &str) -> Self {
        self.set("scheme", name)
    }

    /// Score levels.
    pub fn bins(self, n: u8) -> Self {
        self.set("bins", n)
    }

    /// Score method.
    pub fn method(self, method: ScoreMethod) -> Self {
        self.set("method", method)
    }

    /// Frequency and monetary over the last `days` days before each cutoff.
    pub fn lookback_days(self, days: u32) -> Self {
        self.set("lookback_days", days)
    }

    /// Clusters of scheme `kmeans`.
    pub fn k(self, k: usize) -> Self {
        self.set("k", k)
    }

    /// One row per cutoff and segment (SQL `segment_evaluate`).
    pub async fn segments(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = resolve(ctx, source, &o).await?;
        let fns = RfmFunctions::from_session(&ctx.state());
        let t = evaluate_table(plan, &o, &fns, EvaluationOutput::Segments)?;
        ctx.read_table(Arc::new(t))
    }

    /// One row per cutoff: η², best segment, lift, stability (SQL `segment_metrics`).
    pub async fn metrics(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = resolve(ctx, source, &o).await?;
        let fns = RfmFunctions::from_session(&ctx.state());
        let t = evaluate_table(plan, &o, &fns, EvaluationOutput::Metrics)?;
        ctx.read_table(Arc::new(t))
    }

    /// Per cutoff and customer: RFM values and outcomes (SQL `segment_outcomes`).
    pub async fn outcomes(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = resolve(ctx, source, &o).await?;
        ctx.read_table(Arc::new(outcomes_table(plan, &o)?))
    }

    /// A grid of segmentations, ranked (SQL `segment_tune`); the grid's lists not given take
    /// this builder's scheme, bins, method, lookback and k.
    pub async fn tune(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
        grid: &SegmentGrid,
    ) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = resolve(ctx, source, &o).await?;
        let fns = RfmFunctions::from_session(&ctx.state());
        ctx.read_table(Arc::new(tune_table(plan, &o, &fns, &grid.0)?))
    }

    /// Customers moving between segments from `from` to `to` (SQL `rfm_transitions`).
    pub async fn transitions(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
        from: &str,
        to: &str,
    ) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = resolve(ctx, source, &o).await?;
        let fns = RfmFunctions::from_session(&ctx.state());
        let (from, to) = (parse_date(from, "from_date")?, parse_date(to, "to_date")?);
        ctx.read_table(Arc::new(transitions_table(plan, &o, &fns, from, to)?))
    }

    /// Segment sizes and revenue at every cutoff (SQL `segment_series`; without cutoffs, every
    /// month end of the data).
    pub async fn series(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = resolve(ctx, source, &o).await?;
        let fns = RfmFunctions::from_session(&ctx.state());
        ctx.read_table(Arc::new(series_table(plan, &o, &fns)?))
    }
}

/// The lists of a tuning grid (the `segment_tune` arguments of the same names).
#[derive(Debug, Clone, Default)]
pub struct SegmentGrid(GridArgs);

impl SegmentGrid {
    /// The builder's own scheme, bins, method, lookback and k.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schemes, e.g. `"rf_grid,rfm11,cell,kmeans"`.
    pub fn schemes(mut self, list: &str) -> Self {
        self.0.schemes = Some(list.into());
        self
    }

    /// Bins of the labellers without levels, e.g. `"3,4,5"`.
    pub fn bins(mut self, list: &str) -> Self {
        self.0.bins = Some(list.into());
        self
    }

    /// Methods, e.g. `"quantile,ntile"`.
    pub fn methods(mut self, list: &str) -> Self {
        self.0.methods = Some(list.into());
        self
    }

    /// Lookback windows in days, `all` for all history, e.g. `"all,180,365"`.
    pub fn lookback_days(mut self, list: &str) -> Self {
        self.0.lookback_days = Some(list.into());
        self
    }

    /// Cluster counts of `kmeans`, e.g. `"4,5,8"`.
    pub fn k(mut self, list: &str) -> Self {
        self.0.k = Some(list.into());
        self
    }

    /// The ranking metric: `eta2_revenue` (default), `eta2_repurchase`, `best_lift`, `stability`.
    pub fn rank_by(mut self, metric: &str) -> Self {
        self.0.rank_by = Some(metric.into());
        self
    }
}
