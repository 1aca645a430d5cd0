//! [`Rfm`]: `rfm()` and `clv_policy_report()`.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame, list};
use crate::config::Monetary;
use crate::exec::rfm_clusters::{ClustersOutput, clusters_table};
use crate::exec::value_concentration::concentration_table;
use crate::plan::report::{PolicyReport, policy_report_plan};
use crate::plan::rfm::{RfmFunctions, rfm_plan};
use crate::plan::source::TransactionSource;
use crate::plan::transactions::customer_summary;
use crate::rfm::ScoreMethod;

builder!(
    /// RFM per customer: `Rfm::new().as_of("1998-07-01").bins(5).dataframe(&ctx, "orders")`.
    ///
    /// Every setter corresponds to the `rfm()` argument and the `clv.` session option of the same
    /// name; options left unset come from the session (then the documented defaults).
    Rfm
);

impl Rfm {
    /// Score levels 2..=10 (default: the scheme's, 5).
    pub fn bins(self, n: u8) -> Self {
        self.set("bins", n)
    }

    /// Scoring method (default: the scheme's, quantile).
    pub fn method(self, method: ScoreMethod) -> Self {
        self.set("method", method)
    }

    /// Segment scheme by name (default `rf_grid`; `none` for no segments).
    pub fn scheme(self, name: &str) -> Self {
        self.set("scheme", name)
    }

    /// Monetary aggregation (default sum).
    pub fn monetary(self, m: Monetary) -> Self {
        self.set("monetary", m)
    }

    /// Recency thresholds in days for method `fixed`.
    pub fn recency_thresholds(self, t: &[f64]) -> Self {
        self.set("recency_thresholds", list(t))
    }

    /// Frequency thresholds for method `fixed`.
    pub fn frequency_thresholds(self, t: &[f64]) -> Self {
        self.set("frequency_thresholds", list(t))
    }

    /// Monetary thresholds for method `fixed`.
    pub fn monetary_thresholds(self, t: &[f64]) -> Self {
        self.set("monetary_thresholds", list(t))
    }

    /// RFM per customer, the same columns as SQL `rfm()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, s| {
            rfm_plan(p, o, &RfmFunctions::from_session(s))
        })
        .await
    }

    /// The per-customer summary only (no scores).
    pub async fn summary(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| customer_summary(p, o)).await
    }

    /// How many rows each data policy affected under these options.
    pub async fn policy_report(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
    ) -> Result<PolicyReport> {
        let batches = frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            policy_report_plan(p, o)
        })
        .await?
        .collect()
        .await?;
        PolicyReport::from_batches(&batches)
    }
}

impl Rfm {
    /// Frequency and monetary over the last `days` days (SQL option `lookback_days`).
    pub fn lookback_days(self, days: u32) -> Self {
        self.set("lookback_days", days.to_string())
    }

    /// Each customer's k-means cluster (SQL `rfm_clusters`, with `k` and `seed` from the
    /// session unless set with [`Rfm::option`]).
    pub async fn clusters(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = super::segment::resolve(ctx, source, &o).await?;
        ctx.read_table(Arc::new(clusters_table(plan, &o, ClustersOutput::Customers)?))
    }

    /// One row per k-means cluster: sizes, centroids, means, inertia, silhouette (SQL
    /// `rfm_cluster_profiles`).
    pub async fn cluster_profiles(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
    ) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = super::segment::resolve(ctx, source, &o).await?;
        ctx.read_table(Arc::new(clusters_table(plan, &o, ClustersOutput::Profiles)?))
    }

    /// The Lorenz curve and Gini coefficient of monetary value (SQL `value_concentration`).
    pub async fn concentration(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        let plan = super::segment::resolve(ctx, source, &o).await?;
        ctx.read_table(Arc::new(concentration_table(plan, &o)?))
    }
}
