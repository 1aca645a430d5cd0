//! The trained churn model as plans: per-cutoff features, the BTYD window terms, logistic
//! regression trained on earlier cutoffs and scored at a later one, risk tiers, value at risk,
//! the contact list, and the evaluation of every score side by side.
//!
//! # Features (`churn_features`)
//!
//! Per cutoff `c` and customer with a purchase day on or before `c`, from the transactions dated
//! on or before `c` only (after the data policies of [`super::transactions::prepare`]): the
//! activity summary of [`crate::churn::features`] (purchase days, net amount, recency, tenure,
//! purchases and spend in the last 30/90/180 days, the median gap between purchase days), the
//! BTYD summary `x = F − 1`, `t_x`, `t` in `btyd.time_unit`, and from the transaction model
//! (`ltv.model`) fitted at `c` on all of the cutoff's customers: `window_probability` =
//! P(no purchase in `(c, c + window]`), `expected_purchases` in that window and
//! `dropout_probability` = 1 − P(alive). The model inputs ([`MODEL_FEATURES`]) are:
//!
//! | feature | formula (`ln1p(v) = ln(1 + v)`; spend clamped at 0 inside `ln1p`) |
//! |---|---|
//! | `log_recency` | `ln1p(recency_days)` |
//! | `log_frequency` | `ln(purchase_days)` |
//! | `log_monetary_mean` | `ln1p(monetary / purchase_days)` |
//! | `log_tenure` | `ln1p(tenure_days)` |
//! | `log_p30`, `log_p90` | `ln1p(p30)`, `ln1p(p90)` |
//! | `log_s30`, `log_s90` | `ln1p(s30)`, `ln1p(s90)` |
//! | `trend_p90` | `ln1p(p90) − ln1p(p180 − p90)` |
//! | `trend_s90` | `ln1p(s90) − ln1p(s180 − s90)` |
//! | `trend_p30` | `ln1p(p30) − ln1p((p90 − p30)/2)` |
//! | `log_gap_ratio` | `ln1p(recency_days) − ln1p(median_gap)`, 0 for one purchase day |
//! | `single` | 1 for one purchase day, else 0 |
//! | `logit_p_none` | `logit(window_probability)`, the probability clamped to `[1e-12, 1 − 1e-12]` |
//! | `log_e_window` | `ln(max(expected_purchases, 1e-12))` |
//!
//! These are the definitions of the prototype that met the targets on CDNOW
//! (`crates/clv-models/tests/reference/churn_prototype.md`).
//!
//! # Training and scoring (`churn_risk`, `churn_model`, `churn_evaluate`)
//!
//! To score at cutoff `c` with a window of `w` days, the model is trained on the rows of the last
//! `churn.train_periods` (12) ends `c'` of `churn.every` (month) periods with `c' + w ≤ c`, and
//! `c' + w` on or before the data end (the `as_of` date, else the last transaction date): every
//! training window is complete and ends by `c`, so no label used in training reads a transaction
//! after `c`. The label of a training row is "no purchase day in `(c', c' + w]`". The model is
//! [`crate::ltv::LogisticRegression`] with λ = `churn.lambda` (0.01) through `churn_model_fit`,
//! and the score is `churn_model_score`: `churn_probability`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, Result, ScalarValue, plan_err};
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::functions::math::expr_fn::ln;
use datafusion::functions_aggregate::expr_fn::{array_agg, bool_or, max, sum};
use datafusion::logical_expr::{
    AggregateUDF, Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when,
};

use super::ltv::{scalar, scoring_fields, spend_model, transaction_model};
use super::transactions::columns::{AMOUNT, CUSTOMER, DAY, PURCHASE};
use super::transactions::prepare;
use crate::churn::Period;
use crate::churn::cutoffs::format_cutoffs;
use crate::config::ClvOptions;
use crate::udf::churn_model_fit::churn_model_fit_udaf;
use crate::udf::churn_model_score::churn_model_score_udf;
use crate::udf::clv_cutoff_features::clv_cutoff_features_udf;
use crate::udf::model_fit::ModelFit;

/// The model inputs, in the order of the fit.
pub const MODEL_FEATURES: [&str; 15] = [
    "log_recency",
    "log_frequency",
    "log_monetary_mean",
    "log_tenure",
    "log_p30",
    "log_p90",
    "log_s30",
    "log_s90",
    "trend_p90",
    "trend_s90",
    "trend_p30",
    "log_gap_ratio",
    "single",
    "logit_p_none",
    "log_e_window",
];

/// The columns of `churn_features` before the model inputs.
pub const FEATURE_SUMMARY_COLUMNS: [&str; 21] = [
    "cutoff",
    "customer_id",
    "purchase_days",
    "monetary",
    "recency_days",
    "tenure_days",
    "first_purchase",
    "last_purchase",
    "p30",
    "p90",
    "p180",
    "s30",
    "s90",
    "s180",
    "median_gap",
    "x",
    "t_x",
    "t",
    "window_probability",
    "expected_purchases",
    "dropout_probability",
];

const CUTOFF: &str = "cutoff";
/// The BTYD model of a row's cutoff (the scoring fields only).
const BTYD_MODEL: &str = "__clv_btyd_model";
/// The data end (Int64 days) on every row of [`scored_rows`].
pub(crate) const DATA_END: &str = "__clv_data_end";
/// Training rows: the scoring cutoff they train the model for (Int32 days).
pub(crate) const SCORED_AT: &str = "__clv_scored_at";
/// The trained model (`churn_model_fit`'s struct) on every row of [`scored_rows`].
pub(crate) const MODEL: &str = "__clv_churn_model";
/// The longest churn window (about 270 years), as `churn_labels`.
const MAX_WINDOW_DAYS: i64 = 100_000;

/// The training cutoffs of a model scored at `cutoff`: the last `periods` ends of `every`
/// periods `c'` with `c' + window ≤ cutoff`, ascending.
pub fn training_cutoffs(cutoff: i32, window: i64, every: Period, periods: u32) -> Vec<i32> {
    let latest = i64::from(cutoff) - window;
    let Ok(latest) = i32::try_from(latest) else {
        return vec![];
    };
    let end = |i: i32| every.start(i + 1) - 1;
    let mut index = every.index(latest);
    if end(index) > latest {
        index -= 1;
    }
    let mut out: Vec<i32> = (0..periods as i32).map(|k| end(index - k)).collect();
    out.reverse();
    out
}

/// Every (scoring cutoff, training cutoff) pair of the scoring cutoffs.
pub(crate) fn training_pairs(scoring: &[i32], o: &ClvOptions) -> Result<Vec<(i32, i32)>> {
    let window = window_days(o)?;
    Ok(scoring
        .iter()
        .flat_map(|&c| {
            training_cutoffs(c, window, o.churn_every, o.churn_train_periods)
                .into_iter()
                .map(move |t| (c, t))
        })
        .collect())
}

/// The rows of `rows` (with a `cutoff` column) at the training cutoffs of `pairs`, each with the
/// scoring cutoff it trains for (`__clv_scored_at`; a row serving two scoring cutoffs appears
/// twice).
pub(crate) fn training_rows(pairs: &[(i32, i32)], rows: LogicalPlan) -> Result<LogicalPlanBuilder> {
    let pair_rows = pairs.iter().map(|(c, t)| vec![lit(*c), lit(*t)]).collect::<Vec<_>>();
    let pairs = LogicalPlanBuilder::values(pair_rows)?
        .project(vec![
            ident("column1").alias(SCORED_AT),
            ident("column2").alias("__clv_train_day"),
        ])?
        .build()?;
    LogicalPlanBuilder::from(pairs).join_on(
        rows,
        JoinType::Inner,
        vec![ident("__clv_train_day").eq(cast(days_of(ident(CUTOFF)), DataType::Int32))],
    )
}

/// The window length, checked.
pub(crate) fn window_days(o: &ClvOptions) -> Result<i64> {
    let w = o.churn_window_days;
    if w > MAX_WINDOW_DAYS {
        return plan_err!("window_days must be at most {MAX_WINDOW_DAYS}, got {w}");
    }
    Ok(w)
}

fn f64_of(e: Expr) -> Expr {
    cast(e, DataType::Float64)
}

fn ln1p(e: Expr) -> Expr {
    ln(lit(1.0) + e)
}

/// `max(e, 0)` for a Float64 expression.
fn non_negative(e: Expr) -> Expr {
    when(e.clone().lt(lit(0.0)), lit(0.0))
        .otherwise(e)
        .expect("a CASE with one branch")
}

/// One row per customer and cutoff with the activity summary, the BTYD summary and the label's
/// window purchases (`window_purchases`), from prepared transactions (nothing after the largest
/// cutoff + window is needed).
fn activity_rows(prepared: LogicalPlan, cutoffs: &[i32], o: &ClvOptions) -> Result<LogicalPlanBuilder> {
    let window = window_days(o)?;
    let unit = o.btyd_time_unit.days();
    let f = |name: &str| get_field(ident("__clv_f"), name);
    let decimal = |name: &str| f64_of(f(name));
    let days = |a: Expr, b: Expr| f64_of(cast(a, DataType::Int64) - cast(b, DataType::Int64)) / lit(unit);
    let purchase_days = f("purchase_days");
    let x = purchase_days.clone() - lit(1_i64);
    LogicalPlanBuilder::from(prepared)
        // One row per customer and day: the exact net amount and whether it has a purchase.
        .aggregate(
            vec![ident(CUSTOMER), ident(DAY)],
            vec![
                sum(ident(AMOUNT)).alias(AMOUNT),
                bool_or(ident(PURCHASE)).alias(PURCHASE),
            ],
        )?
        .aggregate(
            vec![ident(CUSTOMER)],
            vec![
                array_agg(named_struct(vec![
                    lit("day"),
                    ident(DAY),
                    lit("amount"),
                    ident(AMOUNT),
                    lit("purchase"),
                    ident(PURCHASE),
                ]))
                .alias("__clv_history"),
            ],
        )?
        .project(vec![
            ident(CUSTOMER),
            clv_cutoff_features_udf()
                .call(vec![ident("__clv_history"), lit(format_cutoffs(cutoffs)), lit(window)])
                .alias("__clv_f"),
        ])?
        .unnest_column("__clv_f")?
        .project(vec![
            f("cutoff").alias(CUTOFF),
            ident(CUSTOMER),
            purchase_days.clone().alias("purchase_days"),
            decimal("monetary").alias("monetary"),
            f("recency_days").alias("recency_days"),
            f("tenure_days").alias("tenure_days"),
            f("first_purchase").alias("first_purchase"),
            f("last_purchase").alias("last_purchase"),
            f("p30").alias("p30"),
            f("p90").alias("p90"),
            f("p180").alias("p180"),
            decimal("s30").alias("s30"),
            decimal("s90").alias("s90"),
            decimal("s180").alias("s180"),
            f("median_gap").alias("median_gap"),
            f64_of(x.clone()).alias("x"),
            days(f("last_purchase"), f("first_purchase")).alias("t_x"),
            days(f("cutoff"), f("first_purchase")).alias("t"),
            when(x.clone().gt(lit(0_i64)), decimal("repeat_spend_sum") / f64_of(x))
                .otherwise(lit(0.0))?
                .alias("repeat_spend"),
            f("window_purchases").alias("window_purchases"),
        ])
}

/// Adds, per cutoff, the transaction model fitted on that cutoff's rows (`__clv_btyd_model`) and
/// its window terms.
fn add_window_terms(rows: LogicalPlanBuilder, o: &ClvOptions) -> Result<LogicalPlanBuilder> {
    let rows = rows.build()?;
    let kind = transaction_model(o)?;
    let unit = o.btyd_time_unit;
    // A cutoff without any repeat purchase (just after the data starts) has no model: its rows
    // get NULL window terms, and the model fit skips them.
    let fit = AggregateUDF::from(ModelFit::null_without_repeats(kind));
    let (x, t_x, t) = (ident("x"), ident("t_x"), ident("t"));
    let models = LogicalPlanBuilder::from(rows.clone())
        .aggregate(
            vec![ident(CUTOFF).alias("__clv_mcut")],
            vec![
                fit.call(vec![
                    x.clone(),
                    t_x.clone(),
                    t.clone(),
                    lit(1.0),
                    lit(unit.name()),
                    lit(o.fit_penalizer),
                ])
                .alias("__clv_fit"),
            ],
        )?
        .project(vec![
            ident("__clv_mcut"),
            scoring_fields(ident("__clv_fit"), kind).alias(BTYD_MODEL),
        ])?
        .build()?;
    let model = ident(BTYD_MODEL);
    let tau = lit(o.churn_window_days as f64 / unit.days());
    let mut columns: Vec<Expr> = rows.schema().columns().into_iter().map(Expr::Column).collect();
    columns.extend([
        model.clone(),
        scalar("churn_probability")
            .call(vec![model.clone(), tau.clone(), x.clone(), t_x.clone(), t.clone()])
            .alias("window_probability"),
        scalar("expected_purchases")
            .call(vec![model.clone(), tau, x.clone(), t_x.clone(), t.clone()])
            .alias("expected_purchases"),
        scalar("dropout_probability")
            .call(vec![model, x, t_x, t])
            .alias("dropout_probability"),
    ]);
    LogicalPlanBuilder::from(rows)
        .join(models, JoinType::Left, (vec![CUTOFF], vec!["__clv_mcut"]), None)?
        .project(columns)
}

/// The model inputs of [`MODEL_FEATURES`], in order.
fn model_inputs() -> Result<Vec<Expr>> {
    let int = |n: &str| f64_of(ident(n));
    let spend = |e: Expr| ln1p(non_negative(e));
    let p = ident("window_probability");
    let clamped = when(p.clone().lt(lit(1e-12)), lit(1e-12))
        .when(p.clone().gt(lit(1.0 - 1e-12)), lit(1.0 - 1e-12))
        .otherwise(p)?;
    let e = ident("expected_purchases");
    let exprs = vec![
        ln1p(int("recency_days")),
        ln(int("purchase_days")),
        spend(ident("monetary") / int("purchase_days")),
        ln1p(int("tenure_days")),
        ln1p(int("p30")),
        ln1p(int("p90")),
        spend(ident("s30")),
        spend(ident("s90")),
        ln1p(int("p90")) - ln1p(int("p180") - int("p90")),
        spend(ident("s90")) - spend(ident("s180") - ident("s90")),
        ln1p(int("p30")) - ln1p((int("p90") - int("p30")) / lit(2.0)),
        when(ident("median_gap").is_null(), lit(0.0))
            .otherwise(ln1p(int("recency_days")) - ln1p(ident("median_gap")))?,
        when(ident("purchase_days").eq(lit(1_i64)), lit(1.0)).otherwise(lit(0.0))?,
        ln(clamped.clone() / (lit(1.0) - clamped)),
        ln(when(e.clone().lt(lit(1e-12)), lit(1e-12)).otherwise(e)?),
    ];
    Ok(exprs.into_iter().zip(MODEL_FEATURES).map(|(e, n)| e.alias(n)).collect())
}

/// Every customer at every cutoff: the activity and BTYD summaries, the window terms, the model
/// inputs, `window_purchases` and the BTYD model column (dropped by the callers' projections).
fn feature_rows(prepared: LogicalPlan, cutoffs: &[i32], o: &ClvOptions) -> Result<LogicalPlan> {
    let rows = add_window_terms(activity_rows(prepared, cutoffs, o)?, o)?.build()?;
    let mut columns: Vec<Expr> = rows.schema().columns().into_iter().map(Expr::Column).collect();
    columns.extend(model_inputs()?);
    LogicalPlanBuilder::from(rows).project(columns)?.build()
}

/// One row, `__clv_data_end` (Int64 days): the as-of date, else the last transaction day.
fn data_end(prepared: &LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    match o.as_of {
        Some(d) => LogicalPlanBuilder::empty(true).project(vec![lit(i64::from(d)).alias(DATA_END)])?,
        None => LogicalPlanBuilder::from(prepared.clone()).aggregate(
            Vec::<Expr>::new(),
            vec![cast(max(ident(DAY)), DataType::Int64).alias(DATA_END)],
        )?,
    }
    .build()
}

pub(crate) fn days_of(e: Expr) -> Expr {
    cast(cast(e, DataType::Date32), DataType::Int64)
}

/// The cutoffs to score, from `churn.cutoffs`.
pub(crate) fn scoring_cutoffs(o: &ClvOptions, function: &str) -> Result<Vec<i32>> {
    let Some(text) = &o.churn_cutoffs else {
        return plan_err!(
            "{function} needs a cutoff: {function}(source, '1997-09-30' [, window_days]) or 'cutoffs=1997-09-30'"
        );
    };
    crate::churn::parse_cutoffs(text, o.churn_every)
}

/// The labelled features at the cutoffs of `churn.cutoffs`: [`FEATURE_SUMMARY_COLUMNS`], the
/// model inputs, `window_end`, `censored` and `churned` (as `churn_labels`).
pub fn churn_features_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let cutoffs = scoring_cutoffs(o, "churn_features")?;
    let prepared = prepare(source, o)?;
    let rows = feature_rows(prepared.clone(), &cutoffs, o)?;
    let mut columns: Vec<Expr> = FEATURE_SUMMARY_COLUMNS.iter().map(|c| ident(*c)).collect();
    columns.extend(MODEL_FEATURES.iter().map(|c| ident(*c)));
    columns.extend(label_columns(o)?);
    LogicalPlanBuilder::from(data_end(&prepared, o)?)
        .cross_join(rows)?
        .project(columns)?
        .build()
}

/// `window_end`, `censored` and `churned` over rows with `cutoff`, `window_purchases` and
/// `__clv_data_end` (the definitions of `churn_labels`).
pub(crate) fn label_columns(o: &ClvOptions) -> Result<Vec<Expr>> {
    let window_end = days_of(ident(CUTOFF)) + lit(window_days(o)?);
    let censored = window_end.clone().gt(ident(DATA_END));
    let churned = when(ident("window_purchases").gt(lit(0_i64)), lit(false))
        .when(censored.clone(), lit(ScalarValue::Boolean(None)))
        .otherwise(lit(true))?;
    Ok(vec![
        cast(cast(window_end, DataType::Int32), DataType::Date32).alias("window_end"),
        censored.alias("censored"),
        churned.alias("churned"),
    ])
}

/// The rows at the scoring cutoffs with `churn_probability` from the model trained for each
/// (NULL where no training row exists), `__clv_churn_model` (the fit, one per scoring cutoff),
/// every feature column, `window_purchases` and `__clv_data_end`. Transactions after the
/// largest `cutoff + window` are not read.
pub(crate) fn scored_rows(source: LogicalPlan, o: &ClvOptions, scoring: &[i32]) -> Result<LogicalPlan> {
    let window = window_days(o)?;
    let last_needed = scoring.iter().max().map_or(0, |c| i64::from(*c) + window);
    let mut limited = o.clone();
    // Nothing after the last window is read (an explicit as-of date still applies).
    let limit = i32::try_from(last_needed).unwrap_or(i32::MAX);
    limited.as_of = Some(o.as_of.map_or(limit, |a| a.min(limit)));
    let prepared = prepare(source.clone(), &limited)?;
    let pairs = training_pairs(scoring, o)?;
    let mut all: Vec<i32> = scoring.iter().copied().chain(pairs.iter().map(|p| p.1)).collect();
    all.sort_unstable();
    all.dedup();
    let rows = LogicalPlanBuilder::from(data_end(&prepare(source, o)?, o)?)
        .cross_join(feature_rows(prepared, &all, o)?)?
        .build()?;
    let inputs = || MODEL_FEATURES.iter().map(|c| ident(*c));
    let mut fit_args: Vec<Expr> = vec![ident("window_purchases").eq(lit(0_i64))];
    fit_args.extend(inputs());
    fit_args.push(lit(format!("lambda={}", o.churn_lambda)));
    let models = if pairs.is_empty() {
        None
    } else {
        // A training window must be complete: it ends by the scoring cutoff (by construction)
        // and by the data end.
        let complete = (days_of(ident(CUTOFF)) + lit(window)).lt_eq(ident(DATA_END));
        Some(
            training_rows(&pairs, rows.clone())?
                .filter(complete)?
                .aggregate(
                    vec![ident(SCORED_AT)],
                    vec![churn_model_fit_udaf().call(fit_args).alias(MODEL)],
                )?
                .build()?,
        )
    };
    let is_scored = days_of(ident(CUTOFF)).in_list(scoring.iter().map(|c| lit(i64::from(*c))).collect(), false);
    let scored = LogicalPlanBuilder::from(rows).filter(is_scored)?;
    let mut columns: Vec<Expr> = scored.schema().columns().into_iter().map(Expr::Column).collect();
    let scored = match models {
        Some(models) => scored.join_on(
            models,
            JoinType::Left,
            vec![ident(SCORED_AT).eq(cast(days_of(ident(CUTOFF)), DataType::Int32))],
        )?,
        None => scored.project(
            columns
                .iter()
                .cloned()
                .chain([lit(ScalarValue::try_from(DataType::Struct(
                    crate::udf::churn_model_fit::model_fields(),
                ))?)
                .alias(MODEL)]),
        )?,
    };
    let mut score_args = vec![ident(MODEL)];
    score_args.extend(inputs());
    columns.extend([
        ident(MODEL),
        churn_model_score_udf().call(score_args).alias("churn_probability"),
    ]);
    scored.project(columns)?.build()
}

/// A filter that is true on every row and fails the query at a scored row without a trained model.
fn require_model(function: &str) -> Expr {
    crate::udf::clv_check::clv_check(
        ident(MODEL).is_null(),
        &format!(
            "{function}: no training rows: the model learns from period ends c' (churn.every, the last churn.train_periods) whose window (c', c' + window_days] ends by the cutoff and the data end, and none has customers; choose a later cutoff, a shorter window or more train_periods"
        ),
        ident(CUSTOMER),
        lit(0.0),
    )
}

/// The columns of `churn_risk`.
pub const CHURN_RISK_COLUMNS: [&str; 14] = [
    "cutoff",
    "customer_id",
    "segment",
    "recency_days",
    "purchase_days",
    "monetary",
    "last_purchase",
    "window_probability",
    "expected_purchases",
    "churn_probability",
    "risk_tier",
    "expected_value",
    "value_at_risk",
    "horizon",
];

/// The single cutoff of `churn_risk`, `churn_model` and `churn_contacts`.
fn single_cutoff(o: &ClvOptions, function: &str) -> Result<i32> {
    let cutoffs = scoring_cutoffs(o, function)?;
    match cutoffs.as_slice() {
        [c] => Ok(*c),
        _ => plan_err!(
            "{function} scores at one cutoff, got {} ({}); churn_evaluate compares several",
            cutoffs.len(),
            format_cutoffs(&cutoffs)
        ),
    }
}

/// `churn_risk`: per customer at the cutoff, the trained model's `churn_probability`, its tier,
/// the expected value over `ltv.horizon` and the value at risk; see [`CHURN_RISK_COLUMNS`].
pub fn churn_risk_plan(source: LogicalPlan, o: &ClvOptions, fns: &super::rfm::RfmFunctions) -> Result<LogicalPlan> {
    let cutoff = single_cutoff(o, "churn_risk")?;
    if o.churn_medium_risk > o.churn_high_risk {
        return plan_err!(
            "churn_risk: medium_risk ({}) must not be above high_risk ({})",
            o.churn_medium_risk,
            o.churn_high_risk
        );
    }
    let scored = scored_rows(source.clone(), o, &[cutoff])?;
    let unit = o.btyd_time_unit;
    // Gamma-Gamma at the cutoff, on the repeat buyers with a positive mean repeat spend.
    // (NULL, and so no expected value, with fewer than two repeat buyers.)
    let gg_kind = spend_model()?;
    let gg = AggregateUDF::from(ModelFit::null_without_repeats(gg_kind));
    let (x, spend) = (ident("x"), ident("repeat_spend"));
    let spend_model = LogicalPlanBuilder::from(scored.clone())
        .filter(x.clone().gt(lit(0.0)).and(spend.clone().gt(lit(0.0))))?
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                gg.call(vec![x.clone(), spend.clone(), lit(1.0), lit(o.fit_penalizer)])
                    .alias("__clv_gg"),
            ],
        )?
        .project(vec![
            scoring_fields(ident("__clv_gg"), gg_kind).alias("__clv_spend_model"),
        ])?
        .build()?;
    // The RFM segment as of the cutoff.
    let mut rfm_options = o.clone();
    rfm_options.as_of = Some(cutoff);
    let segments = LogicalPlanBuilder::from(super::rfm::rfm_plan(source, &rfm_options, fns)?)
        .project(vec![ident(CUSTOMER).alias("__clv_rc"), ident("segment")])?
        .build()?;
    let p = ident("churn_probability");
    let expected_value = scalar("clv")
        .call(vec![
            ident(BTYD_MODEL),
            ident("__clv_spend_model"),
            x,
            ident("t_x"),
            ident("t"),
            non_negative(spend),
            lit(o.ltv_horizon),
            lit(unit.name()),
            lit(o.ltv_discount_rate),
            lit("discrete"),
            lit(o.ltv_margin),
        ])
        .alias("expected_value");
    let tier = when(p.clone().gt_eq(lit(o.churn_high_risk)), lit("high"))
        .when(p.clone().gt_eq(lit(o.churn_medium_risk)), lit("medium"))
        .when(p.clone().is_not_null(), lit("low"))
        .end()?;
    LogicalPlanBuilder::from(spend_model)
        .cross_join(scored)?
        .join(segments, JoinType::Left, (vec![CUSTOMER], vec!["__clv_rc"]), None)?
        .filter(require_model("churn_risk"))?
        .filter(crate::udf::clv_check::clv_check(
            ident("window_probability").is_null(),
            "churn_risk: no customer has a repeat purchase by the cutoff, so the BTYD model (and the churn model's window features) cannot be fitted; choose a later cutoff",
            ident(CUSTOMER),
            lit(0.0),
        ))?
        .project(vec![
            ident(CUTOFF),
            ident(CUSTOMER),
            ident("segment"),
            ident("recency_days"),
            ident("purchase_days"),
            ident("monetary"),
            ident("last_purchase"),
            ident("window_probability"),
            ident("expected_purchases"),
            p.clone(),
            tier.alias("risk_tier"),
            expected_value,
        ])?
        .project(vec![
            ident(CUTOFF),
            ident(CUSTOMER),
            ident("segment"),
            ident("recency_days"),
            ident("purchase_days"),
            ident("monetary"),
            ident("last_purchase"),
            ident("window_probability"),
            ident("expected_purchases"),
            p.clone(),
            ident("risk_tier"),
            ident("expected_value"),
            (p * ident("expected_value")).alias("value_at_risk"),
            lit(format!("{} {}s", o.ltv_horizon, unit.name())).alias("horizon"),
        ])?
        .build()
}

/// The columns of `churn_contacts`.
pub const CHURN_CONTACT_COLUMNS: [&str; 9] = [
    "rank",
    "customer_id",
    "segment",
    "churn_probability",
    "risk_tier",
    "expected_value",
    "value_at_risk",
    "last_purchase",
    "recency_days",
];

/// `churn_contacts`: the customers of `churn_risk` ranked by value at risk (largest first; ties,
/// and customers without a value, by customer id), with `rank` from 1.
pub fn churn_contacts_plan(source: LogicalPlan, o: &ClvOptions, fns: &super::rfm::RfmFunctions) -> Result<LogicalPlan> {
    let order = vec![
        ident("value_at_risk").sort(false, false),
        ident(CUSTOMER).sort(true, false),
    ];
    let rank = datafusion::functions_window::expr_fn::row_number()
        .order_by(order)
        .build()?
        .alias("rank");
    LogicalPlanBuilder::from(churn_risk_plan(source, o, fns)?)
        .window(vec![rank])?
        .project(CHURN_CONTACT_COLUMNS.iter().map(|c| ident(*c)))?
        .build()
}

/// `churn_model`: the model trained for the cutoff, one row: `cutoff`, `training_cutoffs`, and
/// the fields of `churn_model_fit`'s struct.
pub fn churn_model_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let cutoff = single_cutoff(o, "churn_model")?;
    let scored = scored_rows(source, o, &[cutoff])?;
    let training = training_cutoffs(cutoff, window_days(o)?, o.churn_every, o.churn_train_periods);
    let mut columns = vec![
        lit(ScalarValue::Date32(Some(cutoff))).alias(CUTOFF),
        lit(format_cutoffs(&training)).alias("training_cutoffs"),
    ];
    columns.extend(
        crate::udf::churn_model_fit::model_fields()
            .iter()
            .map(|f| get_field(ident(MODEL), f.name().as_str()).alias(f.name())),
    );
    LogicalPlanBuilder::from(scored)
        .filter(require_model("churn_model"))?
        .limit(0, Some(1))?
        .project(columns)?
        .build()
}
