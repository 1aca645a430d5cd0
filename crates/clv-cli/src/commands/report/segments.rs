//! The report's segment sections: value concentration, segments against the future, segment
//! migration (matrix and monthly series) and k-means clusters. Every number comes from a clv
//! table function (`value_concentration`, `segment_evaluate`, `segment_metrics`,
//! `rfm_transitions`, `segment_series`, `rfm_cluster_profiles`); this module shapes them.

use clv::common::dates::{format_date, parse_date};

use super::html::{Section, kpis};
use super::{Context, int, money, pct, svg};
use crate::columns::{f64s, i64s, strings};
use crate::commands::{Job, literal};
use crate::error::Result;

fn names(v: Vec<Option<String>>) -> Vec<String> {
    v.into_iter().map(|s| s.unwrap_or_else(|| "(new)".into())).collect()
}

/// The evaluation cutoff and window: the calibration end and the holdout when given, else the
/// last complete 90-day window before the data end (as the churn section).
pub fn evaluation_window(job: &Job, ctx: &Context) -> Option<(i32, i64)> {
    let o = crate::session::options(&job.ctx);
    match (o.btyd_calibration_end, o.btyd_holdout_end) {
        (Some(c), Some(h)) => Some((c, i64::from(h - c))),
        _ => ctx.as_of.map(|a| (a - 1 - 90, 90)),
    }
}

/// In place of the segment sections on a cluster: their functions run in one process (the panel
/// operator is not distributed).
pub fn not_on_a_cluster() -> Section {
    let mut s = Section::new("segments", "Segments against the future");
    s.note(
        "Value concentration, segment evaluation, migration and clusters run in one process (the panel \
         operator is not distributed by Ballista): run clv report without --cluster for these sections.",
    );
    s
}

/// The share of revenue from the top customers: the Lorenz curve and Gini coefficient.
pub async fn concentration(job: &Job, facts: &mut super::summary::Facts) -> Result<Section> {
    let mut s = Section::new("concentration", "Value concentration");
    let curve = job
        .sql(
            "value concentration",
            &format!("SELECT * FROM value_concentration({}) ORDER BY percent", job.source()),
        )
        .await?;
    let top = f64s(&curve, "top_share")?;
    let bottom = f64s(&curve, "bottom_share")?;
    if top.len() != 101 || i64s(&curve, "customers")?.first().copied().unwrap_or(0) == 0 {
        s.note("No customer has a purchase, so there is no value concentration.");
        return Ok(s);
    }
    let gini = f64s(&curve, "gini")?.first().copied().unwrap_or(f64::NAN);
    facts.top_shares = Some((top[10], top[20]));
    let reach = |share: f64| {
        top.iter()
            .position(|t| *t >= share - 1e-12)
            .map_or("–".to_string(), |p| format!("{p}%"))
    };
    s.body.push_str(&kpis(&[
        ("revenue of the top 1%", pct(top[1])),
        ("revenue of the top 10%", pct(top[10])),
        ("revenue of the top 20%", pct(top[20])),
        ("customers bringing 80%", reach(0.8)),
        ("Gini coefficient", format!("{gini:.3}")),
    ]));
    s.para(&format!(
        "Customers ranked by their monetary value as of the report date: the top {} of customers bring 60% of the revenue. A negative net value counts as 0 ({} customers).",
        reach(0.6),
        i64s(&curve, "clamped_customers")?.first().copied().unwrap_or(0)
    ));
    let points = |v: &[f64]| -> Vec<(f64, f64)> { v.iter().enumerate().map(|(p, y)| (p as f64, 100.0 * y)).collect() };
    let equality: Vec<(f64, f64)> = (0..=100).map(|p| (f64::from(p), f64::from(p))).collect();
    s.figure(
        svg::lines(
            "Lorenz curve of customer value",
            &[("Lorenz curve", points(&bottom)), ("equal spend", equality)],
            "% of customers, lowest value first",
            "% of revenue",
            true,
        ),
        &format!(
            "Lorenz curve: the share of revenue from the lowest-value p% of customers; the further below the diagonal, the more concentrated (Gini {gini:.3})."
        ),
    );
    Ok(s)
}

/// The report's segmentation evaluated against what its customers did next.
pub async fn evaluation(job: &Job, ctx: &Context) -> Result<Section> {
    let mut s = Section::new("segment-evaluation", "Segments against the future");
    let Some((cutoff, window)) = evaluation_window(job, ctx) else {
        s.note("No transactions, so no segment evaluation.");
        return Ok(s);
    };
    let o = crate::session::options(&job.ctx);
    let src = job.source();
    let c = literal(&format_date(cutoff));
    let per_segment = job
        .sql(
            "segment evaluation",
            &format!(
                "SELECT * FROM segment_evaluate({src}, {c}, {window}) ORDER BY revenue_per_customer DESC, segment"
            ),
        )
        .await?;
    let metrics = job
        .sql(
            "segment metrics",
            &format!("SELECT * FROM segment_metrics({src}, {c}, {window})"),
        )
        .await?;
    let baseline = job
        .sql(
            "baseline metrics",
            &format!("SELECT * FROM segment_metrics({src}, {c}, {window}, 'scheme=recency', 'bins=5', 'method=quantile', 'lookback_days=all')"),
        )
        .await?;
    let labels = names(strings(&per_segment, "segment")?);
    if labels.is_empty() {
        s.note("No customer had bought by the evaluation cutoff.");
        return Ok(s);
    }
    let first = |b: &[datafusion::arrow::array::RecordBatch], c: &str| -> Result<f64> {
        Ok(f64s(b, c)?.first().copied().unwrap_or(f64::NAN))
    };
    let f3 = |v: f64| if v.is_finite() { format!("{v:.3}") } else { "–".into() };
    s.body.push_str(&kpis(&[
        ("η² of future revenue", f3(first(&metrics, "eta2_revenue")?)),
        ("η² of repurchase", f3(first(&metrics, "eta2_repurchase")?)),
        ("baseline η² (recency alone)", f3(first(&baseline, "eta2_revenue")?)),
        (
            "best segment's revenue lift",
            format!("{:.2}×", first(&metrics, "best_lift")?),
        ),
    ]));
    s.para(&format!(
        "The {} segments as of {} (computed from the data up to then), scored on what their customers did in the next {window} days (复购率, 客单价, churn). η² is the share of the variance of future revenue per customer (or of repurchase) that the segments explain; the baseline is the recency score alone.",
        o.rfm_scheme,
        format_date(cutoff)
    ));
    let rate = f64s(&per_segment, "repurchase_rate")?;
    s.figure(
        svg::hbars(
            "Future repurchase rate by segment",
            &labels,
            &[("bought again", rate.clone())],
            pct,
        ),
        &format!(
            "Share of each segment's customers who bought again in the {window} days after {}.",
            format_date(cutoff)
        ),
    );
    let rpc = f64s(&per_segment, "revenue_per_customer")?;
    s.figure(
        svg::hbars(
            "Future revenue per customer by segment",
            &labels,
            &[("revenue per customer", rpc.clone())],
            money,
        ),
        "Revenue per customer of each segment in the window after the cutoff, refunds netted.",
    );
    let registry = clv::plan::rfm::RfmFunctions::from_session(&job.ctx.state()).schemes();
    let scheme = registry.get(&o.rfm_scheme).ok();
    let (n, share, churn, rshare, aov, lift) = (
        f64s(&per_segment, "customers")?,
        f64s(&per_segment, "customer_share")?,
        f64s(&per_segment, "churn_rate")?,
        f64s(&per_segment, "revenue_share")?,
        f64s(&per_segment, "aov")?,
        f64s(&per_segment, "lift")?,
    );
    let opt = |v: f64, f: fn(f64) -> String| if v.is_finite() { f(v) } else { "–".into() };
    let rows: Vec<Vec<String>> = (0..labels.len())
        .map(|i| {
            vec![
                labels[i].clone(),
                int(n[i] as u64),
                pct(share[i]),
                pct(rate[i]),
                opt(churn[i], pct),
                money(rpc[i]),
                opt(rshare[i], pct),
                opt(aov[i], money),
                opt(lift[i], |v| format!("{v:.2}")),
                scheme
                    .as_ref()
                    .and_then(|s| s.action(&labels[i]))
                    .unwrap_or("")
                    .to_string(),
            ]
        })
        .collect();
    s.table(
        "Per segment: customers at the cutoff, then in the window: repurchase and churn rate, revenue per customer, share of the window's revenue, average order value, lift over the population, and the scheme's suggested action.",
        &[
            "segment",
            "customers",
            "share",
            "repurchase",
            "churn",
            "revenue / customer",
            "revenue share",
            "AOV",
            "lift",
            "suggested action",
        ],
        &rows,
    );
    Ok(s)
}

/// How customers move between segments, and the segments over time.
pub async fn migration(job: &Job, ctx: &Context, from: Option<&str>, to: Option<&str>) -> Result<Section> {
    let mut s = Section::new("migration", "Segment migration");
    let src = job.source();
    let (from, to) = match (from, to, evaluation_window(job, ctx), ctx.as_of) {
        (Some(f), Some(t), _, _) => (parse_date(f, "--from")?, parse_date(t, "--to")?),
        (_, _, Some((c, _)), Some(a)) if a - 1 > c => (c, a - 1),
        _ => {
            s.note("Not enough history for segment migration.");
            return Ok(s);
        }
    };
    let (ft, tt) = (format_date(from), format_date(to));
    let moves = job
        .sql(
            "segment transitions",
            &format!(
                "SELECT * FROM rfm_transitions({src}, {}, {}) ORDER BY from_segment NULLS LAST, to_segment",
                literal(&ft),
                literal(&tt)
            ),
        )
        .await?;
    let (fs, ts) = (
        names(strings(&moves, "from_segment")?),
        names(strings(&moves, "to_segment")?),
    );
    let (n, revenue) = (f64s(&moves, "customers")?, f64s(&moves, "revenue")?);
    let order = |v: &[String]| -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for x in v {
            if !out.contains(x) {
                out.push(x.clone());
            }
        }
        out
    };
    let (rows, cols) = (order(&fs), order(&ts));
    let mut values = vec![vec![None; cols.len()]; rows.len()];
    let mut labels = vec![vec![String::new(); cols.len()]; rows.len()];
    for i in 0..n.len() {
        let (r, c) = (
            rows.iter().position(|x| *x == fs[i]).unwrap_or(0),
            cols.iter().position(|x| *x == ts[i]).unwrap_or(0),
        );
        values[r][c] = Some(n[i]);
        labels[r][c] = int(n[i] as u64);
    }
    let both: f64 = (0..n.len()).filter(|i| fs[*i] != "(new)").map(|i| n[i]).sum();
    let stayed: f64 = (0..n.len()).filter(|i| fs[*i] == ts[*i]).map(|i| n[i]).sum();
    s.body.push_str(&kpis(&[
        ("customers at both dates", int(both as u64)),
        (
            "kept their segment",
            pct(if both > 0.0 { stayed / both } else { f64::NAN }),
        ),
        ("new customers", int((n.iter().sum::<f64>() - both) as u64)),
        ("revenue in between", money(revenue.iter().sum())),
    ]));
    s.figure(
        svg::heatmap(
            "Segment transition matrix",
            &rows,
            &cols,
            &values,
            &labels,
            &format!("segment on {tt}"),
            &format!("segment on {ft}"),
            &svg::HeatmapStyle::default(),
        ),
        &format!("Customers by their segment on {ft} (rows; (new): first purchase after it) and on {tt} (columns)."),
    );
    let mut by_from: Vec<(String, f64, f64)> = rows.iter().map(|r| (r.clone(), 0.0, 0.0)).collect();
    for i in 0..n.len() {
        if let Some(e) = by_from.iter_mut().find(|e| e.0 == fs[i]) {
            e.1 += n[i];
            e.2 += revenue[i];
        }
    }
    let table: Vec<Vec<String>> = by_from
        .iter()
        .map(|(seg, c, r)| {
            vec![
                seg.clone(),
                int(*c as u64),
                money(*r),
                money(if *c > 0.0 { r / c } else { 0.0 }),
            ]
        })
        .collect();
    s.table(
        &format!("Revenue from {ft} to {tt} by the segment customers started in."),
        &[
            "segment on the first date",
            "customers",
            "revenue",
            "revenue / customer",
        ],
        &table,
    );
    let series = job
        .sql(
            "segment series",
            &format!("SELECT * FROM segment_series({src}) ORDER BY cutoff, segment"),
        )
        .await?;
    let cutoffs = strings(&series, "cutoff")?;
    let segs = names(strings(&series, "segment")?);
    let (customers, period_revenue) = (f64s(&series, "customers")?, f64s(&series, "period_revenue")?);
    let months: Vec<String> = order(
        &cutoffs
            .iter()
            .map(|c| c.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
    );
    let mut seg_names = order(&segs);
    seg_names.sort();
    let line = |values: &[f64]| -> Vec<(String, Vec<(f64, f64)>)> {
        seg_names
            .iter()
            .map(|seg| {
                let pts = (0..segs.len())
                    .filter(|i| segs[*i] == *seg)
                    .map(|i| {
                        let m = months.iter().position(|x| Some(x) == cutoffs[i].as_ref()).unwrap_or(0);
                        (m as f64, values[i])
                    })
                    .collect();
                (seg.clone(), pts)
            })
            .collect()
    };
    if months.len() >= 2 {
        let first_last = format!(
            "{} (0) to {} ({})",
            months[0],
            months[months.len() - 1],
            months.len() - 1
        );
        for (title, values, y, what) in [
            (
                "Segment sizes by month",
                &customers,
                "customers",
                "Customers in each segment at every month end",
            ),
            (
                "Segment revenue by month",
                &period_revenue,
                "revenue in the month",
                "Revenue each segment's customers brought in every month",
            ),
        ] {
            let lines = line(values);
            let refs: Vec<(&str, Vec<(f64, f64)>)> = lines.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
            s.figure(
                svg::lines(title, &refs, &format!("month end: {first_last}"), y, true),
                &format!("{what}, segments assigned as of each month end from the data up to it."),
            );
        }
    }
    Ok(s)
}

/// K-means clusters of the customers' RFM features: sizes, centroids and names.
pub async fn clusters(job: &Job) -> Result<Section> {
    let mut s = Section::new("clusters", "Clusters");
    let profiles = job
        .sql(
            "k-means clusters",
            &format!(
                "SELECT * FROM rfm_cluster_profiles({}) ORDER BY cluster_id",
                job.source()
            ),
        )
        .await?;
    let labels = names(strings(&profiles, "segment")?);
    if labels.is_empty() {
        s.note("No customer has a purchase, so there are no clusters.");
        return Ok(s);
    }
    let zh = names(strings(&profiles, "segment_zh")?);
    let o = crate::session::options(&job.ctx);
    let first = |c: &str| -> Result<f64> { Ok(f64s(&profiles, c)?.first().copied().unwrap_or(f64::NAN)) };
    s.body.push_str(&kpis(&[
        ("clusters", labels.len().to_string()),
        ("inertia", format!("{:.0}", first("inertia")?)),
        ("silhouette (2,000 customers)", format!("{:.3}", first("silhouette")?)),
    ]));
    s.para(&format!(
        "K-means (k = {}, seed {}, best of 10 k-means++ starts) on log1p(recency), ln(frequency) and log1p(monetary), each standardised; clusters are numbered by value (0 the most valuable) and named from their recency, frequency and spend levels.",
        o.kmeans_k, o.seed
    ));
    let (n, share, mm) = (
        f64s(&profiles, "customers")?,
        f64s(&profiles, "customer_share")?,
        f64s(&profiles, "mean_monetary")?,
    );
    let total: f64 = (0..n.len()).map(|i| n[i] * mm[i]).sum();
    let rshare: Vec<f64> = (0..n.len())
        .map(|i| if total != 0.0 { n[i] * mm[i] / total } else { 0.0 })
        .collect();
    s.figure(
        svg::hbars(
            "Clusters: share of customers and of revenue",
            &labels,
            &[("customers", share.clone()), ("revenue", rshare)],
            pct,
        ),
        "Each cluster's share of customers and of their total spend to date.",
    );
    let col = |c: &str| f64s(&profiles, c);
    let (cr, cf, cm, ar, af) = (
        col("centroid_recency_days")?,
        col("centroid_frequency")?,
        col("centroid_monetary")?,
        col("mean_recency_days")?,
        col("mean_frequency")?,
    );
    let rows: Vec<Vec<String>> = (0..labels.len())
        .map(|i| {
            vec![
                i.to_string(),
                labels[i].clone(),
                zh[i].clone(),
                int(n[i] as u64),
                pct(share[i]),
                format!("{:.0}", cr[i]),
                format!("{:.1}", cf[i]),
                money(cm[i]),
                format!("{:.0}", ar[i]),
                format!("{:.1}", af[i]),
                money(mm[i]),
            ]
        })
        .collect();
    s.table(
        "Cluster profiles: the centroid in raw units (the log transforms undone: a geometric-type mean) and the arithmetic means of the cluster's customers.",
        &[
            "cluster",
            "name",
            "名称",
            "customers",
            "share",
            "centroid recency (days)",
            "centroid frequency",
            "centroid monetary",
            "mean recency (days)",
            "mean frequency",
            "mean monetary",
        ],
        &rows,
    );
    Ok(s)
}
