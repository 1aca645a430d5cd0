//! The report section: The CLV distribution and the top customers.

use super::*;

/// CLV as of the report date: BG/NBD and Gamma-Gamma fitted on all history up to it (the
/// caller clears the calibration split), scored over the horizon with the margin and discount.
pub(super) async fn clv(job: &Job, ctx: &Context, facts: &mut summary::Facts, top: usize) -> Result<Section> {
    let mut s = Section::new("clv", "Customer lifetime value");
    let model = match fit_model(job, crate::commands::models::spec_of(ModelKind::BgNbd)?).await {
        Ok(m) => m,
        Err(e) => {
            s.note(&format!("No CLV: the BG/NBD model could not be fitted: {}", e.line()));
            return Ok(s);
        }
    };
    let model = &model;
    let o = crate::session::options(&job.ctx);
    let as_of = ctx.as_of.map(format_date);
    let spend = match fit_model(job, crate::commands::models::spec_of(ModelKind::GammaGamma)?).await {
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
        None,
    );
    let result = job
        .sql(
            "CLV predictions",
            &format!("SELECT * FROM ({query}) ORDER BY clv DESC NULLS LAST, customer_id"),
        )
        .await?;
    s.para(&format!(
        "CLV here is the expected {} over the next {} {}s after the report date{}: BG/NBD expected purchases × Gamma-Gamma expected spend{}{}. Both models are fitted on all the history up to the report date{}; the validation section below checks the same models on an earlier cut. Set --horizon, --margin and --discount-rate to change it.",
        if o.ltv_margin == 1.0 { "revenue (margin 1: no costs deducted)".to_string() } else { format!("margin ({} of revenue)", o.ltv_margin) },
        o.ltv_horizon,
        o.btyd_time_unit,
        as_of.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(),
        if o.ltv_margin == 1.0 { String::new() } else { format!(" × margin {}", o.ltv_margin) },
        if o.ltv_discount_rate > 0.0 { format!(", discounted at {} per {}", o.ltv_discount_rate, o.btyd_time_unit) } else { ", undiscounted (discount rate 0)".to_string() },
        as_of.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(),
    ));
    s.para(&format!(
        "{}. The spend model is Gamma-Gamma, fitted on the customers with repeat purchases and a positive mean repeat spend; customers whose repeat purchases were all free are scored with the model's posterior mean spend for a zero average.",
        describe(&spend.json).lines().next().unwrap_or_default()
    ));
    let clv = f64s(&result, "clv")?;
    let scored = clv.iter().filter(|v| v.is_finite()).count();
    let total: f64 = clv.iter().filter(|v| v.is_finite()).sum();
    facts.clv = Some(summary::ClvFacts {
        total,
        customers: scored,
        horizon: o.ltv_horizon,
        unit: o.btyd_time_unit.to_string(),
        margin: o.ltv_margin,
        discount_rate: o.ltv_discount_rate,
    });
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
            "Predicted value of each customer over the next {} {}s after the report date (BG/NBD purchases × Gamma-Gamma spend{}{})",
            o.ltv_horizon,
            o.btyd_time_unit,
            if o.ltv_margin == 1.0 {
                String::new()
            } else {
                format!(" × margin {}", o.ltv_margin)
            },
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
        &format!(
            "The {} customers with the highest predicted CLV as of the report date (repeat purchases over all their history).",
            rows.len()
        ),
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
