//! [`ChurnLabels`]: `churn_labels()`; [`ChurnRisk`]: the trained churn model's `churn_features()`,
//! `churn_risk()`, `churn_contacts()`, `churn_model()`, and the evaluation of every score,
//! `churn_evaluate()` and `churn_calibration()`.

use datafusion::arrow::array::AsArray;
use datafusion::common::{Result, exec_err};
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::churn::Period;
use crate::config::ClvOptions;
use crate::ltv::FittedLogistic;
use crate::plan::churn::churn_labels_plan;
use crate::plan::churn_evaluate::{churn_calibration_plan, churn_evaluate_plan};
use crate::plan::churn_model::{churn_contacts_plan, churn_features_plan, churn_model_plan, churn_risk_plan};
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

    /// Adds `x, t_x, t, p_alive, churn_probability` (no purchase in the window),
    /// `dropout_probability` (1 − P(alive)) and `expected_purchases` (default false).
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

    /// Every churn score side by side on these labels, the same as SQL `churn_evaluate()`
    /// (see [`ChurnRisk::evaluate`]).
    pub async fn evaluate(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        evaluation(ctx, source.into(), self.options(ctx)?, false).await
    }
}

builder!(
    /// Churn risk from the trained model, mirroring SQL `churn_risk`, `churn_contacts`,
    /// `churn_features`, `churn_model`, `churn_evaluate` and `churn_calibration`:
    /// `ChurnRisk::new().cutoff("1997-09-30").window_days(90).contacts(&ctx, "orders")`.
    ///
    /// Every setter corresponds to the SQL argument and `clv.` session option of the same name;
    /// options left unset come from the session (then the documented defaults). The RFM options
    /// of the segments (bins, scheme, ...) and the value options (`model`, `horizon`, `margin`,
    /// ...) are set through [`ChurnRisk::option`].
    ChurnRisk
);

impl ChurnRisk {
    /// The cutoff to score at, `YYYY-MM-DD` (required).
    pub fn cutoff(self, date: &str) -> Self {
        self.set("cutoffs", date)
    }

    /// Several cutoffs, for [`Self::evaluate`], [`Self::calibration`] and [`Self::features`]: a
    /// list `"1997-06-30,1997-09-30"` or a range `"1997-01-01..1997-12-31"`.
    pub fn cutoffs(self, cutoffs: &str) -> Self {
        self.set("cutoffs", cutoffs)
    }

    /// The period whose ends are the training cutoffs (and a cutoff range's dates; default month).
    pub fn every(self, period: Period) -> Self {
        self.set("every", period)
    }

    /// The churn window in days after the cutoff (default 90).
    pub fn window_days(self, days: u32) -> Self {
        self.set("window_days", days)
    }

    /// How many period ends before the cutoff the model is trained on (default 12).
    pub fn train_periods(self, n: u32) -> Self {
        self.set("train_periods", n)
    }

    /// The model's ridge penalty λ (default 0.01).
    pub fn lambda(self, lambda: f64) -> Self {
        self.set("lambda", lambda)
    }

    /// The risk tier thresholds: `high` from `high` on, `medium` from `medium` on (defaults 0.9
    /// and 0.7).
    pub fn thresholds(self, high: f64, medium: f64) -> Self {
        self.set("high_risk", high).set("medium_risk", medium)
    }

    /// A table or file with more scores for [`Self::evaluate`] and [`Self::calibration`].
    pub fn scores(self, table: &str) -> Self {
        self.set("scores", table)
    }

    /// Per customer at the cutoff: the same columns as SQL `churn_risk()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, s| {
            churn_risk_plan(p, o, &RfmFunctions::from_session(s))
        })
        .await
    }

    /// The ranked contact list: the same as SQL `churn_contacts()`.
    pub async fn contacts(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, s| {
            churn_contacts_plan(p, o, &RfmFunctions::from_session(s))
        })
        .await
    }

    /// The labelled features at the cutoffs: the same as SQL `churn_features()`.
    pub async fn features(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            churn_features_plan(p, o)
        })
        .await
    }

    /// The trained model as one row: the same as SQL `churn_model()`.
    pub async fn model_table(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| churn_model_plan(p, o)).await
    }

    /// The trained model, ready for [`FittedLogistic::predict`] or serde.
    pub async fn model(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<FittedLogistic> {
        let batches = self
            .model_table(ctx, source)
            .await?
            .select_columns(&["json"])?
            .collect()
            .await?;
        let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
            return exec_err!("churn_model: no model");
        };
        let json = datafusion::arrow::compute::cast(batch.column(0), &datafusion::arrow::datatypes::DataType::Utf8)?;
        crate::udf::churn_model_score::parse_model(json.as_string::<i32>().value(0))
    }

    /// Every churn score side by side: the same as SQL `churn_evaluate()`.
    pub async fn evaluate(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        evaluation(ctx, source.into(), self.options(ctx)?, false).await
    }

    /// The calibration deciles of every score: the same as SQL `churn_calibration()`.
    pub async fn calibration(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        evaluation(ctx, source.into(), self.options(ctx)?, true).await
    }
}

/// `churn_evaluate` (or with `deciles`, `churn_calibration`) under the options `o`.
async fn evaluation(
    ctx: &SessionContext,
    source: TransactionSource,
    o: ClvOptions,
    deciles: bool,
) -> Result<DataFrame> {
    let state = ctx.state();
    let plan = source.resolve_with(&state, &o).await?;
    let scores = match &o.churn_scores {
        Some(s) => Some(TransactionSource::Name(s.clone()).resolve_with(&state, &o).await?),
        None => None,
    };
    let fns = RfmFunctions::from_session(&state);
    let plan = if deciles {
        churn_calibration_plan(plan, &o, &fns, scores)?
    } else {
        churn_evaluate_plan(plan, &o, &fns, scores)?
    };
    Ok(DataFrame::new(state, plan))
}
