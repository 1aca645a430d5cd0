//! The BTYD summary reproduces the published CDNOW sample summaries.

mod common;

use common::*;
use datafusion::common::Result;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet");
const SUMMARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample_summary.csv");
const SPEND: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/cdnow_sample_summary_with_spend.csv"
);

/// The published summaries number customers 1..2357, which is the sample file's
/// `master_customer_id` column (its `customer_id` holds the ids of the full master file).
async fn sample() -> Result<datafusion::prelude::SessionContext> {
    let ctx = context(4)?;
    ctx.sql("SET clv.customer_column = 'master_customer_id'")
        .await?
        .collect()
        .await?;
    ctx.register_parquet("sample", SAMPLE, ParquetReadOptions::default())
        .await?;
    ctx.register_csv("published", SUMMARY, CsvReadOptions::new()).await?;
    ctx.register_csv("published_spend", SPEND, CsvReadOptions::new())
        .await?;
    Ok(ctx)
}

#[tokio::test(flavor = "multi_thread")]
async fn reproduces_the_cdnow_sample_summaries() -> Result<()> {
    let ctx = sample().await?;
    ctx.sql("CREATE VIEW ours AS SELECT * FROM btyd_summary('sample', '1997-09-30', 'week')")
        .await?;
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM ours").await?, 2357);
    // Published values are rounded to 2 decimals: allow half a unit in the last place.
    let mismatches = scalar_i64(
        &ctx,
        "SELECT count(*) FROM ours o JOIN published p ON o.customer_id = p.\"ID\"
         WHERE o.x <> p.frequency OR abs(o.t_x - p.recency) > 0.0050001 OR abs(o.t - p.\"T\") > 0.0050001",
    )
    .await?;
    assert_eq!(mismatches, 0);
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM ours o JOIN published p ON o.customer_id = p.\"ID\""
        )
        .await?,
        2357
    );
    let spend = scalar_i64(
        &ctx,
        "SELECT count(*) FROM ours o JOIN published_spend p ON o.customer_id = p.\"ID\"
         WHERE o.x <> p.x OR abs(o.monetary - p.zbar) > 0.0050001",
    )
    .await?;
    assert_eq!(spend, 0);
    // Customer 1 by hand: first 1997-01-01, repeats 01-18 (29.73) and 08-02 (14.96).
    let one = text(
        &ctx,
        "SELECT x, round(t_x, 4) AS t_x, round(t, 4) AS t, round(monetary, 4) AS m FROM ours WHERE customer_id = 1",
    )
    .await?;
    assert!(one.contains("| 2 | 30.4286 | 38.8571 | 22.345 |"), "{one}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn time_units_and_holdout_are_explicit() -> Result<()> {
    let ctx = sample().await?;
    // Days and months are the same durations in other units; a month is 365.25/12 days.
    let d = text(
        &ctx,
        "SELECT round(t, 6) AS t FROM btyd_summary('sample', '1997-09-30', 'day') WHERE customer_id = 1",
    )
    .await?;
    let m = text(
        &ctx,
        "SELECT round(t, 6) AS t FROM btyd_summary('sample', '1997-09-30', 'month') WHERE customer_id = 1",
    )
    .await?;
    assert!(d.contains("| 272.0 |"), "{d}");
    assert!(
        m.contains(&format!("| {} |", (272.0_f64 / 30.4375 * 1e6).round() / 1e6)),
        "{m}"
    );
    // Holdout: customer 1 buys again on 1997-12-12, inside (1997-09-30, 1998-06-30].
    let h = text(&ctx, "SELECT x, x_holdout, round(t_holdout, 4) AS th FROM btyd_summary('sample', '1997-09-30', 'week', '1998-06-30') WHERE customer_id = 1").await?;
    assert!(h.contains("| 2 | 1         | 39.0 |"), "{h}");
    // The holdout total equals an independent count of purchase days in the holdout.
    let ours = scalar_i64(
        &ctx,
        "SELECT sum(x_holdout) FROM btyd_summary('sample', '1997-09-30', 'week', '1998-06-30')",
    )
    .await?;
    let plain = scalar_i64(&ctx, "SELECT count(*) FROM (SELECT DISTINCT customer_id, order_date FROM sample WHERE order_date > DATE '1997-09-30' AND order_date <= DATE '1998-06-30')").await?;
    assert_eq!(ours, plain);
    for (sql, err) in [
        (
            "SELECT * FROM btyd_summary('sample', '1997-09-30', 'fortnight')",
            "time_unit must be one of week, day, month",
        ),
        (
            "SELECT * FROM btyd_summary('sample', '1997-09-30', 'week', '1997-01-01')",
            "holdout_end must be after calibration_end",
        ),
        (
            "SELECT * FROM btyd_summary('sample', 'holdout_end=1998-01-01')",
            "a holdout needs calibration_end",
        ),
        (
            "SELECT * FROM btyd_summary('sample', 'collapse=none')",
            "btyd_summary counts one purchase per customer per day",
        ),
    ] {
        let e = ctx.sql(sql).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(err), "{sql}: {e}");
    }
    // Default calibration end: the last transaction date.
    let last = text(
        &ctx,
        "SELECT max(first_purchase) AS f, count(*) AS n FROM btyd_summary('sample')",
    )
    .await?;
    assert!(last.contains("| 2357 |"), "{last}");
    Ok(())
}
