//! `rfm_transitions`, `segment_series` and `value_concentration` on the CDNOW master file
//! against plain SQL over `rfm()` and the transactions.

mod common;

use datafusion::common::Result;

/// The transition matrix equals plain SQL: `rfm()` at both dates, joined on the customer, with
/// the revenue in between; the customers with a `from_segment` are those present at both dates.
#[tokio::test(flavor = "multi_thread")]
async fn transitions_equal_plain_sql() -> Result<()> {
    let ctx = common::cdnow(3).await?;
    for extra in ["", ", 'scheme=rfm11'", ", 'scheme=tiers_en', 'lookback_days=180'"] {
        let clv = common::text(
            &ctx,
            &format!(
                "SELECT from_segment, to_segment, customers, round(revenue, 6) AS revenue
                 FROM rfm_transitions('orders', '1997-09-30', '1998-03-31'{extra})
                 ORDER BY from_segment NULLS LAST, to_segment"
            ),
        )
        .await?;
        let sql = common::text(
            &ctx,
            &format!(
                "WITH a AS (SELECT customer_id, segment FROM rfm('orders', '1997-09-30'{extra})),
                      b AS (SELECT customer_id, segment FROM rfm('orders', '1998-03-31'{extra})),
                      r AS (SELECT customer_id, sum(amount) AS rev FROM orders
                            WHERE order_date > DATE '1997-09-30' AND order_date <= DATE '1998-03-31' GROUP BY customer_id)
                 SELECT a.segment AS from_segment, b.segment AS to_segment, count(*) AS customers,
                        round(coalesce(sum(r.rev), 0.0), 6) AS revenue
                 FROM b LEFT JOIN a ON a.customer_id = b.customer_id LEFT JOIN r ON r.customer_id = b.customer_id
                 GROUP BY a.segment, b.segment ORDER BY from_segment NULLS LAST, to_segment"
            ),
        )
        .await?;
        assert_eq!(clv, sql, "{extra}");
        let both = common::scalar_i64(
            &ctx,
            &format!(
                "SELECT sum(customers) FROM rfm_transitions('orders', '1997-09-30', '1998-03-31'{extra}) WHERE from_segment IS NOT NULL"
            ),
        )
        .await?;
        let present = common::scalar_i64(
            &ctx,
            &format!(
                "SELECT count(*) FROM rfm('orders', '1997-09-30'{extra}) a JOIN rfm('orders', '1998-03-31'{extra}) b
                 ON a.customer_id = b.customer_id"
            ),
        )
        .await?;
        assert_eq!(both, present, "{extra}");
    }
    let e = ctx
        .sql("SELECT * FROM rfm_transitions('orders', '1998-03-31', '1997-09-30')")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("to_date must be after from_date"), "{e}");
    Ok(())
}

/// The series equals plain SQL per cutoff; by default it has one cutoff per month of data.
#[tokio::test(flavor = "multi_thread")]
async fn series_equals_plain_sql() -> Result<()> {
    let ctx = common::cdnow(2).await?;
    let clv = common::text(
        &ctx,
        "SELECT cutoff, segment, customers, round(customer_share, 9) AS share, round(monetary, 6) AS monetary,
                round(period_revenue, 6) AS period_revenue, round(period_revenue_share, 9) AS revenue_share
         FROM segment_series('orders', '1997-03-31,1997-06-30,1997-09-30') ORDER BY cutoff, segment",
    )
    .await?;
    let per_cutoff = |c: &str, since: &str| {
        format!(
            "SELECT DATE '{c}' AS cutoff, s.segment, s.monetary, coalesce(r.rev, 0.0) AS rev
             FROM rfm('orders', '{c}') s LEFT JOIN (SELECT customer_id, sum(amount) AS rev FROM orders
               WHERE order_date > DATE '{since}' AND order_date <= DATE '{c}' GROUP BY customer_id) r
             ON s.customer_id = r.customer_id"
        )
    };
    let sql = common::text(
        &ctx,
        &format!(
            "WITH j AS ({} UNION ALL {} UNION ALL {}),
                  t AS (SELECT cutoff, count(*) AS n, sum(rev) AS rev FROM j GROUP BY cutoff)
             SELECT j.cutoff, segment, count(*) AS customers, round(count(*) * 1.0 / max(t.n), 9) AS share,
                    round(sum(monetary), 6) AS monetary, round(sum(j.rev), 6) AS period_revenue,
                    round(sum(j.rev) / max(t.rev), 9) AS revenue_share
             FROM j JOIN t ON j.cutoff = t.cutoff GROUP BY j.cutoff, segment ORDER BY cutoff, segment",
            per_cutoff("1997-03-31", "1997-02-28"),
            per_cutoff("1997-06-30", "1997-03-31"),
            per_cutoff("1997-09-30", "1997-06-30"),
        ),
    )
    .await?;
    assert_eq!(clv, sql);
    let months = common::text(
        &ctx,
        "SELECT count(DISTINCT cutoff) AS n, min(cutoff) AS first, max(cutoff) AS last FROM segment_series('orders')",
    )
    .await?;
    assert!(months.contains("| 18 | 1997-01-31 | 1998-06-30 |"), "{months}");
    // Every month's period revenue adds up to the month's revenue.
    let gap = common::scalar_i64(
        &ctx,
        "SELECT count(*) FROM (SELECT cutoff, sum(period_revenue) AS r FROM segment_series('orders') GROUP BY cutoff) s
         JOIN (SELECT date_trunc('month', order_date) AS month, sum(amount) AS r FROM orders GROUP BY 1) m
         ON date_trunc('month', s.cutoff) = m.month WHERE abs(s.r - m.r) > 1e-6",
    )
    .await?;
    assert_eq!(gap, 0);
    Ok(())
}

/// Top shares, the Lorenz curve and the Gini coefficient equal plain SQL with window functions.
#[tokio::test(flavor = "multi_thread")]
async fn value_concentration_equals_plain_sql() -> Result<()> {
    let ctx = common::cdnow(3).await?;
    for as_of in ["1998-07-01", "1997-09-30"] {
        let clv = common::text(
            &ctx,
            &format!(
                "SELECT percent, top_customers, round(top_share, 12) AS top, bottom_customers, round(bottom_share, 12) AS bottom,
                        round(gini, 12) AS gini, customers
                 FROM value_concentration('orders', '{as_of}') WHERE percent IN (0, 1, 8, 10, 20, 50, 80, 100) ORDER BY percent"
            ),
        )
        .await?;
        let sql = common::text(
            &ctx,
            &format!(
                "WITH v AS (SELECT greatest(monetary, 0.0) AS v FROM rfm('orders', '{as_of}')),
                      s AS (SELECT v, row_number() OVER (ORDER BY v DESC) AS down, row_number() OVER (ORDER BY v) AS up,
                                   count(*) OVER () AS n, sum(v) OVER () AS t FROM v),
                      p AS (SELECT * FROM (VALUES (0), (1), (8), (10), (20), (50), (80), (100)) AS x(percent))
                 SELECT p.percent, (p.percent * max(n) + 99) / 100 AS top_customers,
                        round(sum(CASE WHEN down <= (p.percent * n + 99) / 100 THEN v ELSE 0.0 END) / max(t), 12) AS top,
                        p.percent * max(n) / 100 AS bottom_customers,
                        round(sum(CASE WHEN up <= p.percent * n / 100 THEN v ELSE 0.0 END) / max(t), 12) AS bottom,
                        round(sum((2 * up - n - 1) * v) / (max(n) * max(t)), 12) AS gini, max(n) AS customers
                 FROM s CROSS JOIN p GROUP BY p.percent ORDER BY p.percent"
            ),
        )
        .await?;
        assert_eq!(clv, sql, "as_of {as_of}");
    }
    Ok(())
}
