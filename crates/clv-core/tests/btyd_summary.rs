//! The BTYD summary reproduces the published CDNOW sample summaries.

mod common;

use common::*;
use datafusion::arrow::array::AsArray;
use datafusion::common::Result;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet");
const SUMMARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample_summary.csv");
const WEEKLY_LIFETIMES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/cdnow_sample_summary_weekly_lifetimes.csv"
);
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
            "btyd_summary counts one purchase per customer per period (collapse = 'day', 'week' or 'month'); collapse = 'none'",
        ),
        (
            "SELECT * FROM btyd_summary('sample', '1997-09-30', 'week', '1997-10-03', 'collapse=week')",
            "holdout_end must be in a later week than calibration_end (collapse = 'week')",
        ),
        (
            "SELECT * FROM btyd_summary('sample', 'collapse=fortnight')",
            "collapse must be one of none, day, week, month, got 'fortnight'",
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

/// `collapse = 'week'` reproduces Python lifetimes' `summary_data_from_transaction_data(...,
/// freq='W', observation_period_end='1997-09-30', monetary_value_col='amount')` on the CDNOW
/// sample exactly (the reference CSV was written by lifetimes 0.11.3; it keys customers by the
/// sample's `customer_id`), and the BG/NBD fit on it is the published weekly-collapse fit
/// (../shared/data/README.md: r = 0.291, α = 6.852, a = 0.665, b = 2.320).
#[tokio::test(flavor = "multi_thread")]
async fn weekly_collapse_reproduces_lifetimes_and_the_published_fit() -> Result<()> {
    let ctx = context(3)?;
    ctx.register_parquet("sample", SAMPLE, ParquetReadOptions::default())
        .await?;
    ctx.register_csv("lifetimes", WEEKLY_LIFETIMES, CsvReadOptions::new())
        .await?;
    ctx.sql("CREATE VIEW ours AS SELECT * FROM btyd_summary('sample', '1997-09-30', 'week', 'collapse=week')")
        .await?;
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM ours").await?, 2357);
    let joined = scalar_i64(
        &ctx,
        "SELECT count(*) FROM ours o JOIN lifetimes l ON o.customer_id = l.customer_id
         WHERE o.x = l.frequency AND o.t_x = l.recency AND o.t = l.\"T\" AND abs(o.monetary - l.monetary_value) < 1e-9",
    )
    .await?;
    if joined != 2357 {
        let bad = text(&ctx, "SELECT o.customer_id, o.x, l.frequency, o.t_x, l.recency, o.t, l.\"T\", o.monetary, l.monetary_value FROM ours o JOIN lifetimes l ON o.customer_id = l.customer_id
         WHERE NOT (o.x = l.frequency AND o.t_x = l.recency AND o.t = l.\"T\" AND abs(o.monetary - l.monetary_value) < 1e-9) LIMIT 12").await?;
        panic!("{joined}\n{bad}");
    }
    // Customer 4 (sample id; 1 in the published files): first purchase Wednesday 1997-01-01 is
    // in the week of Monday 1996-12-30; the calibration end, Tuesday 1997-09-30, in the week of
    // Monday 1997-09-29: t = 273 days = 39 weeks. first_purchase stays the actual date.
    let four = text(&ctx, "SELECT x, t_x, t, first_purchase FROM ours WHERE customer_id = 4").await?;
    assert!(four.contains("| 2 | 30.0 | 39.0 | 1997-01-01     |"), "{four}");
    let fit = query(
        &ctx,
        "SELECT f.r, f.alpha, f.a, f.b FROM (SELECT bgnbd_fit(x, t_x, t) AS f FROM ours)",
    )
    .await?;
    let row: Vec<f64> = fit[0]
        .columns()
        .iter()
        .map(|c| c.as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(0))
        .collect();
    for (ours, published) in row.iter().zip([0.291, 6.852, 0.665, 2.320]) {
        assert!((ours / published - 1.0).abs() < 1e-3, "{row:?}");
    }
    Ok(())
}

/// A hand-computed fixture for the month grain: periods are calendar months, the calibration
/// covers the whole month of its end date, and the holdout starts with the next month.
#[tokio::test(flavor = "multi_thread")]
async fn monthly_collapse_by_hand() -> Result<()> {
    let ctx = context(2)?;
    ctx.sql(
        "CREATE TABLE tx (customer_id INT, order_date DATE, amount DOUBLE) AS VALUES
         (1, DATE '2024-01-05', 10.0), (1, DATE '2024-01-20', 5.0),   -- one January purchase: 15
         (1, DATE '2024-03-31', 20.0),                                 -- March: 20
         (1, DATE '2024-04-10', 7.0),                                  -- April, same month as the calibration end
         (1, DATE '2024-05-02', 1.0), (1, DATE '2024-06-15', 2.0),     -- holdout: May, June
         (1, DATE '2024-07-01', 99.0),                                 -- after the holdout month: excluded
         (2, DATE '2024-02-29', 4.0), (2, DATE '2024-02-01', -4.0),    -- February nets to 0 but is a purchase
         (3, DATE '2024-04-30', 8.0)                                   -- first purchase in the calibration end's month",
    )
    .await?
    .collect()
    .await?;
    let got = text(
        &ctx,
        "SELECT concat_ws(',', customer_id, x, t_x, t, monetary, first_purchase, x_holdout, t_holdout) AS r
         FROM btyd_summary('tx', '2024-04-02', 'day', '2024-06-20', 'collapse=month') ORDER BY customer_id",
    )
    .await?;
    // Customer 1: months Jan, Mar, Apr → x = 2; t_x = Jan 1 → Apr 1 = 91 days; t = 91 days;
    // monetary = (20 + 7) / 2; holdout months May and June (the July row is after the holdout
    // month and excluded) → 2; t_holdout = Apr 1 → Jun 1 = 61 days.
    // Customer 2: the February refund is not a purchase, so the first purchase is Feb 29;
    // t = Feb 1 → Apr 1 = 60 days (2024 is a leap year). Customer 3: t = 0.
    for row in [
        "1,2,91.0,91.0,13.5,2024-01-05,2,61.0",
        "2,0,0.0,60.0,0.0,2024-02-29,0,61.0",
        "3,0,0.0,0.0,0.0,2024-04-30,0,61.0",
    ] {
        assert!(got.contains(row), "{row} not in {got}");
    }
    Ok(())
}
