//! `lookback_days`: frequency and monetary over the last N days, recency over all history,
//! dormant customers kept with frequency 0 and monetary 0, on the CDNOW master file, against
//! plain SQL (the window filter, the aggregate and a left join to all customers).

mod common;

use datafusion::common::Result;

/// Plain SQL of the summary at `as_of` with an `n`-day lookback.
fn plain(as_of: &str, n: i64) -> String {
    format!(
        "WITH kept AS (SELECT customer_id, order_date, amount FROM orders
                       WHERE amount IS NOT NULL AND order_date <= DATE '{as_of}'),
              everything AS (SELECT customer_id, DATE '{as_of}' - max(order_date) AS recency_days FROM kept GROUP BY customer_id),
              recent AS (SELECT customer_id, count(*) AS frequency, sum(amount) AS monetary FROM kept
                         WHERE order_date > DATE '{as_of}' - INTERVAL '{n}' DAY GROUP BY customer_id)
         SELECT e.customer_id, CAST(e.recency_days AS BIGINT) AS recency_days,
                coalesce(r.frequency, 0) AS frequency, round(coalesce(r.monetary, 0.0), 6) AS monetary
         FROM everything e LEFT JOIN recent r ON e.customer_id = r.customer_id
         ORDER BY e.customer_id"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn lookback_equals_plain_sql_with_a_left_join() -> Result<()> {
    let ctx = common::cdnow(3).await?;
    for (as_of, n) in [("1997-09-30", 180), ("1998-06-30", 365), ("1997-03-31", 30)] {
        let want = common::text(&ctx, &plain(as_of, n)).await?;
        for fused in ["true", "false"] {
            let got = common::text(
                &ctx,
                &format!(
                    "SELECT customer_id, recency_days, frequency, round(monetary, 6) AS monetary
                     FROM rfm('orders', '{as_of}', 'lookback_days={n}', 'fused={fused}') ORDER BY customer_id"
                ),
            )
            .await?;
            assert_eq!(got, want, "as_of {as_of}, {n} days, fused={fused}");
        }
        // Dormant customers are there, with frequency 0 and monetary 0, and scored lowest.
        let dormant = common::scalar_i64(
            &ctx,
            &format!(
                "SELECT count(*) FROM rfm('orders', '{as_of}', 'lookback_days={n}') WHERE frequency = 0 AND monetary = 0 AND f = 1 AND m = 1"
            ),
        )
        .await?;
        let plain_dormant = common::scalar_i64(
            &ctx,
            &format!("SELECT count(*) FROM ({}) WHERE frequency = 0", plain(as_of, n)),
        )
        .await?;
        assert!(dormant > 0);
        assert_eq!(dormant, plain_dormant, "as_of {as_of}");
    }
    Ok(())
}

/// Without an as-of date the window ends on the day after the last transaction, as `rfm()`'s
/// as-of date; the segment of each customer is `rfm_segment` of its scores.
#[tokio::test(flavor = "multi_thread")]
async fn lookback_without_as_of_and_with_the_rfm_table() -> Result<()> {
    let ctx = common::cdnow(2).await?;
    let want = common::text(&ctx, &plain("1998-07-01", 90)).await?;
    let got = common::text(
        &ctx,
        "SELECT customer_id, recency_days, frequency, round(monetary, 6) AS monetary
         FROM rfm('orders', 'lookback_days=90') ORDER BY customer_id",
    )
    .await?;
    assert_eq!(got, want);
    let mismatched = common::scalar_i64(
        &ctx,
        "SELECT count(*) FROM rfm('orders', 'lookback_days=90') WHERE segment <> rfm_segment(r, f, m, 'rf_grid')",
    )
    .await?;
    assert_eq!(mismatched, 0);
    // The RfmTable provider, queried for one customer, gives rfm()'s row.
    let mut options = clv_core::ClvOptions::from_context(&ctx);
    options.set_option("lookback_days", "90")?;
    let table = clv_core::RfmTable::try_from_context(&ctx, "orders", options).await?;
    ctx.register_table("customer_rfm", std::sync::Arc::new(table))?;
    for id in [1, 2, 17, 23569] {
        let one = common::text(&ctx, &format!("SELECT * FROM customer_rfm WHERE customer_id = {id}")).await?;
        let all = common::text(
            &ctx,
            &format!("SELECT * FROM rfm('orders', 'lookback_days=90') WHERE customer_id = {id}"),
        )
        .await?;
        assert_eq!(one, all, "customer {id}");
    }
    let e = ctx
        .sql("SELECT * FROM rfm('orders', 'lookback_days=-3')")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("positive whole number of days"), "{e}");
    Ok(())
}
