//! The report section: RFM segments and the R × F heat map.

use super::*;
use crate::commands::exact;

pub(super) async fn rfm(job: &Job, facts: &mut summary::Facts) -> Result<Section> {
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
    let registry = clv::plan::rfm::RfmFunctions::from_session(&job.ctx.state()).schemes();
    let scheme = registry.get(&options.rfm_scheme).ok();
    let levels = options
        .rfm_bins
        .or(scheme.as_ref().map(|s| s.definition().levels))
        .unwrap_or(5);
    s.para(&format!(
        "Scores 1 (worst) to {levels} (best) for recency, frequency and monetary value as of the report date; segments by the {} scheme.",
        options.rfm_scheme
    ));
    let segments = job
        .sql_results(
            "RFM segments",
            &format!(
                "SELECT segment, count(*) AS customers, {} AS revenue FROM rfm_result
                 WHERE segment IS NOT NULL GROUP BY segment ORDER BY customers DESC, segment",
                exact("sum", "monetary")
            ),
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
        facts.segments = (0..names.len())
            .map(|i| summary::SegmentFacts {
                name: names[i].clone(),
                customers: customers[i],
                revenue: revenue[i],
                action: scheme.as_ref().and_then(|s| s.action(&names[i])).map(str::to_string),
            })
            .collect();
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
            &format!(
                "SELECT r, f, count(*) AS customers, {} AS avg_monetary FROM rfm_result GROUP BY r, f",
                exact("avg", "monetary")
            ),
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
        svg::heatmap("R × F heat map", &rows, &cols, &values, &labels, "frequency score", "recency score", &svg::HeatmapStyle::default()),
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
    // max and min, not clamp: a NaN quantile (no finite value) becomes 1.
    #[allow(clippy::manual_clamp)]
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
