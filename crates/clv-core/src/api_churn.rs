//! The Rust API of the trained churn model: [`ChurnRisk`], mirroring SQL `churn_features`,
//! `churn_risk`, `churn_contacts`, `churn_model`, `churn_evaluate` and `churn_calibration`
//! option for option.

use datafusion::arrow::array::AsArray;
use datafusion::common::{Result, exec_err};
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use crate::api::contract_setters;
use crate::churn::Period;
use crate::config::{ClvOptions, Collapse, InvalidAmounts, NegativeAmounts};
use crate::ltv::FittedLogistic;
use crate::plan::churn_evaluate::{churn_calibration_plan, churn_evaluate_plan};
use crate::plan::churn_model::{churn_contacts_plan, churn_features_plan, churn_model_plan, churn_risk_plan};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// Churn risk from the trained model:
/// `ChurnRisk::new().cutoff("1997-09-30").window_days(90).contacts(&ctx, "orders")`.
///
/// Every setter corresponds to the SQL argument and `clv.` session option of the same name;
/// options left unset come from the session (then the documented defaults). The RFM options of
/// the segments (bins, scheme, ...) and the model options (`model`, `horizon`, `margin`, ...)
/// are set through [`ChurnRisk::option`].
#[derive(Debug, Clone, Default)]
pub struct ChurnRisk {
    settings: Vec<(&'static str, String)>,
}

impl ChurnRisk {
    contract_setters!();

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

    /// Any other option by its SQL name, e.g. `("scheme", "rfm11")` or `("horizon", "26")`.
    pub fn option(self, key: &'static str, value: &str) -> Self {
        self.set(key, value)
    }

    async fn plan(
        &self,
        ctx: &SessionContext,
        source: TransactionSource,
        build: impl FnOnce(
            datafusion::logical_expr::LogicalPlan,
            &ClvOptions,
            &RfmFunctions,
        ) -> Result<datafusion::logical_expr::LogicalPlan>,
    ) -> Result<DataFrame> {
        let state = ctx.state();
        let plan = source.resolve(&state).await?;
        let plan = build(plan, &self.options(ctx)?, &RfmFunctions::from_session(&state))?;
        Ok(DataFrame::new(state, plan))
    }

    /// Per customer at the cutoff: the same columns as SQL `churn_risk()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        self.plan(ctx, source.into(), churn_risk_plan).await
    }

    /// The ranked contact list: the same as SQL `churn_contacts()`.
    pub async fn contacts(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        self.plan(ctx, source.into(), churn_contacts_plan).await
    }

    /// The labelled features at the cutoffs: the same as SQL `churn_features()`.
    pub async fn features(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        self.plan(ctx, source.into(), |p, o, _| churn_features_plan(p, o)).await
    }

    /// The trained model as one row: the same as SQL `churn_model()`.
    pub async fn model_table(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        self.plan(ctx, source.into(), |p, o, _| churn_model_plan(p, o)).await
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
        crate::functions::churn_model_score::parse_model(json.as_string::<i32>().value(0))
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
pub(crate) async fn evaluation(
    ctx: &SessionContext,
    source: TransactionSource,
    o: ClvOptions,
    deciles: bool,
) -> Result<DataFrame> {
    let state = ctx.state();
    let plan = source.resolve(&state).await?;
    let scores = match &o.churn_scores {
        Some(s) => Some(TransactionSource::Name(s.clone()).resolve(&state).await?),
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
