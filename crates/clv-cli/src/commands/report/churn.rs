//! The report section: Churn labels, their AUC and calibration deciles.

use super::*;

pub(super) async fn churn(job: &Job, ctx: &Context) -> Result<Section> {
    let mut s = Section::new("churn", "Churn");
    let o = crate::session::options(&job.ctx);
    // With a holdout: labels at the calibration end over the holdout; else the last complete
    // 90-day window before the data end.
    let (cutoff, window) = match (o.btyd_calibration_end, o.btyd_holdout_end) {
        (Some(c), Some(h)) => (c, (h - c) as i64),
        _ => match ctx.as_of {
            Some(a) => (a - 1 - 90, 90),
            None => {
                s.note("No transactions, so no churn labels.");
                return Ok(s);
            }
        },
    };
    let cutoff_text = format_date(cutoff);
    crate::session::set_options(
        &job.ctx,
        &[
            ("churn.cutoffs", Some(cutoff_text.clone())),
            ("churn.window_days", Some(window.to_string())),
        ],
        "churn",
    )?;
    let src = job.source();
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
        "A customer counts as churned at {cutoff_text} when they make no purchase in the {window} days after it{}; features are computed from the transactions up to the cutoff only.",
        if ctx.holdout { " (the holdout period)" } else { "" }
    ));
    s.table(
        "Churn labels: customers with a purchase by the cutoff, split by whether they bought in the window (unknown: the window runs past the data without a purchase).",
        &["cutoff", "window end", "customers", "churned", "retained", "unknown", "churn rate"],
        &[vec![
            cutoff_text.clone(),
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
            &format!("Share of each RFM segment, scored as of {cutoff_text}, that made no purchase in the following {window} days."),
        );
    }
    if !ctx.holdout {
        s.note("No holdout period: pass --calibration-end and --holdout-end to evaluate churn predictions (AUC and calibration deciles).");
        return Ok(s);
    }
    let deciles = job
        .sql(
            "churn evaluation",
            &format!("SELECT * FROM churn_evaluate({src}) ORDER BY decile"),
        )
        .await?;
    let auc = f64s(&deciles, "auc")?.first().copied().unwrap_or(f64::NAN);
    s.body.push_str(&kpis(&[
        ("AUC of 1 − P(alive)", format!("{auc:.3}")),
        (
            "labelled customers",
            int(f64s(&deciles, "customers")?.iter().sum::<f64>() as u64),
        ),
    ]));
    let cats: Vec<String> = i64s(&deciles, "decile")?.iter().map(|d| d.to_string()).collect();
    s.figure(
        svg::columns(
            "Churn calibration deciles",
            &cats,
            &[
                ("predicted (mean 1 − P(alive))", f64s(&deciles, "predicted_churn")?),
                ("observed churn rate", f64s(&deciles, "observed_churn")?),
            ],
            "decile of predicted churn (10 = most likely to churn)",
            "churn rate",
        ),
        &format!(
            "Customers ranked by the BG/NBD churn probability at {cutoff_text} into ten equal deciles, predicted vs observed churn in each; the AUC is {auc:.3} (0.5 is a random ranking, 1 a perfect one)."
        ),
    );
    Ok(s)
}
