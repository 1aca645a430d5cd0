//! [`ChurnLabels`]: `churn_labels()` and `churn_evaluate()`.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::churn::Period;
use crate::plan::churn::{churn_evaluate_plan, churn_labels_plan};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

builder!(
    /// Churn training labels, mirroring SQL `churn_labels`:
    /// `ChurnLabels::new().cutoffs("1997-01-01..1997-12-31").window_days(90).dataframe(&ctx, "orders")`.
    /// The RFM options (bins, method, scheme, ...) are set through [`ChurnLabels::option`].
    ChurnLabels
);

impl ChurnLabels {
    /// Cutoff dates: a list `"1997-06-30,1997-09-30"` or a range `"1997-01-01..1997-12-31"`
    /// (required).
    pub fn cutoffs(self, cutoffs: &str) -> Self {
        self.set("cutoffs", cutoffs)
    }

    /// The period whose last days a cutoff range expands to (default month).
    pub fn every(self, period: Period) -> Self {
        self.set("every", period)
    }

    /// The churn window in days after each cutoff (default 90).
    pub fn window_days(self, days: u32) -> Self {
        self.set("window_days", days)
    }

    /// Adds `x, t_x, t, p_alive, churn_probability, expected_purchases` (default false).
    pub fn btyd(self, on: bool) -> Self {
        self.set("btyd", on)
    }

    /// The labels, the same columns as SQL `churn_labels()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, s| {
            churn_labels_plan(p, o, &RfmFunctions::from_session(s))
        })
        .await
    }

    /// The decile calibration table with the AUC, the same as SQL `churn_evaluate()`.
    pub async fn evaluate(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, s| {
            churn_evaluate_plan(p, o, &RfmFunctions::from_session(s))
        })
        .await
    }
}
