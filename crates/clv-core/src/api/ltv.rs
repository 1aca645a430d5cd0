//! [`ClvPredict`]: `clv_predict()`, `clv_model()` and `clv_parameters()`; [`ClvCompare`]:
//! `clv_compare()`; [`ClvTracking`]: `clv_tracking()`.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::config::TimeUnit;
use crate::ltv::bootstrap::IntervalMethod;
use crate::plan::ltv::{clv_model_plan, clv_predict_plan};
use crate::plan::ltv_extra::{clv_compare_plan, clv_parameters_plan};
use crate::plan::source::TransactionSource;
use crate::plan::tracking::clv_tracking_plan;

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

    /// The transaction model: `bg_nbd` (default), `pareto_nbd` or `mbg_nbd` (or an alias), or
    /// `auto` (the lowest holdout RMSE with a holdout, else the lowest BIC).
    pub fn model(self, name: &str) -> Self {
        self.set("model", name)
    }

    /// Inclusive end of the holdout `YYYY-MM-DD`: `clv_predict` passes `x_holdout, t_holdout`
    /// through, and `model=auto` chooses by holdout error (default: no holdout).
    pub fn holdout_end(self, date: &str) -> Self {
        self.set("holdout_end", date)
    }

    /// Customer-bootstrap intervals at `level` (strictly between 0 and 1; default none, and
    /// 0.95 for [`ClvPredict::parameters`]).
    pub fn intervals(self, level: f64) -> Self {
        self.set("intervals", level)
    }

    /// Bootstrap replicates (default 200).
    pub fn replicates(self, b: usize) -> Self {
        self.set("replicates", b)
    }

    /// Seed of the bootstrap's replicate weights (default 0).
    pub fn seed(self, seed: u64) -> Self {
        self.set("seed", seed)
    }

    /// How the bootstrap intervals are read (default [`IntervalMethod::LogNormal`]).
    pub fn interval_method(self, method: IntervalMethod) -> Self {
        self.set("interval_method", method)
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

    /// One row per parameter with its bootstrap and delta-method intervals, as SQL
    /// `clv_parameters()`.
    pub async fn parameters(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            clv_parameters_plan(p, o)
        })
        .await
    }
}

builder!(
    /// Holdout accuracy and model choice, mirroring SQL
    /// `clv_compare(source, calibration_end [, holdout_end])`:
    /// `ClvCompare::new().calibration_end("1997-09-30").holdout_end("1998-06-30").dataframe(&ctx, "orders")`.
    ClvCompare
);

impl ClvCompare {
    /// Inclusive end of the calibration period `YYYY-MM-DD`.
    pub fn calibration_end(self, date: &str) -> Self {
        self.set("calibration_end", date)
    }

    /// Inclusive end of the holdout `YYYY-MM-DD` (without one, BIC decides).
    pub fn holdout_end(self, date: &str) -> Self {
        self.set("holdout_end", date)
    }

    /// Time unit of the summary and the fits (default week).
    pub fn time_unit(self, unit: TimeUnit) -> Self {
        self.set("time_unit", unit)
    }

    /// The candidate models (default every transaction model).
    pub fn candidates(self, models: &[&str]) -> Self {
        self.set("models", models.join(","))
    }

    /// The penalizer grid (default the penalizer alone).
    pub fn penalizers(self, grid: &[f64]) -> Self {
        self.set("penalizers", super::list(grid))
    }

    /// L2 penalizer of the fits when there is no grid (default 0).
    pub fn penalizer(self, lambda: f64) -> Self {
        self.set("penalizer", lambda)
    }

    /// One row per candidate and the naive baseline, as SQL `clv_compare()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| clv_compare_plan(p, o)).await
    }
}

builder!(
    /// Actual against expected repeat transactions per period, mirroring SQL
    /// `clv_tracking(source, calibration_end [, holdout_end [, tracking_period]])`:
    /// `ClvTracking::new().calibration_end("1997-09-30").holdout_end("1998-06-30").dataframe(&ctx, "orders")`.
    ClvTracking
);

impl ClvTracking {
    /// Inclusive end of the calibration period `YYYY-MM-DD`.
    pub fn calibration_end(self, date: &str) -> Self {
        self.set("calibration_end", date)
    }

    /// Inclusive end of the holdout `YYYY-MM-DD` (default: the calibration period only).
    pub fn holdout_end(self, date: &str) -> Self {
        self.set("holdout_end", date)
    }

    /// Period length in days (default 7, a week).
    pub fn tracking_period(self, days: i64) -> Self {
        self.set("tracking_period", days)
    }

    /// Time unit of the model (default week).
    pub fn time_unit(self, unit: TimeUnit) -> Self {
        self.set("time_unit", unit)
    }

    /// The transaction model (default `bg_nbd`; `auto`: the lowest BIC).
    pub fn model(self, name: &str) -> Self {
        self.set("model", name)
    }

    /// One row per period, as SQL `clv_tracking()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            clv_tracking_plan(p, o)
        })
        .await
    }
}
