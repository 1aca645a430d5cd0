//! [`CohortRetention`]: `cohort_retention()`.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::churn::Period;
use crate::plan::cohort::cohort_retention_plan;
use crate::plan::source::TransactionSource;

builder!(
    /// Cohort retention, mirroring SQL `cohort_retention(source [, period])`:
    /// `CohortRetention::new().period(Period::Quarter).dataframe(&ctx, "orders")`.
    CohortRetention
);

impl CohortRetention {
    /// The cohort grain: day, week (Monday start), month (default), quarter or year.
    pub fn period(self, period: Period) -> Self {
        self.set("period", period)
    }

    /// The retention rows, the same columns as SQL `cohort_retention()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            cohort_retention_plan(p, o, o.cohort_period)
        })
        .await
    }
}
