//! The report's churn section: labels, churn by segment, every churn score side by side with a
//! warning for any that ranks worse than chance, the trained model's calibration chart, and the
//! customers to contact now (library: `churn_labels`, `churn_evaluate`, `churn_calibration`,
//! `churn_contacts`).

use clv::common::dates::format_date;

use super::html::{Section, kpis};
use super::{Context, int, money, pct, rate, svg};
use crate::columns::{f64s, i64s, strings};
use crate::commands::Job;
use crate::error::Result;

/// Two decimals, or a dash for a missing value.
fn fixed(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "–".to_string()
    }
}

/// The churn section.
pub(super) async fn churn(job: &Job, ctx: &Context, facts: &mut super::summary::Facts) -> Result<Section> {
    let mut s = Section::new("churn", "Churn");
    let o = crate::session::options(&job.ctx);
    let Some(as_of) = ctx.as_of else {
        s.note("No transactions, so no churn labels.");
        return Ok(s);
    };
    // The evaluation window: with a holdout, the window (of churn.window_days, at most the
    // holdout) after the calibration end; else the last complete window before the data end.
    let last_day = as_of - 1;
    let (cutoff, window) = match (o.btyd_calibration_end, o.btyd_holdout_end) {
        (Some(c), Some(h)) => (c, o.churn_window_days.min(i64::from(h - c))),
        _ => (last_day - o.churn_window_days as i32, o.churn_window_days),
    };
    let cutoff_text = format_date(cutoff);
    let set = |cutoff: &str, window: i64| {
        crate::session::set_options(
            &job.ctx,
            &[
                ("churn.cutoffs", Some(cutoff.to_string())),
                ("churn.window_days", Some(window.to_string())),
            ],
            "churn",
        )
    };
    set(&cutoff_text, window)?;
    let src = job.source();
    labels(job, &mut s, &src, &cutoff_text, window, ctx.holdout).await?;
    evaluation(job, &mut s, &src, &cutoff_text, window).await?;
    // Whom to contact now: scored at the last transaction date.
    let now = format_date(last_day);
    set(&now, window)?;
    contacts(job, &mut s, &src, &now, window, facts).await?;
    Ok(s)
}

async fn labels(job: &Job, s: &mut Section, src: &str, cutoff: &str, window: i64, holdout: bool) -> Result<()> {
    let summary = job
        .sql(
            "churn labels",
            &crate::commands::churn::label_summary_query(&format!("churn_labels({src})")),
        )
        .await?;
    let n = |c: &str| -> Result<f64> { Ok(f64s(&summary, c)?.first().copied().unwrap_or(0.0)) };
    // No customers at the cutoff: no rate, not a 0.0 % one.
    let churn_rate = f64s(&summary, "churn_rate")?.first().copied().unwrap_or(f64::NAN);
    s.para(&format!(
        "A customer counts as churned at {cutoff} when they make no purchase in the {window} days after it{}; every score below is computed from the transactions up to the cutoff only.",
        if holdout { " (in the holdout period)" } else { "" }
    ));
    s.table(
        "Churn labels: customers with a purchase by the cutoff, split by whether they bought in the window (unknown: the window runs past the data without a purchase).",
        &["cutoff", "window end", "customers", "churned", "retained", "unknown", "churn rate"],
        &[vec![
            cutoff.to_string(),
            strings(&summary, "window_end")?.into_iter().next().flatten().unwrap_or_default(),
            int(n("customers")? as u64),
            int(n("churned")? as u64),
            int(n("retained")? as u64),
            int(n("unknown")? as u64),
            rate(churn_rate),
        ]],
    );
    let by_segment = job
        .sql(
            "churn by segment",
            &format!(
                "SELECT segment, avg(CASE WHEN churned THEN 1.0 ELSE 0.0 END) AS rate, count(*) AS n
                 FROM churn_labels({src}) WHERE churned IS NOT NULL AND segment IS NOT NULL
                 GROUP BY segment ORDER BY rate DESC, segment"
            ),
        )
        .await?;
    let names: Vec<String> = strings(&by_segment, "segment")?
        .into_iter()
        .map(|v| v.unwrap_or_default())
        .collect();
    if !names.is_empty() {
        s.figure(
            svg::hbars("Churn rate by RFM segment", &names, &[("churned", f64s(&by_segment, "rate")?)], pct),
            &format!("Share of each RFM segment, scored as of {cutoff}, that made no purchase in the following {window} days."),
        );
    }
    Ok(())
}

async fn evaluation(job: &Job, s: &mut Section, src: &str, cutoff: &str, window: i64) -> Result<()> {
    let scores = job
        .sql_registered(
            "churn evaluation",
            &format!("SELECT * FROM churn_evaluate({src}) ORDER BY auc DESC NULLS LAST, score"),
            "evaluation",
        )
        .await?;
    let names: Vec<String> = strings(&scores, "score")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let Some(model) = names.iter().position(|n| n == "churn_model") else {
        s.note(&format!(
            "No churn model could be trained for {cutoff}: no month end before it has a complete {window}-day window with customers. The other scores are compared below."
        ));
        return Ok(());
    };
    let col = |c: &str| f64s(&scores, c);
    let (auc, brier, customers) = (col("auc")?, col("brier")?, col("customers")?);
    s.body.push_str(&kpis(&[
        ("AUC of the churn model", fixed(auc[model], 3)),
        ("Brier score", fixed(brier[model], 4)),
        ("labelled customers", int(customers[model] as u64)),
    ]));
    let (log_loss, gap, lift_10, gain_10, lift_20, gain_20) = (
        col("log_loss")?,
        col("max_decile_gap")?,
        col("lift_10")?,
        col("gain_10")?,
        col("lift_20")?,
        col("gain_20")?,
    );
    let descriptions: Vec<String> = strings(&scores, "description")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let rows: Vec<Vec<String>> = (0..names.len())
        .map(|i| {
            vec![
                names[i].clone(),
                descriptions[i].clone(),
                fixed(auc[i], 3),
                fixed(brier[i], 4),
                fixed(log_loss[i], 3),
                fixed(gap[i], 3),
                fixed(lift_10[i], 2),
                pct(gain_10[i]),
                fixed(lift_20[i], 2),
                pct(gain_20[i]),
            ]
        })
        .collect();
    s.table(
        &format!(
            "Every churn score on the same labels at {cutoff}, best AUC first. AUC: the chance that a churner outranks a retained customer (0.5 = random). Brier score, log loss and the largest decile gap (|predicted − observed|) apply to probabilities only. Lift and gain: the churn rate of the top 10 % / 20 % against the average, and the share of all churners they hold."
        ),
        &[
            "score",
            "what it is",
            "AUC",
            "Brier",
            "log loss",
            "max decile gap",
            "lift top 10%",
            "gain top 10%",
            "lift top 20%",
            "gain top 20%",
        ],
        &rows,
    );
    for line in crate::commands::churn::auc_warnings(job).await? {
        s.note(&line);
    }
    let deciles = job
        .sql(
            "calibration deciles",
            &format!("SELECT * FROM churn_calibration({src}) WHERE score = 'churn_model' ORDER BY decile"),
        )
        .await?;
    let cats: Vec<String> = i64s(&deciles, "decile")?.iter().map(|d| d.to_string()).collect();
    s.figure(
        svg::columns(
            "Churn calibration deciles",
            &cats,
            &[
                ("predicted churn probability", f64s(&deciles, "mean_score")?),
                ("observed churn rate", f64s(&deciles, "observed_churn")?),
            ],
            "decile of predicted churn (10 = most likely to churn)",
            "churn rate",
        ),
        &format!(
            "Customers ranked by the churn model at {cutoff} into ten equal deciles, mean predicted probability vs observed churn in each; the AUC is {:.3} and no decile is off by more than {:.3}.",
            auc[model], gap[model]
        ),
    );
    Ok(())
}

async fn contacts(
    job: &Job,
    s: &mut Section,
    src: &str,
    now: &str,
    window: i64,
    facts: &mut super::summary::Facts,
) -> Result<()> {
    // Every customer with their value at risk, in rank order: the summary adds them up.
    let all = job
        .sql_registered(
            "contact list",
            &format!("SELECT * FROM churn_contacts({src}) ORDER BY rank"),
            "contacts",
        )
        .await?;
    if all.iter().all(|b| b.num_rows() == 0) {
        return Ok(());
    }
    let (segment, tier) = (strings(&all, "segment")?, strings(&all, "risk_tier")?);
    let value_at_risk = f64s(&all, "value_at_risk")?;
    let mut risk = super::summary::RiskFacts {
        cutoff: now.to_string(),
        window,
        ..Default::default()
    };
    for i in 0..value_at_risk.len() {
        let v = if value_at_risk[i].is_finite() {
            value_at_risk[i]
        } else {
            0.0
        };
        risk.total += v;
        if tier[i].as_deref() == Some("high") {
            risk.high_customers += 1;
            risk.high_value += v;
        }
        let name = segment[i].clone().unwrap_or_else(|| "(none)".into());
        match risk.by_segment.iter_mut().find(|(n, _, _)| *n == name) {
            Some(e) => {
                e.1 += v;
                e.2 += 1;
            }
            None => risk.by_segment.push((name, v, 1)),
        }
    }
    risk.by_segment
        .sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    facts.risk = Some(risk);
    let top = job
        .sql_results("top contacts", "SELECT * FROM contacts ORDER BY rank LIMIT 10")
        .await?;
    let (ids, segments, tiers, last) = (
        strings(&top, "customer_id")?,
        strings(&top, "segment")?,
        strings(&top, "risk_tier")?,
        strings(&top, "last_purchase")?,
    );
    let (p, value, at_risk) = (
        f64s(&top, "churn_probability")?,
        f64s(&top, "expected_value")?,
        f64s(&top, "value_at_risk")?,
    );
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = (0..ids.len())
        .map(|i| {
            vec![
                (i + 1).to_string(),
                text(&ids[i]),
                text(&segments[i]),
                pct(p[i]),
                text(&tiers[i]),
                money(value[i]),
                money(at_risk[i]),
                text(&last[i]),
            ]
        })
        .collect();
    s.table(
        &format!(
            "Whom to contact: the ten customers with the most value at risk at {now} (churn probability of no purchase in the next {window} days × expected value; `clv churn contacts` writes the whole list)."
        ),
        &[
            "rank",
            "customer",
            "segment",
            "churn probability",
            "tier",
            "expected value",
            "value at risk",
            "last purchase",
        ],
        &rows,
    );
    Ok(())
}
