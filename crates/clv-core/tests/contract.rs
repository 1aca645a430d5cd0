//! The transaction contract: every accepted input type, time zones, the Rust builder,
//! user-defined schemes and session registration.

mod common;

use std::sync::Arc;

use clv_core::{NegativeAmounts, Rfm, ScoreMethod, SegmentScheme};
use common::*;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Date64Array, Decimal128Array, DictionaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

/// Three customers, five rows: (id, day offset from 2024-01-01, amount in cents).
const ROWS: [(i64, i32, i64); 5] = [(1, 0, 1000), (1, 9, 2050), (2, 2, 1500), (3, 5, 725), (3, 5, 100)];
const DAY0: i32 = 19723; // 2024-01-01

fn batch(id: ArrayRef, time: ArrayRef, amount: ArrayRef) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("customer_id", id.data_type().clone(), true),
        Field::new("order_date", time.data_type().clone(), true),
        Field::new("amount", amount.data_type().clone(), true),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![id, time, amount]).unwrap()
}

async fn summary_text(b: RecordBatch) -> Result<String> {
    let ctx = context(2)?;
    ctx.register_batch("tx", b)?;
    text(&ctx, "SELECT CAST(customer_id AS VARCHAR) AS id, recency_days, frequency, monetary, tenure_days, r, f, m, segment FROM rfm('tx', '2024-01-31') ORDER BY id").await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_type_gives_the_same_result() -> Result<()> {
    let ids: Vec<i64> = ROWS.iter().map(|r| r.0).collect();
    let days: Vec<i32> = ROWS.iter().map(|r| DAY0 + r.1).collect();
    let cents: Vec<i64> = ROWS.iter().map(|r| r.2).collect();
    let secs: Vec<i64> = days.iter().map(|d| i64::from(*d) * 86_400 + 3_600).collect();
    let base_time: ArrayRef = Arc::new(Date32Array::from(days.clone()));
    let base_amount: ArrayRef = Arc::new(Float64Array::from(
        cents.iter().map(|c| *c as f64 / 100.0).collect::<Vec<_>>(),
    ));
    let strings: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let expected = summary_text(batch(
        Arc::new(Int64Array::from(ids.clone())),
        Arc::clone(&base_time),
        Arc::clone(&base_amount),
    ))
    .await?;
    assert!(
        expected.contains("| 1  | 21           | 2         | 30.5     | 30          |"),
        "{expected}"
    );

    let id_arrays: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(ids.iter().map(|i| *i as i32).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(ids.iter().map(|i| *i as u32).collect::<Vec<_>>())),
        Arc::new(UInt64Array::from(ids.iter().map(|i| *i as u64).collect::<Vec<_>>())),
        Arc::new(StringArray::from(strings.clone())),
        Arc::new(LargeStringArray::from(strings.clone())),
        Arc::new(StringViewArray::from(strings.clone())),
        Arc::new(
            strings
                .iter()
                .map(String::as_str)
                .collect::<DictionaryArray<Int32Type>>(),
        ),
    ];
    for id in id_arrays {
        let t = id.data_type().clone();
        assert_eq!(
            summary_text(batch(id, Arc::clone(&base_time), Arc::clone(&base_amount))).await?,
            expected,
            "customer id {t}"
        );
    }
    let time_arrays: Vec<ArrayRef> = vec![
        Arc::new(Date64Array::from(
            days.iter().map(|d| i64::from(*d) * 86_400_000).collect::<Vec<_>>(),
        )),
        Arc::new(TimestampSecondArray::from(secs.clone())),
        Arc::new(TimestampMillisecondArray::from(
            secs.iter().map(|s| s * 1_000).collect::<Vec<_>>(),
        )),
        Arc::new(
            TimestampMicrosecondArray::from(secs.iter().map(|s| s * 1_000_000).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        Arc::new(
            TimestampNanosecondArray::from(secs.iter().map(|s| s * 1_000_000_000).collect::<Vec<_>>())
                .with_timezone("+05:00"),
        ),
    ];
    for time in time_arrays {
        let t = time.data_type().clone();
        assert_eq!(
            summary_text(batch(
                Arc::new(Int64Array::from(ids.clone())),
                time,
                Arc::clone(&base_amount)
            ))
            .await?,
            expected,
            "time {t}"
        );
    }
    let amount_arrays: Vec<ArrayRef> = vec![
        Arc::new(
            Decimal128Array::from(cents.iter().map(|c| i128::from(*c)).collect::<Vec<_>>())
                .with_precision_and_scale(10, 2)?,
        ),
        Arc::new(Float32Array::from(
            cents.iter().map(|c| *c as f32 / 100.0).collect::<Vec<_>>(),
        )),
    ];
    for amount in amount_arrays {
        let t = amount.data_type().clone();
        assert_eq!(
            summary_text(batch(
                Arc::new(Int64Array::from(ids.clone())),
                Arc::clone(&base_time),
                amount
            ))
            .await?,
            expected,
            "amount {t}"
        );
    }
    // Integer amounts (whole units) keep the same scores and frequencies.
    let whole = summary_text(batch(
        Arc::new(Int64Array::from(ids.clone())),
        Arc::clone(&base_time),
        Arc::new(Int64Array::from(cents.clone())),
    ))
    .await?;
    assert!(
        whole.contains("| 1  | 21           | 2         | 3050.0   | 30          |"),
        "{whole}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn days_follow_the_timestamp_time_zone() -> Result<()> {
    // 2024-01-10 22:30 UTC is already 2024-01-11 in +02:00.
    let t = 1_704_925_800_i64; // 2024-01-10T22:30:00Z
    let make = |tz: &str| {
        batch(
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(TimestampSecondArray::from(vec![t]).with_timezone(tz)),
            Arc::new(Float64Array::from(vec![1.0])),
        )
    };
    let ctx = context(1)?;
    ctx.register_batch("utc", make("UTC"))?;
    ctx.register_batch("plus2", make("+02:00"))?;
    assert_eq!(
        scalar_i64(&ctx, "SELECT recency_days FROM rfm('utc', '2024-01-31')").await?,
        21
    );
    assert_eq!(
        scalar_i64(&ctx, "SELECT recency_days FROM rfm('plus2', '2024-01-31')").await?,
        20
    );
    // The time columns keep their source type.
    let s = text(&ctx, "SELECT arrow_typeof(first_purchase) FROM rfm('plus2')").await?;
    assert!(s.contains("Timestamp(s, \"+02:00\")"), "{s}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_builder_mirrors_the_table_function() -> Result<()> {
    let ctx = cdnow(2).await?;
    let rust = Rfm::new()
        .as_of("1998-07-01")
        .bins(5)
        .method(ScoreMethod::Ntile)
        .scheme("rf_grid");
    let df = rust
        .dataframe(&ctx, "orders")
        .await?
        .sort(vec![datafusion::prelude::col("customer_id").sort(true, false)])?;
    let from_rust = datafusion::arrow::util::pretty::pretty_format_batches(&df.collect().await?)?.to_string();
    let from_sql = text(
        &ctx,
        "SELECT * FROM rfm('orders', '1998-07-01', 5, 'ntile', 'rf_grid') ORDER BY customer_id",
    )
    .await?;
    assert_eq!(from_rust, from_sql);
    let report = Rfm::new()
        .negative_amounts(NegativeAmounts::Exclude)
        .policy_report(&ctx, "orders")
        .await?;
    assert_eq!(
        (
            report.rows_read,
            report.duplicate_rows,
            report.zero_amount,
            report.customers
        ),
        (69_659, 255, 80, 23_570)
    );
    assert_eq!(report.as_of.as_deref(), Some("1998-07-01"));
    // Session options apply to the builder; its own settings override them.
    ctx.sql("SET clv.rfm.scheme = 'rfm11'").await?.collect().await?;
    let s = Rfm::new().dataframe(&ctx, "orders").await?.collect().await?;
    let segs = datafusion::arrow::util::pretty::pretty_format_batches(&s)?.to_string();
    assert!(segs.contains("Champions") && !segs.contains("champions"));
    assert!(
        Rfm::new()
            .bins(4)
            .dataframe(&ctx, "orders")
            .await
            .unwrap_err()
            .to_string()
            .contains("labels scores 1..5")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn user_schemes_work_from_sql_by_name() -> Result<()> {
    let ctx = cdnow(2).await?;
    let scheme = SegmentScheme::from_toml(
        r#"
        name = "vip3"
        levels = 3
        default = "regular"
        [[rule]]
        label = "vip"
        f = [3, 3]
        m = [3, 3]
        [[rule]]
        label = "gone"
        r = [1, 1]
        "#,
    )?;
    clv_core::register_scheme(&ctx, scheme)?;
    assert_eq!(
        text(&ctx, "SELECT rfm_segment(2, 3, 3, 'vip3') AS s")
            .await?
            .lines()
            .nth(3)
            .unwrap()
            .trim(),
        "| vip |"
    );
    let counts = text(
        &ctx,
        "SELECT segment, count(*) AS n FROM rfm('orders', NULL, 3, NULL, 'vip3') GROUP BY segment ORDER BY segment",
    )
    .await?;
    // An independent CASE over the same scores.
    let check = scalar_i64(
        &ctx,
        "SELECT count(*) FROM rfm('orders', 'bins=3', 'scheme=vip3') WHERE segment <> CASE WHEN f = 3 AND m = 3 THEN 'vip' WHEN r = 1 THEN 'gone' ELSE 'regular' END",
    )
    .await?;
    assert_eq!(check, 0, "{counts}");
    assert!(
        counts.contains("gone") && counts.contains("vip") && counts.contains("regular"),
        "{counts}"
    );
    // A file-loaded scheme: the JSON form.
    let dir = std::env::temp_dir().join("clv-scheme-test");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two.json");
    std::fs::write(&path, r#"{"name": "two", "levels": 2, "method": "median", "rule": [{"label": "up", "r": [2, 2]}, {"label": "down"}]}"#).unwrap();
    clv_core::register_scheme(&ctx, SegmentScheme::from_path(&path)?)?;
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(DISTINCT segment) FROM rfm('orders', 'scheme=two')").await?,
        2
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn builder_registration_appends_to_existing_functions() -> Result<()> {
    let state = clv_core::register_all_on_builder(SessionStateBuilder::new().with_default_features()).build();
    let ctx = SessionContext::new_with_state(state);
    // DataFusion's own functions are still there next to clv's.
    assert_eq!(
        text(&ctx, "SELECT upper('a') AS u, rfm_cell(1, 2, 3) AS c")
            .await?
            .lines()
            .nth(3)
            .unwrap(),
        "| A | 123 |"
    );
    ctx.sql("SET clv.rfm.bins = 4").await?.collect().await?;
    Ok(())
}
