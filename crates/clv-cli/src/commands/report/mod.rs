//! `clv report`: one self-contained HTML file with charts.
//!
//! Every number comes from the clv functions (`clv_policy_report`, `rfm`, `cohort_retention`,
//! `lifecycle`, `lifecycle_transitions`, `btyd_summary`, `bgnbd_fit`, `clv_predict`, the churn
//! functions) or from
//! the fitted BG/NBD model loaded through the library (`FittedBgNbd`); this module only shapes
//! them into charts.

pub mod churn;
pub mod html;
pub mod svg;

use std::collections::BTreeMap;

use clv::config::{format_date, parse_date};
use clv::ltv::FittedBgNbd;
use clv::prelude::*;

use super::churn::STAGE_ORDER;
use super::cohorts::{cells, shape};
use super::models::{ModelFile, describe, display_name, fit_model, parameters, predict_query};
use super::{Job, literal};
use crate::cli::{GlobalArgs, ModelArg, ReportArgs};
use crate::columns::{f64s, i64s, strings};
use crate::error::{CliError, Result};
use html::{Section, kpis};
use svg::short;

/// The calibration split of the bundled sample (as in Fader, Hardie & Lee 2005).
const SAMPLE_SPLIT: (&str, &str) = ("1997-09-30", "1998-06-30");

fn int(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn money(v: f64) -> String {
    if v.abs() >= 1e4 { short(v) } else { format!("{v:.2}") }
}

/// Bins of a round width from the smallest value (or 0) up to about `cap`, the last one also
/// holding everything above: labels are the bins' lower bounds.
pub fn histogram(values: &[f64], bins: usize, cap: f64) -> (Vec<String>, Vec<f64>) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(0.0, f64::min);
    let cap = if cap > lo { cap } else { lo + 1.0 };
    let width = svg::nice_step((cap - lo) / bins as f64);
    let bins = (((cap - lo) / width).ceil() as usize).max(1);
    let mut counts = vec![0.0; bins];
    for v in finite {
        let i = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += 1.0;
    }
    let labels = (0..bins)
        .map(|i| {
            let from = lo + width * i as f64;
            if i + 1 == bins {
                format!("{}+", short(from))
            } else {
                short(from)
            }
        })
        .collect();
    (labels, counts)
}

/// A histogram of `values` capped at their 99th percentile, with its caption.
fn capped_histogram(s: &mut Section, title: &str, values: &[f64], x_title: &str, what: &str) {
    let cap = quantile(values, 0.99);
    let (labels, counts) = histogram(values, 20, cap);
    let last = labels.last().cloned().unwrap_or_default();
    s.figure(
        svg::columns(title, &labels, &[("customers", counts)], x_title, "customers"),
        &format!(
            "{what}; the last bar ({last}) also holds the top 1% (above {}).",
            money(cap)
        ),
    );
}

/// The `q` quantile (nearest rank) of the finite values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

struct Context {
    as_of: Option<i32>,
    first_day: Option<i32>,
    holdout: bool,
    time_unit: String,
}

async fn overview(job: &Job) -> Result<(Section, Context)> {
    let src = job.source();
    let options = crate::session::options(&job.ctx);
    let report = PolicyReport::from_batches(
        &job.sql("data policies", &format!("SELECT * FROM clv_policy_report({src})"))
            .await?,
    )?;
    let time = format!("\"{}\"", options.time_column.replace('"', "\"\""));
    let range = job
        .sql(
            "date range",
            &format!(
                "SELECT CAST(CAST(min({time}) AS DATE) AS VARCHAR) AS first, CAST(CAST(max({time}) AS DATE) AS VARCHAR) AS last
                 FROM {}",
                job.input.table
            ),
        )
        .await?;
    let first = strings(&range, "first")?.into_iter().next().flatten();
    let last = strings(&range, "last")?.into_iter().next().flatten();
    let mut s = Section::new("overview", "Data overview");
    s.body.push_str(&kpis(&[
        ("rows read", int(report.rows_read)),
        ("rows used", int(report.rows_used)),
        ("customers", int(report.customers)),
        ("first transaction", first.clone().unwrap_or_else(|| "–".into())),
        ("last transaction", last.clone().unwrap_or_else(|| "–".into())),
        ("as of", report.as_of.clone().unwrap_or_else(|| "–".into())),
    ]));
    let rows: Vec<Vec<String>> = report
        .lines(&options)
        .into_iter()
        .map(|(policy, action, n)| vec![policy.to_string(), int(n), action.to_string()])
        .collect();
    s.table(
        "Rows and customers each data policy counted: every row is attributed to the first policy that applies; the action says what was done with them.",
        &["data policy", "count", "action"],
        &rows,
    );
    let ctx = Context {
        as_of: report.as_of.as_deref().map(|d| parse_date(d, "as_of")).transpose()?,
        first_day: first
            .as_deref()
            .map(|d| parse_date(d, "first transaction"))
            .transpose()?,
        holdout: options.btyd_holdout_end.is_some(),
        time_unit: options.btyd_time_unit.to_string(),
    };
    Ok((s, ctx))
}

async fn rfm(job: &Job) -> Result<Section> {
    let src = job.source();
    let result = job
        .sql_registered("RFM scores", &format!("SELECT * FROM rfm({src})"), "rfm_result")
        .await?;
    let mut s = Section::new("rfm", "RFM segments");
    if result.iter().all(|b| b.num_rows() == 0) {
        s.note("No customer has a purchase, so there are no RFM scores.");
        return Ok(s);
    }
    let options = crate::session::options(&job.ctx);
    s.para(&format!(
        "Scores 1 (worst) to 5 (best) for recency, frequency and monetary value as of the report date; segments by the {} scheme.",
        options.rfm_scheme
    ));
    let segments = job
        .sql_results(
            "RFM segments",
            "SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM rfm_result
             WHERE segment IS NOT NULL GROUP BY segment ORDER BY customers DESC, segment",
        )
        .await?;
    let names: Vec<String> = strings(&segments, "segment")?
        .into_iter()
        .map(|s| s.unwrap_or_default())
        .collect();
    if !names.is_empty() {
        let customers = f64s(&segments, "customers")?;
        let revenue = f64s(&segments, "revenue")?;
        let (tc, tr) = (customers.iter().sum::<f64>(), revenue.iter().sum::<f64>());
        let share = |v: &[f64], t: f64| v.iter().map(|x| if t != 0.0 { x / t } else { 0.0 }).collect::<Vec<_>>();
        s.figure(
            svg::hbars(
                "RFM segments: share of customers and of revenue",
                &names,
                &[("customers", share(&customers, tc)), ("revenue", share(&revenue, tr))],
                pct,
            ),
            "Each segment's share of customers (blue) and of revenue (orange): segments whose orange bar is longer bring more than their headcount.",
        );
    }
    let grid = job
        .sql_results(
            "R × F grid",
            "SELECT r, f, count(*) AS customers, avg(monetary) AS avg_monetary FROM rfm_result GROUP BY r, f",
        )
        .await?;
    let (r, f) = (i64s(&grid, "r")?, i64s(&grid, "f")?);
    let (n, m) = (f64s(&grid, "customers")?, f64s(&grid, "avg_monetary")?);
    let bins = r.iter().chain(&f).copied().max().unwrap_or(1).max(1);
    let rows: Vec<String> = (1..=bins).rev().map(|v| format!("R {v}")).collect();
    let cols: Vec<String> = (1..=bins).map(|v| format!("F {v}")).collect();
    let mut values = vec![vec![None; bins as usize]; bins as usize];
    let mut labels = vec![vec![String::new(); bins as usize]; bins as usize];
    for i in 0..r.len() {
        let (ri, fi) = ((bins - r[i]) as usize, (f[i] - 1) as usize);
        if ri < values.len() && fi < values.len() {
            values[ri][fi] = Some(n[i]);
            labels[ri][fi] = format!("{} · {}", short(n[i]), money(m[i]));
        }
    }
    s.figure(
        svg::heatmap("R × F heat map", &rows, &cols, &values, &labels, "frequency score", "recency score"),
        "Customers in each recency × frequency score cell (colour and first number) with their average monetary value (second number); the top-right cell holds the recent, frequent buyers.",
    );
    let values = job
        .sql_results(
            "RFM distributions",
            "SELECT recency_days, frequency, monetary FROM rfm_result",
        )
        .await?;
    let recency = f64s(&values, "recency_days")?;
    let frequency = f64s(&values, "frequency")?;
    let monetary = f64s(&values, "monetary")?;
    let (rl, rc) = histogram(&recency, 20, recency.iter().copied().fold(0.0, f64::max) + 1.0);
    s.figure(
        svg::columns(
            "Recency distribution",
            &rl,
            &[("customers", rc)],
            "days since the last purchase",
            "customers",
        ),
        "Recency: how many customers last bought a given number of days before the report date.",
    );
    let fmax = quantile(&frequency, 0.99).max(1.0).min(30.0) as usize;
    let mut fc = vec![0.0; fmax];
    for v in &frequency {
        if v.is_finite() && *v >= 1.0 {
            fc[((*v as usize).min(fmax)) - 1] += 1.0;
        }
    }
    let fl: Vec<String> = (1..=fmax)
        .map(|v| if v == fmax { format!("{v}+") } else { v.to_string() })
        .collect();
    s.figure(
        svg::columns(
            "Frequency distribution",
            &fl,
            &[("customers", fc)],
            "orders",
            "customers",
        ),
        &format!("Frequency: customers by number of orders; the last bar holds everyone with {fmax} or more."),
    );
    capped_histogram(
        &mut s,
        "Monetary distribution",
        &monetary,
        "monetary value (total spend)",
        "Monetary: customers by total spend",
    );
    Ok(s)
}

async fn cohorts(job: &Job) -> Result<Section> {
    let result = job
        .sql(
            "cohort retention",
            &format!(
                "SELECT * FROM cohort_retention({}) ORDER BY cohort, period_offset",
                job.source()
            ),
        )
        .await?;
    let period = crate::session::options(&job.ctx).cohort_period;
    let mut s = Section::new("cohorts", "Cohort retention");
    let cells = cells(&result)?;
    if cells.is_empty() {
        s.note("No cohorts: the input has no purchases.");
        return Ok(s);
    }
    let (cohorts, max_offset) = shape(&cells);
    let rows: Vec<String> = cohorts
        .iter()
        .map(|(c, n)| format!("{c} ({})", short(*n as f64)))
        .collect();
    let cols: Vec<String> = (0..=max_offset).map(|o| o.to_string()).collect();
    let triangles: [(&str, fn(&super::cohorts::CohortCell) -> f64, String); 2] = [
        (
            "Cohort retention triangle",
            |c| c.retention_rate,
            format!(
                "Retention triangle: the percentage of each first-purchase {period} cohort that bought again in each later {period}."
            ),
        ),
        (
            "Revenue retention",
            |c| c.revenue_retention,
            format!(
                "Revenue retention: each cohort's revenue in a later {period} as a percentage of its revenue in its first {period}."
            ),
        ),
    ];
    for (title, value, caption) in triangles {
        let mut values = vec![vec![None; cols.len()]; rows.len()];
        let mut labels = vec![vec![String::new(); cols.len()]; rows.len()];
        for c in &cells {
            let r = cohorts.iter().position(|(k, _)| *k == c.cohort).unwrap_or(0);
            let v = value(c);
            values[r][c.offset as usize] = Some(v);
            labels[r][c.offset as usize] = format!("{:.0}", 100.0 * v);
        }
        let x_title = format!("{period}s since the first purchase");
        s.figure(
            svg::heatmap(title, &rows, &cols, &values, &labels, &x_title, "cohort (customers)"),
            &caption,
        );
    }
    Ok(s)
}

async fn lifecycle(job: &Job, ctx: &Context, from: Option<&str>, to: Option<&str>) -> Result<Section> {
    let src = job.source();
    let mut s = Section::new("lifecycle", "Lifecycle");
    let counts = job
        .sql(
            "lifecycle stages",
            &format!("SELECT stage, count(*) AS customers FROM lifecycle({src}) GROUP BY stage ORDER BY {STAGE_ORDER}"),
        )
        .await?;
    let stages: Vec<String> = strings(&counts, "stage")?
        .into_iter()
        .map(|s| s.unwrap_or_default())
        .collect();
    let n = f64s(&counts, "customers")?;
    let w = crate::session::options(&job.ctx).lifecycle_windows;
    s.figure(
        svg::hbars("Lifecycle stage counts", &stages, &[("customers", n)], short),
        &format!(
            "Customers in each lifecycle stage as of the report date (new: first purchase under {} days ago; active: last purchase under {} days ago; churned: {} days or more).",
            w.new_days, w.active_days, w.churn_days
        ),
    );
    let to = match to {
        Some(t) => t.to_string(),
        None => match ctx.as_of {
            Some(d) => format_date(d),
            None => return Ok(s),
        },
    };
    let from = match from {
        Some(f) => f.to_string(),
        None => {
            let (Some(a), Some(b)) = (ctx.first_day, ctx.as_of) else {
                return Ok(s);
            };
            format_date(a + (b - a) / 2)
        }
    };
    let moves = job
        .sql(
            "lifecycle transitions",
            &format!(
                "SELECT from_stage, to_stage, customers FROM lifecycle_transitions({src}, {}, {})",
                literal(&from),
                literal(&to)
            ),
        )
        .await?;
    let (fs, ts, n) = (
        strings(&moves, "from_stage")?,
        strings(&moves, "to_stage")?,
        f64s(&moves, "customers")?,
    );
    let order = ["prospect", "new", "active", "reactivated", "silent", "churned"];
    let present = |v: &[Option<String>]| -> Vec<String> {
        order
            .iter()
            .filter(|o| v.iter().any(|x| x.as_deref() == Some(**o)))
            .map(|o| o.to_string())
            .collect()
    };
    let (rows, cols) = (present(&fs), present(&ts));
    let mut values = vec![vec![None; cols.len()]; rows.len()];
    let mut labels = vec![vec![String::new(); cols.len()]; rows.len()];
    for i in 0..n.len() {
        let r = rows.iter().position(|x| Some(x.as_str()) == fs[i].as_deref());
        let c = cols.iter().position(|x| Some(x.as_str()) == ts[i].as_deref());
        if let (Some(r), Some(c)) = (r, c) {
            values[r][c] = Some(n[i]);
            labels[r][c] = int(n[i] as u64);
        }
    }
    s.figure(
        svg::heatmap(
            "Lifecycle transition matrix",
            &rows,
            &cols,
            &values,
            &labels,
            &format!("stage on {to}"),
            &format!("stage on {from}"),
        ),
        &format!("Transition matrix: customers by their stage on {from} (rows) and on {to} (columns); prospects had not bought yet."),
    );
    Ok(s)
}

async fn model(job: &Job, ctx: &Context) -> Result<(Section, Option<ModelFile>)> {
    let mut s = Section::new("bgnbd", "BG/NBD model");
    let file = match fit_model(job, ModelArg::BgNbd).await {
        Ok(m) => m,
        Err(e) => {
            s.note(&format!("The BG/NBD model could not be fitted: {}", e.line()));
            return Ok((s, None));
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
        "{}. Fitted on the purchases up to {calibration}, in {}s.",
        describe(json).lines().next().unwrap_or_default(),
        ctx.time_unit
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
    let cols_n = 12usize;
    let rows: Vec<String> = (0..=x_max).rev().map(|v| v.to_string()).collect();
    // Recency bins end at t_max; a customer with repeat purchases has t_x > 0.
    let recencies: Vec<f64> = (1..=cols_n).map(|c| t_max * c as f64 / cols_n as f64).collect();
    let cols: Vec<String> = recencies.iter().map(|r| format!("{r:.0}")).collect();
    let mut values = vec![vec![None; cols_n]; x_max + 1];
    let mut labels = vec![vec![String::new(); cols_n]; x_max + 1];
    for (ri, xv) in (0..=x_max).rev().enumerate() {
        for (ci, r) in recencies.iter().enumerate() {
            let p = model
                .p_alive(xv as f64, if xv == 0 { 0.0 } else { *r }, t_max)
                .map_err(e)?;
            values[ri][ci] = Some(p);
            labels[ri][ci] = format!("{p:.2}");
        }
    }
    s.figure(
        svg::heatmap(
            "P(alive) matrix",
            &rows,
            &cols,
            &values,
            &labels,
            &format!("recency: age at the last purchase ({}s)", ctx.time_unit),
            "repeat purchases",
        ),
        &format!(
            "Probability that a customer is still active, by repeat purchases and recency, for a customer whose first purchase was {t_max:.0} {}s before the calibration end: frequent buyers who stopped long ago are likely gone (recency does not apply without repeat purchases, so the 0 row is constant).",
            ctx.time_unit
        ),
    );
    Ok((s, Some(file)))
}

async fn clv(job: &Job, model: Option<&ModelFile>, top: usize) -> Result<Section> {
    let mut s = Section::new("clv", "Customer lifetime value");
    let Some(model) = model else {
        s.note("No CLV without a fitted BG/NBD model (see above).");
        return Ok(s);
    };
    let o = crate::session::options(&job.ctx);
    let spend = match fit_model(job, ModelArg::GammaGamma).await {
        Ok(m) => m,
        Err(e) => {
            s.note(&format!(
                "The Gamma-Gamma spend model could not be fitted: {}",
                e.line()
            ));
            return Ok(s);
        }
    };
    let query = predict_query(
        &job.source(),
        model,
        Some(&spend),
        o.ltv_horizon,
        o.ltv_discount_rate,
        o.ltv_margin,
    );
    let result = job
        .sql(
            "CLV predictions",
            &format!("SELECT * FROM ({query}) ORDER BY clv DESC NULLS LAST, customer_id"),
        )
        .await?;
    s.para(&format!(
        "{}. The spend model is Gamma-Gamma, fitted on the customers with repeat purchases and a positive mean repeat spend; customers whose repeat purchases were all free are scored with the model's posterior mean spend for a zero average.",
        describe(&spend.json).lines().next().unwrap_or_default()
    ));
    let clv = f64s(&result, "clv")?;
    let scored = clv.iter().filter(|v| v.is_finite()).count();
    let total: f64 = clv.iter().filter(|v| v.is_finite()).sum();
    s.body.push_str(&kpis(&[
        ("customers with a CLV", int(scored as u64)),
        ("total predicted CLV", money(total)),
        ("mean CLV", money(total / scored.max(1) as f64)),
        ("median CLV", money(quantile(&clv, 0.5))),
    ]));
    capped_histogram(
        &mut s,
        "CLV distribution",
        &clv,
        "predicted CLV",
        &format!(
            "Predicted value of each customer over the next {} {}s (BG/NBD purchases × Gamma-Gamma spend{})",
            o.ltv_horizon,
            o.btyd_time_unit,
            if o.ltv_discount_rate > 0.0 { ", discounted" } else { "" },
        ),
    );
    let ids = strings(&result, "customer_id")?;
    let (x, z, pa, ep, es) = (
        f64s(&result, "x")?,
        f64s(&result, "monetary")?,
        f64s(&result, "p_alive")?,
        f64s(&result, "expected_purchases")?,
        f64s(&result, "expected_spend")?,
    );
    let rows: Vec<Vec<String>> = (0..clv.len().min(top))
        .map(|i| {
            vec![
                ids[i].clone().unwrap_or_default(),
                format!("{:.0}", x[i]),
                money(z[i]),
                format!("{:.3}", pa[i]),
                format!("{:.2}", ep[i]),
                money(es[i]),
                money(clv[i]),
            ]
        })
        .collect();
    s.table(
        &format!("The {} customers with the highest predicted CLV.", rows.len()),
        &[
            "customer",
            "repeat purchases",
            "mean repeat spend",
            "P(alive)",
            "expected purchases",
            "expected spend",
            "CLV",
        ],
        &rows,
    );
    Ok(s)
}

/// Runs `clv report`.
pub async fn run(global: &GlobalArgs, args: ReportArgs) -> Result<()> {
    let sample = args.input.path.is_none();
    let (calibration, holdout) = match (&args.calibration_end, &args.holdout_end, sample) {
        (None, None, true) => (Some(SAMPLE_SPLIT.0.to_string()), Some(SAMPLE_SPLIT.1.to_string())),
        (c, h, _) => (c.clone(), h.clone()),
    };
    if holdout.is_some() && calibration.is_none() {
        return Err(CliError::usage(
            "--holdout-end needs --calibration-end: the holdout is the period after the calibration end",
        ));
    }
    let mut options = args.rfm.options();
    options.extend([
        ("btyd.calibration_end", calibration),
        ("btyd.holdout_end", holdout),
        ("btyd.time_unit", args.time_unit.clone()),
        ("cohort.period", args.period.clone()),
    ]);
    let job = Job::new(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    let (overview, ctx) = overview(&job).await?;
    let mut sections = vec![overview];
    sections.push(rfm(&job).await?);
    sections.push(cohorts(&job).await?);
    sections.push(lifecycle(&job, &ctx, args.from.as_deref(), args.to.as_deref()).await?);
    let (model_section, model) = model(&job, &ctx).await?;
    sections.push(model_section);
    sections.push(clv(&job, model.as_ref(), args.top).await?);
    sections.push(churn::section(&job, &ctx).await?);
    let title = args.title.clone().unwrap_or_else(|| {
        format!(
            "Customer value report: {}",
            if sample {
                "CDNOW sample".to_string()
            } else {
                job.input.label.trim_matches('\'').to_string()
            }
        )
    });
    let subtitle = format!(
        "{} · as of {}",
        job.input.label,
        ctx.as_of.map(format_date).unwrap_or_else(|| "–".into())
    );
    let page = job.progress.step("rendering the report", || {
        html::page(
            &title,
            &subtitle,
            &sections,
            &format!("Made by clv {}.", env!("CARGO_PKG_VERSION")),
        )
    });
    std::fs::write(&args.out, page)
        .map_err(|e| CliError::data(format!("cannot write '{}': {e}", args.out.display())))?;
    job.note(format!("Wrote the report to {}", args.out.display()));
    Ok(())
}
