//! Cohort retention on CDNOW equals a hand-written SQL triangle; the triangle and the lifecycle
//! stages do not depend on partitioning or row order.

mod common;

use common::*;
use datafusion::common::Result;

const PLAIN: &str = "
WITH t AS (SELECT customer_id, date_trunc('month', order_date) AS p, amount FROM orders),
     f AS (SELECT customer_id, min(p) AS cohort FROM t GROUP BY customer_id),
     g AS (SELECT f.cohort, t.p, count(DISTINCT t.customer_id) AS active, sum(t.amount) AS revenue
           FROM t JOIN f ON t.customer_id = f.customer_id GROUP BY f.cohort, t.p),
     s AS (SELECT cohort, count(*) AS size FROM f GROUP BY cohort)
SELECT CAST(g.cohort AS DATE) AS cohort,
       CAST((date_part('year', g.p) - date_part('year', g.cohort)) * 12 + date_part('month', g.p) - date_part('month', g.cohort) AS BIGINT) AS period_offset,
       s.size, g.active, g.revenue,
       sum(g.revenue) OVER (PARTITION BY g.cohort ORDER BY g.p) / s.size AS cum_per_customer,
       g.revenue / first_value(g.revenue) OVER (PARTITION BY g.cohort ORDER BY g.p) AS revenue_retention
FROM g JOIN s ON g.cohort = s.cohort";

#[tokio::test(flavor = "multi_thread")]
async fn monthly_triangle_matches_hand_written_sql() -> Result<()> {
    let ctx = cdnow(4).await?;
    ctx.sql(&format!("CREATE VIEW plain AS {PLAIN}")).await?;
    ctx.sql("CREATE VIEW ours AS SELECT * FROM cohort_retention('orders', 'month')")
        .await?;
    let (n_ours, n_plain) = (
        scalar_i64(&ctx, "SELECT count(*) FROM ours").await?,
        scalar_i64(&ctx, "SELECT count(*) FROM plain").await?,
    );
    // CDNOW: 3 monthly cohorts (1997-01..03); offsets up to 17 (1998-06).
    assert_eq!((n_ours, n_plain), (18 + 17 + 16, 51));
    let bad = scalar_i64(
        &ctx,
        "SELECT count(*) FROM ours o JOIN plain p ON o.cohort = p.cohort AND o.period_offset = p.period_offset
         WHERE o.cohort_customers <> p.size OR o.active_customers <> p.active
            OR abs(o.revenue - p.revenue) > 1e-6 * abs(p.revenue)
            OR abs(o.cumulative_revenue_per_customer - p.cum_per_customer) > 1e-9 * abs(p.cum_per_customer)
            OR abs(o.revenue_retention - p.revenue_retention) > 1e-9
            OR abs(o.retention_rate - CAST(p.active AS DOUBLE) / p.size) > 1e-15",
    )
    .await?;
    assert_eq!(bad, 0);
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM ours o JOIN plain p ON o.cohort = p.cohort AND o.period_offset = p.period_offset"
        )
        .await?,
        51
    );
    // Offset 0 retains everyone, and cohort sizes add up to all customers.
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM ours WHERE period_offset = 0 AND retention_rate <> 1.0"
        )
        .await?,
        0
    );
    assert_eq!(
        scalar_i64(&ctx, "SELECT sum(cohort_customers) FROM ours WHERE period_offset = 0").await?,
        23_570
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn grains_and_refunds() -> Result<()> {
    let ctx = context(2)?;
    ctx.sql(
        "CREATE TABLE tx (customer_id INT, order_date DATE, amount DOUBLE) AS VALUES
          (1, DATE '2024-01-31', 10.0), (1, DATE '2024-02-01', 5.0), (2, DATE '2024-01-15', 8.0),
          (2, DATE '2024-03-10', -8.0), (3, DATE '2024-02-20', 4.0), (4, DATE '2024-02-21', -1.0)",
    )
    .await?;
    let months = text(
        &ctx,
        "SELECT * FROM cohort_retention('tx') ORDER BY cohort, period_offset",
    )
    .await?;
    // Jan cohort {1, 2}: Feb has customer 1 (5.0); Mar has only customer 2's refund (active 0, revenue -8).
    // Feb cohort {3}. Customer 4 only refunds: no cohort.
    let expected = "\
+------------+---------------+------------------+------------------+----------------+---------+-------------------+---------------------------------+
| cohort     | period_offset | cohort_customers | active_customers | retention_rate | revenue | revenue_retention | cumulative_revenue_per_customer |
+------------+---------------+------------------+------------------+----------------+---------+-------------------+---------------------------------+
| 2024-01-01 | 0             | 2                | 2                | 1.0            | 18.0    | 1.0               | 9.0                             |
| 2024-01-01 | 1             | 2                | 1                | 0.5            | 5.0     | 0.2777777777777778 | 11.5                            |
| 2024-01-01 | 2             | 2                | 0                | 0.0            | -8.0    | -0.4444444444444444 | 7.5                             |
| 2024-02-01 | 0             | 1                | 1                | 1.0            | 4.0     | 1.0               | 4.0                             |
+------------+---------------+------------------+------------------+----------------+---------+-------------------+---------------------------------+";
    let rows = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| l.replace(' ', ""))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&months), rows(expected), "{months}");
    // Weeks start on Monday: 2024-01-31 (Wed) and 2024-02-01 (Thu) share the week of Monday 2024-01-29.
    let weeks = text(&ctx, "SELECT cohort, period_offset, active_customers FROM cohort_retention('tx', 'week') WHERE cohort = DATE '2024-01-29'").await?;
    assert!(
        weeks.contains("| 2024-01-29 | 0             | 1                |"),
        "{weeks}"
    );
    let e = ctx
        .sql("SELECT * FROM cohort_retention('tx', 'fortnight')")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("period must be one of day, week, month, quarter, year"),
        "{e}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn same_triangle_and_stages_whatever_the_partitioning_and_row_order() -> Result<()> {
    let one = cdnow(1).await?;
    let ctx = cdnow(8).await?;
    ctx.sql(
        "CREATE TABLE shuffled AS SELECT * FROM orders
         ORDER BY (customer_id * 7919 + CAST(amount * 100 AS BIGINT)) % 1009 DESC, order_date DESC",
    )
    .await?
    .collect()
    .await?;
    let mut queries: Vec<String> = ["month", "week", "quarter"]
        .iter()
        .map(|p| format!("SELECT * FROM cohort_retention('orders', '{p}') ORDER BY cohort, period_offset"))
        .collect();
    // The lifecycle stages and transitions of the same customers, at a date inside the data.
    queries.push("SELECT * FROM lifecycle('orders', '1997-10-15') ORDER BY customer_id".into());
    queries.push(
        "SELECT * FROM lifecycle_transitions('orders', '1997-06-30', '1997-12-31') ORDER BY from_stage, to_stage"
            .into(),
    );
    for sql in &queries {
        let expected = text(&one, sql).await?;
        // Bit for bit: revenue is summed exactly (Decimal128), the running sums in period order.
        assert_eq!(expected, text(&ctx, sql).await?, "{sql}");
        assert_eq!(
            expected,
            text(&ctx, &sql.replace("'orders'", "'shuffled'")).await?,
            "{sql}"
        );
    }
    Ok(())
}
