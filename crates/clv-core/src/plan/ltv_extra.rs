//! What `clv_predict` and `clv_model` add for issue 21: bootstrap intervals (`'intervals=0.9'`,
//! `'replicates=200'`, `'seed=0'`, `'interval_method=percentile'`) and model choice
//! (`'model=auto'`).
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

use std::collections::BTreeMap;

use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, ident, lit};

use crate::config::ClvOptions;
use crate::functions::ltv_bootstrap::ltv_bootstrap_udaf;
use crate::functions::ltv_compare::ltv_compare_udaf;
use crate::functions::ltv_intervals::{PREDICTIONS, ltv_intervals_udwf};

/// The table-function arguments these add (not session options: they belong to the call).
pub const INTERVAL_ARGS: [&str; 4] = ["intervals", "replicates", "seed", "interval_method"];

/// The column the interval window writes.
const INTERVALS: &str = "__clv_intervals";

/// Bootstrap settings of a `clv_predict` or `clv_model` call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntervalArgs {
    /// The level; `None`: no intervals.
    pub level: Option<f64>,
    /// Replicates (default 200).
    pub replicates: Option<usize>,
    /// Seed (default 0).
    pub seed: Option<u64>,
    /// `percentile` (default), `bias_corrected` or `bca`.
    pub method: Option<String>,
}

impl IntervalArgs {
    /// From the table function's local arguments (`intervals`, `replicates`, `seed`,
    /// `interval_method`).
    pub fn from_locals(function: &str, locals: &BTreeMap<String, String>) -> Result<Self> {
        let mut out = IntervalArgs::default();
        for (name, value) in locals {
            let v = value.trim();
            match name.as_str() {
                "intervals" => {
                    out.level = match v.parse::<f64>() {
                        Ok(l) if l > 0.0 && l < 1.0 => Some(l),
                        _ if v.is_empty() || v.eq_ignore_ascii_case("none") => None,
                        _ => {
                            return plan_err!(
                                "{function}: intervals must be a level strictly between 0 and 1 (e.g. 0.9), got '{v}'"
                            );
                        }
                    }
                }
                "replicates" => match v.parse::<usize>() {
                    Ok(b) if (2..=100_000).contains(&b) => out.replicates = Some(b),
                    _ => return plan_err!("{function}: replicates must be a whole number from 2 to 100000, got '{v}'"),
                },
                "seed" => match v.parse::<u64>() {
                    Ok(s) => out.seed = Some(s),
                    _ => return plan_err!("{function}: seed must be a whole number >= 0, got '{v}'"),
                },
                "interval_method" => match v.to_ascii_lowercase().as_str() {
                    m @ ("percentile" | "bias_corrected" | "bca") => out.method = Some(m.to_string()),
                    _ => {
                        return plan_err!(
                            "{function}: interval_method must be percentile, bias_corrected or bca, got '{v}'"
                        );
                    }
                },
                _ => {}
            }
        }
        if out.level.is_none() && (out.replicates.is_some() || out.seed.is_some() || out.method.is_some()) {
            return plan_err!(
                "{function}: replicates, seed and interval_method need 'intervals=<level>', e.g. 'intervals=0.9'"
            );
        }
        Ok(out)
    }

    /// The `'name=value'` options of `ltv_bootstrap` / `ltv_intervals` for these settings and
    /// the call's options.
    fn options(&self, o: &ClvOptions) -> Vec<Expr> {
        let mut v = vec![
            format!("model={}", o.ltv_model),
            format!("time_unit={}", o.btyd_time_unit.name()),
            format!("penalizer={}", o.fit_penalizer),
            format!("horizon={}", o.ltv_horizon),
        ];
        if let Some(l) = self.level {
            v.push(format!("level={l}"));
        }
        if let Some(b) = self.replicates {
            v.push(format!("replicates={b}"));
        }
        if let Some(s) = self.seed {
            v.push(format!("seed={s}"));
        }
        if let Some(m) = &self.method {
            v.push(format!("method={m}"));
        }
        v.into_iter().map(lit).collect()
    }
}

/// Whether the call chooses the model (`model=auto`).
pub fn is_auto(o: &ClvOptions) -> bool {
    o.ltv_model == "auto"
}

fn check_auto_with_intervals(o: &ClvOptions, iv: &IntervalArgs, function: &str) -> Result<()> {
    if is_auto(o) && iv.level.is_some() && o.btyd_holdout_end.is_some() {
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
    args.push(lit(format!("time_unit={}", o.btyd_time_unit.name())));
    args.push(lit(format!("penalizer={}", o.fit_penalizer)));
    ltv_compare_udaf().call(args)
}

/// The `ltv_bootstrap` call of `clv_model` with intervals (`None` without).
pub fn bootstrap_call(o: &ClvOptions, iv: &IntervalArgs) -> Result<Option<Expr>> {
    check_auto_with_intervals(o, iv, "clv_model")?;
    if iv.level.is_none() {
        return Ok(None);
    }
    let mut args = vec![
        ident("customer_id"),
        ident("x"),
        ident("t_x"),
        ident("t"),
        ident("monetary"),
    ];
    args.extend(iv.options(o));
    Ok(Some(ltv_bootstrap_udaf().call(args).alias("bootstrap")))
}

/// The `ltv_intervals` window over the summary (as column `__clv_intervals`), `None` without
/// intervals.
pub fn interval_window(o: &ClvOptions, iv: &IntervalArgs) -> Result<Option<Expr>> {
    check_auto_with_intervals(o, iv, "clv_predict")?;
    if iv.level.is_none() {
        return Ok(None);
    }
    let mut args = vec![
        ident("customer_id"),
        ident("x"),
        ident("t_x"),
        ident("t"),
        ident("monetary"),
    ];
    args.extend(iv.options(o));
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

/// The `'name=value'` arguments of `clv_compare` that are the call's own.
pub const COMPARE_ARGS: [&str; 2] = ["models", "penalizers"];

/// `clv_compare`: one row per candidate (and the naive baseline) of `ltv_compare` over the
/// summary with its holdout, with the rule and the reason of the choice.
pub fn clv_compare_plan(
    source: datafusion::logical_expr::LogicalPlan,
    o: &ClvOptions,
    locals: &BTreeMap<String, String>,
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
    args.push(lit(format!("time_unit={}", o.btyd_time_unit.name())));
    args.push(lit(format!("penalizer={}", o.fit_penalizer)));
    for name in COMPARE_ARGS {
        if let Some(v) = locals.get(name) {
            args.push(lit(format!("{name}={v}")));
        }
    }
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
            crate::functions::ltv_compare::candidate_fields()
                .iter()
                .map(|f| candidate(f.name()))
                .chain([ident("rule"), ident("reason")])
                .collect::<Vec<_>>(),
        )?
        .build()
}

/// `clv_parameters`: one row per parameter of the `clv_model` fit with its bootstrap and
/// delta-method intervals (`intervals` defaults to 0.95 here).
pub fn clv_parameters_plan(
    source: datafusion::logical_expr::LogicalPlan,
    o: &ClvOptions,
    iv: &IntervalArgs,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::functions::core::expr_fn::get_field;
    use datafusion::logical_expr::LogicalPlanBuilder;
    let mut iv = iv.clone();
    iv.level = iv.level.or(Some(0.95));
    let Some(call) = bootstrap_call(o, &iv)? else {
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
            crate::functions::ltv_bootstrap::parameter_fields()
                .iter()
                .map(|f| p(f.name()))
                .chain(["level", "method", "replicates", "failed", "delta_method"].map(ident))
                .collect::<Vec<_>>(),
        )?
        .build()
}
