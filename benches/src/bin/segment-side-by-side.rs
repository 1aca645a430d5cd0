//! Times the segment evaluation and tuning workloads of issue 18 against one `rfm()` and
//! against the same evaluation in plain DataFusion SQL, on the same Parquet file, in one
//! process, alternating runs (median of N after a warm-up each).
//!
//! `segment-side-by-side FILE [--runs 3] [--partitions N]` (the file from `clv-gen`, dates
//! 2023-01-01 to 2024-12-31); `segment-side-by-side --duckdb-grid FILE.sql` writes the DuckDB
//! SQL of the rule-based tuning grid (its scheme CASE expressions generated from the scheme
//! registry) for `benches/segment_duckdb.py`.

use clap::Parser;
use clv_benches::timing::{median, time_query};
use datafusion::common::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

#[derive(Parser)]
struct Args {
    /// Transactions (Parquet) with customer_id, order_date, amount.
    file: Option<String>,
    /// Timed runs per variant (after one warm-up each).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Target partitions (default: the number of cores).
    #[arg(long)]
    partitions: Option<usize>,
    /// Write the DuckDB label expressions of grid A to this file and exit.
    #[arg(long)]
    duckdb_grid: Option<String>,
    /// Only the workloads whose name contains this text.
    #[arg(long)]
    only: Option<String>,
}

/// The 12 month ends from July 2023 to June 2024 (their 90-day windows end by 2024-09-28).
const CUTOFFS_12: &str = "2023-07-01..2024-06-30";
/// The 6 month ends from January to June 2024.
const CUTOFFS_6: &str = "2024-01-01..2024-06-30";

/// Grid A: 40 rule-based configurations (5 named schemes × 2 methods; cell, total and recency
/// × 5 bins × 2 methods), all history.
pub const GRID_A: &str = "'schemes=rf_grid,rfm11,rfm3_en,tiers_en,cn8_en,cell,total,recency', 'bins=3,4,5,6,7', 'methods=quantile,ntile', 'lookback_days=all'";
/// Grid B: 40 configurations mixing schemes, bins, methods, lookback windows and k-means
/// (rf_grid, rfm11, tiers_en × 2 methods; cell × 2 bins × 2 methods; kmeans k = 4, 6, 8; each
/// with 3 lookback windows; plus the baseline).
pub const GRID_B: &str = "'schemes=rf_grid,rfm11,tiers_en,cell,kmeans', 'bins=4,5', 'methods=quantile,ntile', 'lookback_days=all,180,365', 'k=4,6,8'";

/// The same evaluation as `segment_evaluate(tx, 12 month ends, 90, rf_grid)` in plain SQL:
/// per cutoff and customer the summary as of the cutoff and the window's orders and revenue,
/// three NTILE(5) scores within the cutoff, the rf_grid CASE, then per cutoff and segment the
/// counts, rates, revenue, shares, AOV and lift.
const PLAIN_EVALUATE: &str = "
WITH c AS (SELECT CAST(d AS DATE) AS cutoff FROM (VALUES ('2023-07-31'), ('2023-08-31'), ('2023-09-30'), ('2023-10-31'),
             ('2023-11-30'), ('2023-12-31'), ('2024-01-31'), ('2024-02-29'), ('2024-03-31'), ('2024-04-30'),
             ('2024-05-31'), ('2024-06-30')) AS t(d)),
     j AS (SELECT c.cutoff, b.customer_id, b.order_date, b.amount FROM tx b JOIN c ON b.order_date <= c.cutoff + INTERVAL '90 days'),
     s AS (SELECT cutoff, customer_id,
                  max(order_date) FILTER (WHERE order_date <= cutoff) AS last_d,
                  count(*) FILTER (WHERE order_date <= cutoff) AS frequency,
                  sum(amount) FILTER (WHERE order_date <= cutoff) AS monetary,
                  count(*) FILTER (WHERE order_date > cutoff) AS orders,
                  coalesce(sum(amount) FILTER (WHERE order_date > cutoff), 0) AS revenue
           FROM j GROUP BY cutoff, customer_id),
     sc AS (SELECT cutoff, customer_id, orders, revenue,
                   ntile(5) OVER (PARTITION BY cutoff ORDER BY cutoff - last_d DESC, customer_id) AS r,
                   ntile(5) OVER (PARTITION BY cutoff ORDER BY frequency, customer_id) AS f
            FROM s WHERE frequency > 0),
     seg AS (SELECT cutoff, orders, revenue,
               CASE WHEN r = 5 AND f >= 4 THEN 'champions' WHEN r IN (3, 4) AND f >= 4 THEN 'loyal_customers'
                    WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalists' WHEN r = 5 AND f = 1 THEN 'new_customers'
                    WHEN r = 4 AND f = 1 THEN 'promising' WHEN r = 3 AND f = 3 THEN 'need_attention'
                    WHEN r = 3 AND f <= 2 THEN 'about_to_sleep' WHEN r <= 2 AND f IN (3, 4) THEN 'at_risk'
                    WHEN r <= 2 AND f = 5 THEN 'cant_lose' ELSE 'hibernating' END AS segment
             FROM sc),
     t AS (SELECT cutoff, count(*) AS n, sum(revenue) AS rev FROM seg GROUP BY cutoff)
SELECT seg.cutoff, segment, count(*) AS customers, count(*) * 1.0 / max(t.n) AS customer_share,
       sum(CASE WHEN orders > 0 THEN 1 ELSE 0 END) AS repurchasers,
       avg(CASE WHEN orders > 0 THEN 1.0 ELSE 0.0 END) AS repurchase_rate,
       sum(orders) AS future_orders, sum(revenue) AS future_revenue, avg(revenue) AS revenue_per_customer,
       sum(revenue) / max(t.rev) AS revenue_share, sum(revenue) / sum(orders) AS aov,
       avg(revenue) / (max(t.rev) / max(t.n)) AS lift
FROM seg JOIN t ON seg.cutoff = t.cutoff GROUP BY seg.cutoff, segment";

/// The DuckDB label expression of every configuration of grid A: `(name, bins, label SQL)`
/// over the scores `r`, `f`, `m`, the named schemes' CASE generated from their rules.
fn duckdb_grid() -> Result<String> {
    let registry = clv::SchemeRegistry::new();
    let mut out = String::new();
    let range = |col: &str, r: Option<[u8; 2]>| r.map(|[lo, hi]| format!("{col} BETWEEN {lo} AND {hi}"));
    for name in ["rf_grid", "rfm11", "rfm3_en", "tiers_en", "cn8_en"] {
        let s = registry.get(name)?;
        let d = s.definition();
        let mut case = String::from("CASE");
        for rule in &d.rules {
            let mut conds: Vec<String> = [
                range("r", rule.r),
                range("f", rule.f),
                range("m", rule.m),
                range("(r + f + m)", rule.total),
            ]
            .into_iter()
            .flatten()
            .collect();
            if let Some([lo, hi]) = rule.fm {
                conds.push(format!("(f + m) / 2.0 BETWEEN {lo} AND {hi}"));
            }
            if let (Some([lo, hi]), Some(w)) = (rule.weighted, d.weights) {
                conds.push(format!(
                    "round({} * r + {} * f + {} * m, 6) BETWEEN {lo} AND {hi}",
                    w[0], w[1], w[2]
                ));
            }
            let cond = if conds.is_empty() {
                "TRUE".to_string()
            } else {
                conds.join(" AND ")
            };
            case.push_str(&format!(" WHEN {cond} THEN '{}'", rule.label.replace('\'', "''")));
        }
        let default = d.default.clone().unwrap_or_else(|| "none".into());
        case.push_str(&format!(" ELSE '{}' END", default.replace('\'', "''")));
        for method in ["quantile", "ntile"] {
            out.push_str(&format!("{name} {method}\t{}\t{case}\n", s.levels()));
        }
    }
    for (name, label) in [
        ("cell", "CAST(r AS VARCHAR) || CAST(f AS VARCHAR) || CAST(m AS VARCHAR)"),
        ("total", "CAST(r + f + m AS VARCHAR)"),
        ("recency", "'R' || CAST(r AS VARCHAR)"),
    ] {
        for bins in 3..=7 {
            for method in ["quantile", "ntile"] {
                out.push_str(&format!("{name} {method} x{bins}\t{bins}\t{label}\n"));
            }
        }
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.duckdb_grid {
        std::fs::write(path, duckdb_grid()?)?;
        return Ok(());
    }
    let Some(file) = &args.file else {
        eprintln!("usage: segment-side-by-side FILE [--runs N] | --duckdb-grid OUT");
        std::process::exit(2);
    };
    let mut config = SessionConfig::new();
    if let Some(p) = args.partitions {
        config = config.with_target_partitions(p);
    }
    let ctx = SessionContext::new_with_config(config);
    clv::register_all(&ctx)?;
    ctx.register_parquet("tx", file, Default::default()).await?;
    let rfm = "SELECT customer_id, recency_days, frequency, monetary, r, f, m, segment FROM rfm('tx')".to_string();
    let evaluate = format!("SELECT * FROM segment_evaluate('tx', '{CUTOFFS_12}', 90)");
    let evaluate_ntile = format!("SELECT * FROM segment_evaluate('tx', '{CUTOFFS_12}', 90, 'method=ntile')");
    let metrics = format!("SELECT * FROM segment_metrics('tx', '{CUTOFFS_12}', 90)");
    let tune_a = format!("SELECT * FROM segment_tune('tx', '{CUTOFFS_6}', 90, {GRID_A})");
    let tune_b = format!("SELECT * FROM segment_tune('tx', '{CUTOFFS_6}', 90, {GRID_B})");
    let workloads: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "evaluate one segmentation (rf_grid) at 12 monthly cutoffs, 90-day window",
            vec![
                ("clv rfm(), one as-of date (the reference)", rfm.as_str()),
                ("clv segment_evaluate, 12 cutoffs (quantile)", evaluate.as_str()),
                ("clv segment_evaluate, 12 cutoffs (ntile)", evaluate_ntile.as_str()),
                (
                    "clv segment_metrics, 12 cutoffs (η², lift, stability)",
                    metrics.as_str(),
                ),
                (
                    "plain DataFusion SQL, 12 cutoffs (NTILE + CASE + GROUP BY)",
                    PLAIN_EVALUATE,
                ),
            ],
        ),
        (
            "tune 40 rule-based configurations × 6 cutoffs",
            vec![("clv segment_tune, grid A", tune_a.as_str())],
        ),
        (
            "tune 40 configurations incl. k-means and lookbacks × 6 cutoffs",
            vec![("clv segment_tune, grid B", tune_b.as_str())],
        ),
    ];
    println!(
        "| workload | variant | rows out | median s ({} runs) | ratio to the first |",
        args.runs
    );
    println!("|---|---|---|---|---|");
    for (name, variants) in workloads {
        if args.only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let mut rows = vec![];
        for (_, sql) in &variants {
            rows.push(time_query(&ctx, sql).await?.1); // warm-up
        }
        let mut times = vec![vec![]; variants.len()];
        for _ in 0..args.runs {
            for (i, (_, sql)) in variants.iter().enumerate() {
                times[i].push(time_query(&ctx, sql).await?.0);
            }
        }
        let medians: Vec<f64> = times.into_iter().map(median).collect();
        for (i, (variant, _)) in variants.iter().enumerate() {
            println!(
                "| {name} | {variant} | {} | {:.3} | {:.2} |",
                rows[i],
                medians[i],
                medians[i] / medians[0]
            );
        }
    }
    Ok(())
}
