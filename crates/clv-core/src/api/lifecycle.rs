//! [`Lifecycle`]: `lifecycle()` and `lifecycle_transitions()`.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::common::dates::parse_date;
use crate::plan::lifecycle::{lifecycle_plan, transitions_plan};
use crate::plan::source::TransactionSource;

builder!(
    /// Lifecycle stages, mirroring SQL `lifecycle(source [, as_of])` and
    /// `lifecycle_transitions(source, from_date, to_date)`:
    /// `Lifecycle::new().as_of("2024-06-30").churn_days(120).dataframe(&ctx, "orders")`.
    Lifecycle
);

impl Lifecycle {
    /// New while the first purchase is fewer than this many days ago (default 30).
    pub fn new_days(self, days: u32) -> Self {
        self.set("new_days", days)
    }

    /// Active while the last purchase is fewer than this many days ago (default 90).
    pub fn active_days(self, days: u32) -> Self {
        self.set("active_days", days)
    }

    /// Churned from this many days without a purchase (default 180).
    pub fn churn_days(self, days: u32) -> Self {
        self.set("churn_days", days)
    }

    /// Each customer's stage, the same columns as SQL `lifecycle()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| lifecycle_plan(p, o)).await
    }

    /// Customers moving between stages from `from_date` to `to_date` (`YYYY-MM-DD`), the same
    /// columns as SQL `lifecycle_transitions()`.
    pub async fn transitions(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
        from_date: &str,
        to_date: &str,
    ) -> Result<DataFrame> {
        let (from, to) = (parse_date(from_date, "from_date")?, parse_date(to_date, "to_date")?);
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            transitions_plan(p, o, from, to)
        })
        .await
    }
}
