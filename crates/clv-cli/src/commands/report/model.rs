//! The report section: validation. The BG/NBD fit on an earlier calibration cut, judged on the
//! holdout after it: parameters, fit, tracking, holdout accuracy against the other models and the
//! naive baseline, conditional expectations, and the P(alive) and expected-purchases matrices.

use super::*;

pub(super) async fn model(job: &Job, ctx: &Context) -> Result<Section> {
    let mut s = Section::new("validation", "Validation: the models on an earlier cut");
    let file = match fit_model(job, crate::commands::models::spec_of(ModelKind::BgNbd)?).await {
        Ok(m) => m,
        Err(e) => {
            s.note(&format!("The BG/NBD model could not be fitted: {}", e.line()));
            return Ok(s);
        }
    };
    let json = &file.json;
    let model: FittedBgNbd =
        serde_json::from_value(json.clone()).map_err(|e| CliError::internal(format!("fitted model: {e}")))?;
    let options = crate::session::options(&job.ctx);
    let calibration = options
        .btyd_calibration_end
        .or(options.as_of)
        .map(format_date)
        .unwrap_or_else(|| "the last transaction".into());
    s.para(&format!(
        "This section checks the CLV models on data they did not see: {}. Fitted on the purchases up to {calibration}, in {}s{}.",
        describe(json).lines().next().unwrap_or_default(),
        ctx.time_unit,
        options
            .btyd_holdout_end
            .map(|h| format!(", and judged on the holdout to {}", format_date(h)))
            .unwrap_or_default()
    ));
    let rows: Vec<Vec<String>> = parameters(json)
        .into_iter()
        .map(|(p, v, se)| {
            vec![
                p,
                format!("{v:.4}"),
                se.map(|s| format!("{s:.4}")).unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    s.table(
        &format!(
            "{} parameters with standard errors from the Hessian of the log-likelihood.",
            display_name("bg_nbd")
        ),
        &["parameter", "estimate", "std. error"],
        &rows,
    );
    let summary = job
        .sql("BTYD summary", &format!("SELECT * FROM btyd_summary({})", job.source()))
        .await?;
    let (x, t_x, t) = (f64s(&summary, "x")?, f64s(&summary, "t_x")?, f64s(&summary, "t")?);
    let e = |e: clv::ltv::ModelError| CliError::data(format!("BG/NBD prediction: {e}"));
    // Actual vs expected repeat-purchase histogram: E[#customers with k] = Σ_i P(X(t_i) = k).
    let k_max = 7usize;
    let mut actual = vec![0.0; k_max + 1];
    for v in &x {
        actual[(*v as usize).min(k_max)] += 1.0;
    }
    let mut ages: BTreeMap<u64, f64> = BTreeMap::new();
    for v in &t {
        *ages.entry(v.to_bits()).or_default() += 1.0;
    }
    let mut expected = vec![0.0; k_max + 1];
    for (bits, w) in &ages {
        let age = f64::from_bits(*bits);
        let mut below = 0.0;
        for (k, slot) in expected.iter_mut().enumerate().take(k_max) {
            let p = model.prob_purchases(k as u32, age).map_err(e)?;
            *slot += w * p;
            below += p;
        }
        expected[k_max] += w * (1.0 - below).max(0.0);
    }
    let cats: Vec<String> = (0..=k_max)
        .map(|k| if k == k_max { format!("{k}+") } else { k.to_string() })
        .collect();
    s.figure(
        svg::columns(
            "Actual vs expected repeat purchases",
            &cats,
            &[("actual", actual), ("model", expected)],
            "repeat purchases in the calibration period",
            "customers",
        ),
        "Customers by number of repeat purchases in the calibration period, observed (blue) and expected by the fitted model (orange): close bars mean a good fit.",
    );
    if ctx.holdout {
        let (xh, th) = (f64s(&summary, "x_holdout")?, f64s(&summary, "t_holdout")?);
        let groups = k_max;
        let (mut act, mut pred, mut n) = (vec![0.0; groups], vec![0.0; groups], vec![0.0; groups]);
        for i in 0..x.len() {
            let g = (x[i] as usize).min(groups - 1);
            act[g] += xh[i];
            pred[g] += model.expected_purchases(th[i], x[i], t_x[i], t[i]).map_err(e)?;
            n[g] += 1.0;
        }
        let points = |v: &[f64]| -> Vec<(f64, f64)> {
            (0..groups)
                .filter(|g| n[*g] > 0.0)
                .map(|g| (g as f64, v[g] / n[g]))
                .collect()
        };
        s.figure(
            svg::lines(
                "Calibration vs holdout purchases",
                &[("actual holdout", points(&act)), ("model", points(&pred))],
                &format!("purchases in the calibration period ({}+ pooled)", groups - 1),
                "mean purchases in the holdout",
                true,
            ),
            "Mean holdout-period purchases of customers grouped by their calibration-period purchases, observed and predicted by the model: the lines should lie close.",
        );
    } else {
        s.note(
            "No holdout period: pass --calibration-end and --holdout-end to compare predictions with what happened.",
        );
    }
    let t_max = t.iter().copied().fold(0.0, f64::max);
    let x_max = quantile(&x, 0.995).clamp(1.0, 20.0) as usize;
    let m = matrix(x_max, t_max, |x, t_x| model.p_alive(x, t_x, t_max).map_err(e))?;
    s.figure(
        m.chart("P(alive) matrix", &ctx.time_unit),
        &format!(
            "Probability that a customer is still active, by repeat purchases and recency, for a customer whose first purchase was {t_max:.0} {}s before the calibration end: frequent buyers who stopped long ago are likely gone (recency does not apply without repeat purchases, so the 0 row is constant).",
            ctx.time_unit
        ),
    );
    tracking_and_accuracy(job, &mut s, &model, t_max, x_max, ctx).await?;
    Ok(s)
}

/// A frequency × recency matrix of a customer first seen `t_max` units before the calibration
/// end: rows are repeat purchases `x_max` down to 0, columns twelve recencies up to `t_max`.
struct Matrix {
    rows: Vec<String>,
    cols: Vec<String>,
    values: Vec<Vec<Option<f64>>>,
    labels: Vec<Vec<String>>,
}

impl Matrix {
    fn chart(&self, title: &str, time_unit: &str) -> String {
        svg::heatmap(
            title,
            &self.rows,
            &self.cols,
            &self.values,
            &self.labels,
            &format!("recency: age at the last purchase ({time_unit}s)"),
            "repeat purchases",
            &svg::HeatmapStyle::default(),
        )
    }
}

fn matrix(x_max: usize, t_max: f64, f: impl Fn(f64, f64) -> Result<f64>) -> Result<Matrix> {
    let cols_n = 12usize;
    // Recency bins end at t_max; a customer with repeat purchases has t_x > 0, and recency does
    // not apply without repeat purchases (t_x = 0).
    let recencies: Vec<f64> = (1..=cols_n).map(|c| t_max * c as f64 / cols_n as f64).collect();
    let mut m = Matrix {
        rows: (0..=x_max).rev().map(|v| v.to_string()).collect(),
        cols: recencies.iter().map(|r| format!("{r:.0}")).collect(),
        values: vec![vec![None; cols_n]; x_max + 1],
        labels: vec![vec![String::new(); cols_n]; x_max + 1],
    };
    for (ri, xv) in (0..=x_max).rev().enumerate() {
        for (ci, r) in recencies.iter().enumerate() {
            let v = f(xv as f64, if xv == 0 { 0.0 } else { *r })?;
            m.values[ri][ci] = Some(v);
            m.labels[ri][ci] = format!("{v:.2}");
        }
    }
    Ok(m)
}

/// The tracking plot, holdout accuracy of every model beside the naive baseline, and the
/// expected-purchases matrix.
async fn tracking_and_accuracy(
    job: &Job,
    s: &mut Section,
    model: &FittedBgNbd,
    t_max: f64,
    x_max: usize,
    ctx: &Context,
) -> Result<()> {
    let o = crate::session::options(&job.ctx);
    let src = job.source();
    let e = |e: clv::ltv::ModelError| CliError::data(format!("BG/NBD prediction: {e}"));
    if let Some(c) = o.btyd_calibration_end {
        let holdout = o
            .btyd_holdout_end
            .map(|h| format!(", {}", literal(&format_date(h))))
            .unwrap_or_default();
        let track = job
            .sql(
                "tracking",
                &format!(
                    "SELECT period, phase, actual_cumulative, expected_cumulative FROM clv_tracking({src}, {}{holdout}) ORDER BY period",
                    literal(&format_date(c))
                ),
            )
            .await?;
        let period = i64s(&track, "period")?;
        let (actual, expected) = (f64s(&track, "actual_cumulative")?, f64s(&track, "expected_cumulative")?);
        let phase = strings(&track, "phase")?;
        let unit = match o.ltv_tracking_period {
            7 => "week".to_string(),
            1 => "day".to_string(),
            n => format!("{n}-day period"),
        };
        let first_holdout = phase.iter().position(|p| p.as_deref() == Some("holdout"));
        let points = |v: &[f64]| -> Vec<(f64, f64)> { (0..v.len()).map(|i| (period[i] as f64, v[i])).collect() };
        if !period.is_empty() {
            let last = period.len() - 1;
            s.figure_action(
                svg::lines(
                    "Tracking: cumulative repeat purchases",
                    &[("actual", points(&actual)), ("model", points(&expected))],
                    &format!(
                        "{unit}s since the data start{}",
                        first_holdout
                            .map(|i| format!(" (holdout from {})", period[i]))
                            .unwrap_or_default()
                    ),
                    "cumulative repeat purchases",
                    true,
                ),
                &format!(
                    "Cumulative repeat purchases of the calibration customers, actual against the model's expectation by {unit}: {} actual against {:.0} expected by the end{}.",
                    int(actual[last] as u64),
                    expected[last],
                    if first_holdout.is_some() { ", the holdout included" } else { "" }
                ),
                "Lines that part in the holdout mean the model over- or under-forecasts: read its CLV with that bias in mind.",
            );
        }
    }
    if let (Some(c), Some(h)) = (o.btyd_calibration_end, o.btyd_holdout_end) {
        let compare = job
            .sql(
                "holdout accuracy",
                &format!(
                    "SELECT model, mae, rmse, bias, correlation, total_predicted, total_actual, bic, chosen, reason FROM clv_compare({src}, {}, {}) ORDER BY rmse, model",
                    literal(&format_date(c)),
                    literal(&format_date(h))
                ),
            )
            .await?;
        let names = strings(&compare, "model")?;
        let col = |c: &str| f64s(&compare, c);
        let (mae, rmse, bias, corr, pred, act, bic) = (
            col("mae")?,
            col("rmse")?,
            col("bias")?,
            col("correlation")?,
            col("total_predicted")?,
            col("total_actual")?,
            col("bic")?,
        );
        let f = |v: f64, d: usize| {
            if v.is_finite() {
                format!("{v:.d$}")
            } else {
                "–".into()
            }
        };
        let rows: Vec<Vec<String>> = (0..names.len())
            .map(|i| {
                vec![
                    names[i].clone().unwrap_or_default(),
                    f(mae[i], 3),
                    f(rmse[i], 3),
                    f(bias[i], 3),
                    f(corr[i], 3),
                    f(pred[i], 0),
                    f(act[i], 0),
                    f(bic[i], 0),
                ]
            })
            .collect();
        let reason = strings(&compare, "reason")?
            .into_iter()
            .flatten()
            .next()
            .unwrap_or_default();
        s.table(
            &format!(
                "Holdout accuracy: each model fitted on the calibration period, its per-customer conditional expectation of holdout purchases against the actual (MAE, RMSE, mean bias, correlation) and the totals, beside the naive baseline (the calibration purchase rate carried forward); best RMSE first. Chosen: {reason}."
            ),
            &["model", "MAE", "RMSE", "bias", "correlation", "predicted total", "actual total", "BIC"],
            &rows,
        );
    }
    let h = match (o.btyd_calibration_end, o.btyd_holdout_end) {
        (Some(c), Some(hd)) => f64::from(hd - c) / o.btyd_time_unit.days(),
        _ => o.ltv_horizon,
    };
    let m = matrix(x_max, t_max, |x, t_x| {
        model.expected_purchases(h, x, t_x, t_max).map_err(e)
    })?;
    s.figure_action(
        m.chart("Expected purchases matrix", &ctx.time_unit),
        &format!(
            "Expected purchases in the next {h:.1} {}s by repeat purchases and recency, for a customer first seen {t_max:.0} {}s before the calibration end.",
            ctx.time_unit, ctx.time_unit
        ),
        "Recent frequent buyers (top right) are worth keeping warm; frequent buyers gone quiet (top left) are the ones to win back.",
    );
    Ok(())
}
