//! Churn labels on CDNOW: label counts against plain SQL, features against `rfm()` at the
//! cutoff, leakage, BTYD features against `btyd_summary` (BG/NBD and Pareto/NBD, the latter
//! also against the Rust fit), `is_churned` against the label, `churn_evaluate` and
//! `churn_calibration` against independent plain-SQL computations, and partition/row-order
//! invariance of labels and evaluation.

mod common;

use common::*;
use datafusion::common::Result;

const LABELS: &str = "SELECT * FROM churn_labels('orders', '1997-06-30,1997-12-31', 90)";

/// Customers with a purchase on or before each cutoff, and how many of them bought in the
/// 90 days after it, in plain SQL (amounts are never negative in CDNOW; zero is a purchase).
const PLAIN_COUNTS: &str = "
WITH c(cutoff) AS (VALUES (DATE '1997-06-30'), (DATE '1997-12-31')),
     f AS (SELECT DISTINCT c.cutoff, o.customer_id FROM orders o JOIN c ON o.order_date <= c.cutoff),
     w AS (SELECT DISTINCT c.cutoff, o.customer_id FROM orders o JOIN c
           ON o.order_date > c.cutoff AND o.order_date <= c.cutoff + INTERVAL '90 days')
SELECT f.cutoff, count(*) AS customers, count(*) - count(w.customer_id) AS churned
FROM f LEFT JOIN w ON f.cutoff = w.cutoff AND f.customer_id = w.customer_id
GROUP BY f.cutoff ORDER BY f.cutoff";

#[tokio::test(flavor = "multi_thread")]
async fn label_counts_at_two_cutoffs_equal_plain_sql() -> Result<()> {
    let ctx = cdnow(4).await?;
    let ours = text(
        &ctx,
        &format!(
            "SELECT cutoff, count(*) AS customers, sum(CASE WHEN churned THEN 1 ELSE 0 END) AS churned
             FROM ({LABELS}) GROUP BY cutoff ORDER BY cutoff"
        ),
    )
    .await?;
    let plain = text(&ctx, PLAIN_COUNTS).await?;
    assert_eq!(ours, plain);
    // CDNOW's whole cohort bought in 1997-Q1, so both cutoffs hold all 23,570 customers.
    assert!(plain.contains("| 1997-06-30 | 23570     |"), "{plain}");
    assert_eq!(
        scalar_i64(
            &ctx,
            &format!("SELECT count(*) FROM ({LABELS}) WHERE censored OR churned IS NULL")
        )
        .await?,
        0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn features_and_scores_equal_rfm_as_of_each_cutoff() -> Result<()> {
    let ctx = cdnow(4).await?;
    for cutoff in ["1997-06-30", "1997-12-31"] {
        let columns = "customer_id, recency_days, frequency, monetary, tenure_days, r, f, m, rfm_cell, segment";
        let ours = text(
            &ctx,
            &format!("SELECT {columns} FROM ({LABELS}) WHERE cutoff = DATE '{cutoff}' ORDER BY customer_id"),
        )
        .await?;
        let rfm = text(
            &ctx,
            &format!("SELECT {columns} FROM rfm('orders', '{cutoff}') ORDER BY customer_id"),
        )
        .await?;
        assert_eq!(ours, rfm, "cutoff {cutoff}");
    }
    Ok(())
}

const FEATURES: &str = "cutoff, customer_id, recency_days, frequency, monetary, tenure_days, first_purchase, \
                        last_purchase, r, f, m, segment, x, t_x, t, p_alive, expected_purchases";

#[tokio::test(flavor = "multi_thread")]
async fn changing_transactions_after_the_cutoff_leaves_the_features_alone() -> Result<()> {
    let ctx = cdnow(4).await?;
    // After 1997-06-30: amounts tripled, every date moved 10 days later (out of the data
    // end too), some rows dropped and a burst of new purchases by customer 1 added.
    ctx.sql(
        "CREATE VIEW changed AS
         SELECT customer_id, order_date, amount FROM orders WHERE order_date <= DATE '1997-06-30'
         UNION ALL
         SELECT customer_id, order_date + INTERVAL '10 days', amount * 3 FROM orders
         WHERE order_date > DATE '1997-06-30' AND customer_id % 7 <> 0
         UNION ALL
         SELECT 1, DATE '1997-07-01' + CAST(n AS INT), 99.0 FROM generate_series(0, 30) AS s(n)",
    )
    .await?
    .collect()
    .await?;
    let features = |table: &str| {
        format!("SELECT {FEATURES} FROM churn_labels('{table}', '1997-06-30', 90, 'btyd=true') ORDER BY customer_id")
    };
    let (before, after) = (
        text(&ctx, &features("orders")).await?,
        text(&ctx, &features("changed")).await?,
    );
    assert_eq!(before, after);
    // The labels did see the change (customer 1 bought in the window).
    let churned =
        |table: &str| format!("SELECT churned FROM churn_labels('{table}', '1997-06-30', 90) WHERE customer_id = 1");
    assert_ne!(
        text(&ctx, &churned("orders")).await?,
        text(&ctx, &churned("changed")).await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn btyd_features_equal_the_btyd_summary_and_a_bgnbd_fit_at_the_cutoff() -> Result<()> {
    let ctx = cdnow(4).await?;
    let cutoff = "1997-09-30";
    let bad = scalar_i64(
        &ctx,
        &format!(
            "WITH s AS (SELECT * FROM btyd_summary('orders', 'calibration_end={cutoff}')),
                  m AS (SELECT bgnbd_fit(x, t_x, t) AS model FROM s),
                  ref AS (SELECT s.customer_id, s.x, s.t_x, s.t, p_alive(m.model, s.x, s.t_x, s.t) AS p,
                                 expected_purchases(m.model, 90.0 / 7, s.x, s.t_x, s.t) AS e,
                                 churn_probability(m.model, 90.0 / 7, s.x, s.t_x, s.t) AS none
                          FROM s CROSS JOIN m)
             SELECT count(*) FROM churn_labels('orders', '{cutoff}', 90, 'btyd=true') c
             FULL JOIN ref ON c.customer_id = ref.customer_id
             WHERE c.customer_id IS NULL OR ref.customer_id IS NULL OR c.x <> ref.x
                OR abs(c.t_x - ref.t_x) > 1e-12 OR abs(c.t - ref.t) > 1e-12
                OR abs(c.p_alive - ref.p) > 1e-9 OR abs(c.dropout_probability - (1 - ref.p)) > 1e-9
                OR abs(c.churn_probability - ref.none) > 1e-9 OR abs(c.expected_purchases - ref.e) > 1e-9"
        ),
    )
    .await?;
    assert_eq!(bad, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn same_labels_whatever_the_partitioning_and_row_order() -> Result<()> {
    let sql = format!(
        "SELECT {FEATURES}, censored, churned FROM churn_labels('orders', 'cutoffs=1997-04-01..1997-12-31', 90, 'btyd=true', 'every=quarter')
         ORDER BY cutoff, customer_id"
    );
    let one = text(&cdnow(1).await?, &sql).await?;
    let ctx = cdnow(3).await?;
    ctx.sql("CREATE TABLE shuffled AS SELECT * FROM orders ORDER BY (customer_id * 7919 + CAST(amount * 100 AS BIGINT)) % 1009 DESC")
        .await?
        .collect()
        .await?;
    let many = text(&ctx, &sql).await?;
    let shuffled = text(&ctx, &sql.replace("'orders'", "'shuffled'")).await?;
    assert_eq!(one, many);
    assert_eq!(one, shuffled);
    Ok(())
}

/// Per decile of `score` (customers ordered by score, ten groups of ⌊n/10⌋ + 1 for the first
/// n mod 10 and ⌊n/10⌋ for the rest), the mean score and the expected churn rate when tied
/// customers are in random order (each position of a tie group holds a churner with the group's
/// churn rate), and the expected share of churners in the top 10 % / 20 % of positions, in
/// plain SQL over `l(score, churned)`.
const DECILES_IN_SQL: &str = "
     p AS (SELECT score, CAST(churned AS DOUBLE) AS y,
                  CAST(row_number() OVER (ORDER BY score, customer_id) AS BIGINT) - 1 AS k,
                  count(*) OVER () AS n,
                  avg(CAST(churned AS DOUBLE)) OVER (PARTITION BY score) AS tie_rate FROM l),
     d AS (SELECT *, CASE WHEN k < (n % 10) * (n / 10 + 1) THEN k / (n / 10 + 1)
                          ELSE n % 10 + (k - (n % 10) * (n / 10 + 1)) / (n / 10) END + 1 AS decile FROM p)";

#[tokio::test(flavor = "multi_thread")]
async fn churn_evaluate_and_calibration_equal_independent_computations() -> Result<()> {
    let ctx = cdnow(4).await?;
    let args = "'orders', '1997-09-30', 90";
    query(
        &ctx,
        &format!("CREATE TABLE labels AS SELECT * FROM churn_labels({args}, 'btyd=true') WHERE churned IS NOT NULL"),
    )
    .await?;
    query(
        &ctx,
        &format!("CREATE TABLE evaluation AS SELECT * FROM churn_evaluate({args})"),
    )
    .await?;
    query(
        &ctx,
        &format!("CREATE TABLE calibration AS SELECT * FROM churn_calibration({args})"),
    )
    .await?;
    // Three of the scores, taken from churn_labels instead: BG/NBD's window probability
    // (churn_probability), 1 − P(alive) and days since the last purchase (heavily tied).
    for (score, column) in [
        ("window_probability", "churn_probability"),
        ("dropout_probability", "dropout_probability"),
        ("recency_days", "CAST(recency_days AS DOUBLE)"),
    ] {
        let l = format!("l AS (SELECT customer_id, {column} AS score, churned FROM labels)");
        // AUC from average ranks (Mann–Whitney); Brier score as a plain mean.
        let reference = text(
            &ctx,
            &format!(
                "WITH {l},
                  r AS (SELECT churned AS c, rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS ar FROM l),
                  n AS (SELECT CAST(sum(CASE WHEN c THEN 1 ELSE 0 END) AS DOUBLE) AS p, CAST(sum(CASE WHEN c THEN 0 ELSE 1 END) AS DOUBLE) AS q FROM r)
             SELECT round((sum(CASE WHEN c THEN ar ELSE 0 END) - max(p) * (max(p) + 1) / 2) / (max(p) * max(q)), 12) AS auc,
                    (SELECT CASE WHEN min(score) >= 0 AND max(score) <= 1
                            THEN round(avg((score - CAST(churned AS DOUBLE)) * (score - CAST(churned AS DOUBLE))), 12) END FROM l) AS brier
             FROM r CROSS JOIN n"
            ),
        )
        .await?;
        let ours = text(
            &ctx,
            &format!("SELECT round(auc, 12) AS auc, round(brier, 12) AS brier FROM evaluation WHERE score = '{score}'"),
        )
        .await?;
        assert_eq!(ours, reference, "{score}");
        // Deciles, lift and gain with ties shared, in plain SQL.
        let bad = scalar_i64(
            &ctx,
            &format!(
                "WITH {l}, {DECILES_IN_SQL},
                  ref AS (SELECT decile, count(*) AS customers, avg(score) AS mean, avg(tie_rate) AS observed FROM d GROUP BY decile),
                  top AS (SELECT sum(CASE WHEN k >= n - n / 10 THEN tie_rate END) / sum(y) AS gain_10,
                                 sum(CASE WHEN k >= n - n / 5 THEN tie_rate END) / sum(y) AS gain_20 FROM d)
             SELECT (SELECT count(*) FROM calibration c FULL JOIN ref ON c.decile = ref.decile AND c.score = '{score}'
                     WHERE c.score = '{score}' AND (ref.decile IS NULL OR c.customers <> ref.customers
                        OR abs(c.mean_score - ref.mean) > 1e-9 * (1 + abs(ref.mean)) OR abs(c.observed_churn - ref.observed) > 1e-12))
                  + (SELECT count(*) FROM evaluation e CROSS JOIN top WHERE e.score = '{score}'
                     AND (abs(e.gain_10 - top.gain_10) > 1e-12 OR abs(e.gain_20 - top.gain_20) > 1e-12
                          OR abs(e.lift_10 - 10 * top.gain_10) > 1e-11 OR abs(e.lift_20 - 5 * top.gain_20) > 1e-11))
                  + 10 - (SELECT count(*) FROM calibration WHERE score = '{score}')"
            ),
        )
        .await?;
        assert_eq!(bad, 0, "{score}");
    }
    // 1 − P(alive) ranks CDNOW's churners *worse* than chance (AUC 0.333): BG/NBD gives every
    // one-time buyer P(alive) = 1, and they are most of those who do not come back (see the guide).
    // (To 6 decimals: the last digits follow the fit's last bits, which are converged to the
    // optimiser's tolerance, not beyond.)
    let auc = text(
        &ctx,
        "SELECT round(auc, 7) AS auc FROM evaluation WHERE score = 'dropout_probability'",
    )
    .await?;
    assert!(auc.contains("| 0.3334206"), "{auc}");
    // churn_auc over the labels agrees with the evaluation.
    let a = text(
        &ctx,
        "SELECT round(churn_auc(dropout_probability, churned), 12) AS auc FROM labels",
    )
    .await?;
    let b = text(
        &ctx,
        "SELECT round(auc, 12) AS auc FROM evaluation WHERE score = 'dropout_probability'",
    )
    .await?;
    assert_eq!(a, b);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_builder_equals_sql() -> Result<()> {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    let ctx = cdnow(2).await?;
    let labels = clv_core::ChurnLabels::new()
        .cutoffs("1997-04-01..1997-06-30")
        .window_days(60)
        .option("bins", "4")
        .option("scheme", "none")
        .dataframe(&ctx, "orders")
        .await?
        .sort_by(vec![
            datafusion::prelude::col("cutoff"),
            datafusion::prelude::col("customer_id"),
        ])?
        .collect()
        .await?;
    let sql = text(
        &ctx,
        "SELECT * FROM churn_labels('orders', '1997-04-01..1997-06-30', 60, 'bins=4', 'scheme=none') ORDER BY cutoff, customer_id",
    )
    .await?;
    assert_eq!(pretty_format_batches(&labels)?.to_string(), sql);
    assert!(sql.contains("| 1997-04-30 |") && sql.contains("| 1997-06-30 |"));
    Ok(())
}

/// The columns of a query as `f64` vectors (NULL as NaN).
async fn columns_f64(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Result<Vec<Vec<f64>>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let batches = query(ctx, sql).await?;
    let width = batches.first().map_or(0, |b| b.num_columns());
    let mut out = vec![vec![]; width];
    for b in &batches {
        for (i, c) in b.columns().iter().enumerate() {
            let c = datafusion::arrow::compute::cast(c, &DataType::Float64)?;
            out[i].extend(c.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(f64::NAN)));
        }
    }
    Ok(out)
}

/// `1 − P(alive)` of a Pareto/NBD fitted in Rust (`clv_core::ltv`) on `(x, t_x, t)` in weeks,
/// for every row, and the fitted parameters.
fn rust_pareto_churn(x: &[f64], t_x: &[f64], t: &[f64]) -> (Vec<f64>, clv_core::ltv::ParetoNbdParams) {
    use clv_core::ltv::{ParetoNbd, TimeUnit, TransactionSummary};
    let data = TransactionSummary::new(x.to_vec(), t_x.to_vec(), t.to_vec(), TimeUnit::Week).unwrap();
    let m = ParetoNbd::new().fit(&data).unwrap();
    assert!(m.fit_report().unwrap().converged);
    let churn = (0..x.len())
        .map(|i| 1.0 - m.p_alive(x[i], t_x[i], t[i]).unwrap())
        .collect();
    (churn, m.params())
}

/// Largest absolute difference, failing on a length mismatch or a NaN.
fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(p, q)| {
            assert!(p.is_finite() && q.is_finite(), "{p} vs {q}");
            (p - q).abs()
        })
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread")]
async fn pareto_nbd_dropout_probability_in_sql_equals_the_rust_fit() -> Result<()> {
    let ctx = context(4)?;
    ctx.register_csv(
        "summary",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample_summary.csv"),
        datafusion::prelude::CsvReadOptions::new(),
    )
    .await?;
    let cols = columns_f64(
        &ctx,
        "WITH m AS (SELECT pareto_nbd_fit(frequency, recency, \"T\") AS model FROM summary)
         SELECT frequency, recency, \"T\", dropout_probability(m.model, frequency, recency, \"T\"),
                get_field(m.model, 'r'), get_field(m.model, 'alpha'), get_field(m.model, 's'), get_field(m.model, 'beta')
         FROM summary CROSS JOIN m ORDER BY \"ID\"",
    )
    .await?;
    let (x, t_x, t, sql) = (&cols[0], &cols[1], &cols[2], &cols[3]);
    assert_eq!(x.len(), 2357);
    let (rust, p) = rust_pareto_churn(x, t_x, t);
    // The published estimate (Fader & Hardie): r 0.5533, α 10.5776, s 0.6062, β 11.6679.
    assert!((p.r - 0.5533).abs() < 1e-4 && (p.beta - 11.6679).abs() < 1e-3, "{p:?}");
    let sql_params = [cols[4][0], cols[5][0], cols[6][0], cols[7][0]];
    let rust_params = [p.r, p.alpha, p.s, p.beta];
    for (a, b) in sql_params.iter().zip(rust_params) {
        assert!(
            (a - b).abs() <= 1e-9 * b,
            "SQL fit {sql_params:?} vs Rust {rust_params:?}"
        );
    }
    let diff = max_abs_diff(sql, &rust);
    assert!(diff <= 1e-9, "max |SQL − Rust| churn probability {diff}");
    // Not a degenerate score: Pareto/NBD, unlike BG/NBD, gives one-time buyers a churn
    // probability above 0, and some customers are more likely gone than not.
    let one_time = (0..x.len()).filter(|&i| x[i] == 0.0);
    assert!(one_time.clone().all(|i| rust[i] > 0.0));
    assert!(rust.iter().any(|&c| c > 0.5));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn churn_labels_with_pareto_nbd_equal_a_pareto_fit_on_the_btyd_summary_at_the_cutoff() -> Result<()> {
    let ctx = cdnow(4).await?;
    let cutoff = "1997-09-30";
    let labels = format!("churn_labels('orders', '{cutoff}', 90, 'btyd=true', 'model=pareto_nbd')");
    // In SQL, independently of churn_labels' plan: btyd_summary at the cutoff, a Pareto/NBD fit
    // over it, and 1 − P(alive).
    let bad = scalar_i64(
        &ctx,
        &format!(
            "WITH s AS (SELECT * FROM btyd_summary('orders', 'calibration_end={cutoff}')),
                  m AS (SELECT pareto_nbd_fit(x, t_x, t) AS model FROM s),
                  ref AS (SELECT s.customer_id, s.x, s.t_x, s.t, p_alive(m.model, s.x, s.t_x, s.t) AS p
                          FROM s CROSS JOIN m)
             SELECT count(*) FROM {labels} c FULL JOIN ref ON c.customer_id = ref.customer_id
             WHERE c.customer_id IS NULL OR ref.customer_id IS NULL OR c.x <> ref.x
                OR abs(c.t_x - ref.t_x) > 1e-12 OR abs(c.t - ref.t) > 1e-12
                OR abs(c.p_alive - ref.p) > 1e-9 OR abs(c.dropout_probability - (1 - ref.p)) > 1e-9"
        ),
    )
    .await?;
    assert_eq!(bad, 0);
    // And against the Rust model fitted on the same summary.
    let cols = columns_f64(
        &ctx,
        &format!("SELECT x, t_x, t, dropout_probability FROM {labels} ORDER BY customer_id"),
    )
    .await?;
    assert_eq!(cols[0].len(), 23_570);
    let (rust, _) = rust_pareto_churn(&cols[0], &cols[1], &cols[2]);
    let diff = max_abs_diff(&cols[3], &rust);
    assert!(diff <= 1e-9, "max |churn_labels − Rust| churn probability {diff}");
    // The option took effect: under BG/NBD every one-time buyer has dropout probability 0.
    let one_time_positive = |model: &str| {
        format!(
            "SELECT count(*) FROM churn_labels('orders', '{cutoff}', 90, 'btyd=true', 'model={model}') WHERE x = 0 AND dropout_probability > 0"
        )
    };
    assert_eq!(scalar_i64(&ctx, &one_time_positive("bg_nbd")).await?, 0);
    assert!(scalar_i64(&ctx, &one_time_positive("pareto_nbd")).await? > 10_000);
    Ok(())
}

/// `orders` in another row order, as table `shuffled`.
const SHUFFLE: &str = "CREATE TABLE shuffled AS SELECT * FROM orders
                       ORDER BY (customer_id * 7919 + CAST(amount * 100 AS BIGINT)) % 1009 DESC, order_date DESC";

#[tokio::test(flavor = "multi_thread")]
async fn same_evaluation_whatever_the_partitioning_and_row_order() -> Result<()> {
    // Two scoring cutoffs (two trained models in one plan), every score and figure.
    let sql = "SELECT * FROM churn_evaluate('orders', '1997-06-30,1997-09-30', 90) ORDER BY cutoff, score";
    let one = text(&cdnow(1).await?, sql).await?;
    let ctx = cdnow(8).await?;
    query(&ctx, SHUFFLE).await?;
    let many = text(&ctx, sql).await?;
    let shuffled = text(&ctx, &sql.replace("'orders'", "'shuffled'")).await?;
    // Bit for bit.
    assert_eq!(one, many);
    assert_eq!(one, shuffled);
    assert_eq!(one.lines().filter(|l| l.starts_with("| 1997-")).count(), 14);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn is_churned_at_the_window_end_agrees_with_the_label() -> Result<()> {
    // is_churned(last purchase on or before c + w, c + w, w) ⇔ c + w − last ≥ w ⇔ last ≤ c
    // ⇔ no purchase in (c, c + w]: the churn_labels label, for every non-censored customer.
    // (CDNOW has no refunds: every row is a purchase.)
    let ctx = cdnow(4).await?;
    for (cutoff, w) in [("1997-03-31", 30), ("1997-06-30", 90), ("1997-12-31", 180)] {
        let bad = scalar_i64(
            &ctx,
            &format!(
                "WITH l AS (SELECT customer_id, churned FROM churn_labels('orders', '{cutoff}', {w}) WHERE NOT censored),
                      last AS (SELECT customer_id, max(order_date) AS last_purchase FROM orders
                               WHERE order_date <= DATE '{cutoff}' + INTERVAL '{w} days' GROUP BY customer_id),
                      r AS (SELECT l.customer_id, l.churned,
                                   is_churned(last.last_purchase, DATE '{cutoff}' + INTERVAL '{w} days', {w}) AS rule
                            FROM l LEFT JOIN last ON l.customer_id = last.customer_id)
                 SELECT count(*) + (SELECT count(*) FROM l) - 23570 FROM r WHERE rule IS DISTINCT FROM churned"
            ),
        )
        .await?;
        assert_eq!(bad, 0, "cutoff {cutoff}, window {w}");
        // Both outcomes occur.
        let churned = scalar_i64(
            &ctx,
            &format!("SELECT sum(CASE WHEN churned THEN 1 ELSE 0 END) FROM churn_labels('orders', '{cutoff}', {w})"),
        )
        .await?;
        assert!(churned > 0 && churned < 23_570, "{cutoff}: {churned}");
    }
    Ok(())
}
