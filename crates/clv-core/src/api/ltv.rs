//! [`ClvPredict`]: `clv_predict()` and `clv_model()`.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::config::TimeUnit;
use crate::plan::ltv::{clv_model_plan, clv_predict_plan};
use crate::plan::source::TransactionSource;

builder!(
    /// Summary, fits and predictions in one plan, mirroring SQL
    /// `clv_predict(source [, calibration_end [, horizon]])` and
    /// `clv_model(source [, calibration_end])`:
    /// `ClvPredict::new().calibration_end("1997-09-30").horizon(39.0).dataframe(&ctx, "orders")`.
    ClvPredict
);

impl ClvPredict {
    /// Inclusive end of the calibration period `YYYY-MM-DD` (default: the as-of date, else the
    /// last transaction date).
    pub fn calibration_end(self, date: &str) -> Self {
        self.set("calibration_end", date)
    }

    /// Prediction horizon in the time unit (default 52).
    pub fn horizon(self, periods: f64) -> Self {
        self.set("horizon", periods)
    }

    /// Time unit of the summary, the fits and the horizon (default week).
    pub fn time_unit(self, unit: TimeUnit) -> Self {
        self.set("time_unit", unit)
    }

    /// The transaction model: `bg_nbd` (default), `pareto_nbd` or `mbg_nbd` (or an alias).
    pub fn model(self, name: &str) -> Self {
        self.set("model", name)
    }

    /// Discount rate per time unit for `clv` (default 0).
    pub fn discount_rate(self, rate: f64) -> Self {
        self.set("discount_rate", rate)
    }

    /// Profit margin applied to `clv` (default 1).
    pub fn margin(self, margin: f64) -> Self {
        self.set("margin", margin)
    }

    /// L2 penalizer of both fits (default 0).
    pub fn penalizer(self, lambda: f64) -> Self {
        self.set("penalizer", lambda)
    }

    /// Per customer: `customer_id, x, t_x, t, monetary, p_alive, expected_purchases,
    /// expected_spend, clv`, as SQL `clv_predict()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| clv_predict_plan(p, o)).await
    }

    /// One row: the fitted `model` and `spend_model`, as SQL `clv_model()`.
    pub async fn models(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| clv_model_plan(p, o)).await
    }
}
