//! `clv_predict` and `clv_model`: summary → fits → per-customer predictions in one plan.
//!
//! The BTYD summary (see [`super::btyd`]) feeds two one-row aggregates: the transaction model
//! (`ltv.model`: bg_nbd (default), pareto_nbd or mbg_nbd) over every customer, and Gamma-Gamma
//! over the customers with repeat purchases of positive mean value (x > 0, monetary > 0). Each customer then gets `p_alive`,
//! `expected_purchases` over `ltv.horizon` (default 52, in the time unit), `expected_spend` and
//! `clv` (discounted at `ltv.discount_rate` per time unit, times `ltv.margin`).

use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    AggregateUDF, Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, ScalarUDF, ident, lit,
};

use super::btyd::btyd_summary_plan;
use super::ltv_extra::{bootstrap_call, compare_call, interval_columns, interval_window, is_auto};
use crate::config::{AUTO_MODEL, ClvOptions};
use crate::ltv::{ModelKind, ModelSpec, Role};
use crate::udf::clv_value::clv_udfs;
use crate::udf::model_fit::ModelFit;
use crate::udf::model_predictions::model_prediction_udfs;

pub(crate) fn scalar(name: &str) -> std::sync::Arc<ScalarUDF> {
    model_prediction_udfs()
        .into_iter()
        .chain(clv_udfs())
        .find(|f| f.name() == name)
        .expect("registered prediction function")
}

/// The transaction model `ltv.model` names (checked when the option is set); `auto` is an
/// error here (the functions that choose check [`super::ltv_extra::is_auto`] first).
pub(crate) fn transaction_model(o: &ClvOptions) -> Result<&'static ModelSpec> {
    match crate::ltv::registry::model_or_alias(&o.ltv_model) {
        Some(m) if m.has_role(Role::Transactions) => Ok(m),
        _ if o.ltv_model == AUTO_MODEL => crate::usage_err!(
            "ltv.model = '{AUTO_MODEL}' is for clv_predict, clv_model and clv_tracking; name the model here"
        ),
        _ => plan_err!("ltv.model: '{}' is not a transaction model", o.ltv_model),
    }
}

/// The spend model of `clv_predict`.
pub(crate) fn spend_model() -> Result<&'static ModelSpec> {
    match ModelKind::GammaGamma.spec() {
        Some(spec) => Ok(spec),
        None => datafusion::common::internal_err!("gamma_gamma is missing from the model registry"),
    }
}

/// One row: the fitted transaction model (`model`) and spend model (`spend_model`); with
/// `ltv.intervals`, a `bootstrap` column (see [`super::ltv_extra`]); with `model=auto`, the
/// chosen model and the `comparison` that chose it.
pub fn clv_model_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let summary = btyd_summary_plan(source, o)?;
    let fitted = models(LogicalPlanBuilder::from(summary), o, bootstrap_call(o)?)?;
    if !is_auto(o) {
        return fitted.build();
    }
    // model=auto: the chosen model first, then the comparison that chose it.
    let columns = fitted
        .schema()
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "comparison" => {
                datafusion::functions::core::expr_fn::get_field(ident("comparison"), "chosen").alias("model")
            }
            name => ident(name),
        })
        .chain([ident("comparison")])
        .collect::<Vec<_>>();
    fitted.project(columns)?.build()
}

fn models(summary: LogicalPlanBuilder, o: &ClvOptions, bootstrap: Option<Expr>) -> Result<LogicalPlanBuilder> {
    let gg = AggregateUDF::from(ModelFit::new(spend_model()?));
    let (x, t_x, t) = (ident("x"), ident("t_x"), ident("t"));
    let model = if is_auto(o) {
        compare_call(o).alias("comparison")
    } else {
        let fit = AggregateUDF::from(ModelFit::new(transaction_model(o)?));
        fit.call(vec![
            x.clone(),
            t_x,
            t,
            lit(1.0),
            lit(o.btyd_time_unit.name()),
            lit(o.fit_penalizer),
        ])
        .alias("model")
    };
    let summary = summary.aggregate(
        Vec::<Expr>::new(),
        [
            model,
            // Gamma-Gamma needs a positive mean spend: repeat buyers whose repeat purchases
            // were all free (monetary = 0) are left out of the fit and still scored.
            gg.call(vec![x.clone(), ident("monetary"), lit(1.0), lit(o.fit_penalizer)])
                .filter(x.gt(lit(0_i64)).and(ident("monetary").gt(lit(0.0))))
                .build()?
                .alias("spend_model"),
        ]
        .into_iter()
        .chain(bootstrap),
    )?;
    Ok(summary)
}

/// The fields the predictions read (`model`, the parameters, `time_unit`) of a fitted struct:
/// the cross join then copies a few numbers onto every customer instead of the whole fit report
/// with its JSON.
pub(crate) fn scoring_fields(fit: Expr, kind: &ModelSpec) -> Expr {
    let mut args = vec![];
    for name in ["model"].iter().chain(kind.params).chain(["time_unit"].iter()) {
        args.push(lit(*name));
        args.push(datafusion::functions::core::expr_fn::get_field(fit.clone(), *name));
    }
    datafusion::functions::core::expr_fn::named_struct(args)
}

/// One row: the transaction model (`model`) and spend model (`spend_model`) fitted on
/// `summary`, each as the compact struct the predictions read.
pub(crate) fn scoring_models(summary: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let model = if is_auto(o) {
        // The chosen model is already the compact struct the predictions read.
        datafusion::functions::core::expr_fn::get_field(ident("comparison"), "chosen")
    } else {
        scoring_fields(ident("model"), transaction_model(o)?)
    };
    models(LogicalPlanBuilder::from(summary), o, None)?
        .project(vec![
            model.alias("model"),
            scoring_fields(ident("spend_model"), spend_model()?).alias("spend_model"),
        ])?
        .build()
}

/// Per customer: the summary columns and `p_alive, expected_purchases, expected_spend, clv`;
/// with a holdout, `x_holdout, t_holdout`; with `model=auto`, the chosen `model`; with
/// `ltv.intervals`, the bounds (see [`super::ltv_extra`]).
pub fn clv_predict_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let summary = btyd_summary_plan(source, o)?;
    let fitted = scoring_models(summary.clone(), o)?;
    let window = interval_window(o)?;
    let summary = match &window {
        Some(w) => LogicalPlanBuilder::from(summary).window(vec![w.clone()])?.build()?,
        None => summary,
    };
    let (m, s) = (ident("model"), ident("spend_model"));
    let (x, t_x, t, z) = (ident("x"), ident("t_x"), ident("t"), ident("monetary"));
    let h = lit(o.ltv_horizon);
    let mut extra = vec![];
    if o.btyd_holdout_end.is_some() {
        // What happened in the holdout, beside the predictions.
        extra.extend([ident("x_holdout"), ident("t_holdout")]);
    }
    if is_auto(o) {
        extra.push(datafusion::functions::core::expr_fn::get_field(ident("model"), "model").alias(CHOSEN));
    }
    if window.is_some() {
        extra.extend(interval_columns());
    }
    // The one-row side is the build side: a cross join emits one batch per build row.
    let scored = LogicalPlanBuilder::from(fitted).cross_join(summary)?.project(
        vec![
            ident("customer_id"),
            x.clone(),
            t_x.clone(),
            t.clone(),
            z.clone(),
            scalar("p_alive")
                .call(vec![m.clone(), x.clone(), t_x.clone(), t.clone()])
                .alias("p_alive"),
            scalar("expected_purchases")
                .call(vec![m.clone(), h.clone(), x.clone(), t_x.clone(), t.clone()])
                .alias("expected_purchases"),
            scalar("expected_spend")
                .call(vec![s.clone(), x.clone(), z.clone()])
                .alias("expected_spend"),
            scalar("clv")
                .call(vec![
                    m,
                    s,
                    x,
                    t_x,
                    t,
                    z,
                    h,
                    lit(o.btyd_time_unit.name()),
                    lit(o.ltv_discount_rate),
                    lit("discrete"),
                    lit(o.ltv_margin),
                ])
                .alias("clv"),
        ]
        .into_iter()
        .chain(extra),
    )?;
    if !is_auto(o) {
        return scored.build();
    }
    // The chosen model's name as `model`, renamed apart from the `model` struct the predictions
    // read (the optimizer may place both in one projection).
    let columns = scored
        .schema()
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            CHOSEN => ident(CHOSEN).alias("model"),
            name => ident(name),
        })
        .collect::<Vec<_>>();
    scored.project(columns)?.build()
}

/// The chosen model's name under `model=auto`, before it is renamed `model`.
const CHOSEN: &str = "__clv_chosen_model";
