//! What `clv_predict` and `clv_model` add for issue 21: bootstrap intervals (the options
//! `ltv.intervals`, `ltv.replicates`, `seed`, `ltv.interval_method`, e.g. `'intervals=0.9'`)
//! and model choice (`'model=auto'`); and the plans of `clv_compare` and `clv_parameters`.
//!
//! * **Intervals.** `clv_predict` adds `p_alive_lower, p_alive_upper, expected_purchases_lower,
//!   expected_purchases_upper, clv_lower, clv_upper` from the `ltv_intervals` window function
//!   over the summary (the same model, penalizer, horizon, discounting and margin);
//!   `clv_model` adds a `bootstrap` column, the `ltv_bootstrap` struct (parameter intervals,
//!   delta-method intervals, totals over the horizon).
//! * **`model=auto`.** The transaction model is the one `ltv_compare` chooses among BG/NBD,
//!   Pareto/NBD and MBG/NBD: the lowest holdout RMSE when the summary has a holdout
//!   (`holdout_end`), else the lowest BIC. `clv_predict` adds a `model` column (the chosen
//!   model's name); `clv_model` returns the chosen model and a `comparison` column with every
//!   candidate and the reason.

use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, ident, lit};

use crate::config::{AUTO_MODEL, ClvOptions};
use crate::udf::ltv_bootstrap::ltv_bootstrap_udaf;
use crate::udf::ltv_compare::ltv_compare_udaf;
use crate::udf::ltv_intervals::{PREDICTIONS, ltv_intervals_udwf};

/// The column the interval window writes.
const INTERVALS: &str = "__clv_intervals";

/// The `'name=value'` options of `ltv_bootstrap` / `ltv_intervals` for the session's model,
/// unit, penalizer, horizon and bootstrap settings (`level`: the interval level).
fn bootstrap_options(o: &ClvOptions, level: f64) -> Vec<Expr> {
    [
        format!("model={}", o.ltv_model),
        format!("time_unit={}", o.btyd_time_unit.name()),
        format!("penalizer={}", o.fit_penalizer),
        format!("horizon={}", o.ltv_horizon),
        format!("level={level}"),
        format!("replicates={}", o.ltv_replicates),
        format!("seed={}", o.seed),
        format!("method={}", o.ltv_interval_method),
    ]
    .into_iter()
    .map(lit)
    .collect()
}

/// The `'name=value'` options of `ltv_compare` for the session's unit, penalizer, candidates
/// and penalizer grid.
fn compare_options(o: &ClvOptions) -> Vec<Expr> {
    let mut v = vec![
        format!("time_unit={}", o.btyd_time_unit.name()),
        format!("penalizer={}", o.fit_penalizer),
    ];
    if let Some(models) = &o.ltv_models {
        v.push(format!("models={}", models.join(",")));
    }
    if let Some(grid) = &o.ltv_penalizers {
        v.push(format!(
            "penalizers={}",
            grid.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
        ));
    }
    v.into_iter().map(lit).collect()
}

/// Whether the call chooses the model (`model=auto`).
pub fn is_auto(o: &ClvOptions) -> bool {
    o.ltv_model == AUTO_MODEL
}

fn check_auto_with_intervals(o: &ClvOptions, function: &str) -> Result<()> {
    if is_auto(o) && o.ltv_intervals.is_some() && o.btyd_holdout_end.is_some() {
        return plan_err!(
            "{function}: 'model=auto' with a holdout chooses by holdout error, but the bootstrap refits on the calibration data alone; name the model (see clv_compare) or leave holdout_end out to choose by BIC"
        );
    }
    Ok(())
}

/// The `ltv_compare` call that chooses the model of `model=auto` (with the holdout columns
/// when the summary has them).
pub fn compare_call(o: &ClvOptions) -> Expr {
    let mut args = vec![ident("x"), ident("t_x"), ident("t")];
    if o.btyd_holdout_end.is_some() {
        args.push(ident("x_holdout"));
        args.push(ident("t_holdout"));
    }
    args.extend(compare_options(o));
    ltv_compare_udaf().call(args)
}

/// The `ltv_bootstrap` call of `clv_model` with intervals (`None` without).
pub fn bootstrap_call(o: &ClvOptions) -> Result<Option<Expr>> {
    check_auto_with_intervals(o, "clv_model")?;
    let Some(level) = o.ltv_intervals else {
        return Ok(None);
    };
    let mut args = vec![
        ident("customer_id"),
        ident("x"),
        ident("t_x"),
        ident("t"),
        ident("monetary"),
    ];
    args.extend(bootstrap_options(o, level));
    Ok(Some(ltv_bootstrap_udaf().call(args).alias("bootstrap")))
}

/// The `ltv_intervals` window over the summary (as column `__clv_intervals`), `None` without
/// intervals.
pub fn interval_window(o: &ClvOptions) -> Result<Option<Expr>> {
    check_auto_with_intervals(o, "clv_predict")?;
    let Some(level) = o.ltv_intervals else {
        return Ok(None);
    };
    let mut args = vec![
        ident("customer_id"),
        ident("x"),
        ident("t_x"),
        ident("t"),
        ident("monetary"),
    ];
    args.extend(bootstrap_options(o, level));
    args.push(lit(format!("discount_rate={}", o.ltv_discount_rate)));
    args.push(lit(format!("margin={}", o.ltv_margin)));
    let w = Expr::from(WindowFunction::new(ltv_intervals_udwf(), args));
    Ok(Some(w.alias(INTERVALS)))
}

/// The bound columns `clv_predict` adds from the interval window.
pub fn interval_columns() -> Vec<Expr> {
    let mut out = vec![];
    for p in PREDICTIONS {
        for bound in ["lower", "upper"] {
            let name = format!("{p}_{bound}");
            out.push(datafusion::functions::core::expr_fn::get_field(ident(INTERVALS), name.as_str()).alias(name));
        }
    }
    out
}

/// `clv_compare`: one row per candidate (and the naive baseline) of `ltv_compare` over the
/// summary with its holdout, with the rule and the reason of the choice.
pub fn clv_compare_plan(
    source: datafusion::logical_expr::LogicalPlan,
    o: &ClvOptions,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::functions::core::expr_fn::get_field;
    use datafusion::logical_expr::LogicalPlanBuilder;
    if o.btyd_calibration_end.or(o.as_of).is_none() {
        return plan_err!("clv_compare needs calibration_end: the models are fitted on the purchases up to it");
    }
    let summary = super::btyd::btyd_summary_plan(source, o)?;
    let mut args = vec![ident("x"), ident("t_x"), ident("t")];
    if o.btyd_holdout_end.is_some() {
        args.push(ident("x_holdout"));
        args.push(ident("t_holdout"));
    }
    args.extend(compare_options(o));
    let c = ident("__clv_comparison");
    let candidate = |name: &str| get_field(ident("__clv_candidate"), name).alias(name);
    LogicalPlanBuilder::from(summary)
        .aggregate(
            Vec::<Expr>::new(),
            vec![ltv_compare_udaf().call(args).alias("__clv_comparison")],
        )?
        .project(vec![
            get_field(c.clone(), "candidates").alias("__clv_candidate"),
            get_field(c.clone(), "rule").alias("rule"),
            get_field(c, "reason").alias("reason"),
        ])?
        .unnest_column("__clv_candidate")?
        .project(
            crate::udf::ltv_compare::candidate_fields()
                .iter()
                .map(|f| candidate(f.name()))
                .chain([ident("rule"), ident("reason")])
                .collect::<Vec<_>>(),
        )?
        .build()
}

/// `clv_parameters`: one row per parameter of the `clv_model` fit with its bootstrap and
/// delta-method intervals (`ltv.intervals` defaults to 0.95 here).
pub fn clv_parameters_plan(
    source: datafusion::logical_expr::LogicalPlan,
    o: &ClvOptions,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::functions::core::expr_fn::get_field;
    use datafusion::logical_expr::LogicalPlanBuilder;
    let mut o = o.clone();
    o.ltv_intervals = o.ltv_intervals.or(Some(0.95));
    let o = &o;
    let Some(call) = bootstrap_call(o)? else {
        return plan_err!("clv_parameters: no intervals");
    };
    let summary = super::btyd::btyd_summary_plan(source, o)?;
    let b = ident("bootstrap");
    let p = |name: &str| get_field(ident("__clv_parameter"), name).alias(name);
    LogicalPlanBuilder::from(summary)
        .aggregate(Vec::<Expr>::new(), vec![call])?
        .project(vec![
            get_field(b.clone(), "parameters").alias("__clv_parameter"),
            get_field(b.clone(), "level").alias("level"),
            get_field(b.clone(), "method").alias("method"),
            get_field(b.clone(), "replicates").alias("replicates"),
            get_field(b.clone(), "failed").alias("failed"),
            get_field(b, "delta_method").alias("delta_method"),
        ])?
        .unnest_column("__clv_parameter")?
        .project(
            crate::udf::ltv_bootstrap::parameter_fields()
                .iter()
                .map(|f| p(f.name()))
                .chain(["level", "method", "replicates", "failed", "delta_method"].map(ident))
                .collect::<Vec<_>>(),
        )?
        .build()
}
