//! The customer state of `rfm()` (`RfmState`): built from part of the transactions and
//! refreshed with the rest, its scores equal a full recompute bit for bit; and the rules
//! (late rows, refunds of old orders, duplicate batches, a moved as-of date, options that
//! invalidate the state, an older schema version).

mod common;

use std::sync::Arc;

use clv_core::{CustomerState, NegativeAmounts, Rfm, RfmState, ScoreMethod};
use common::*;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SessionContext, col};

/// All rows of `df`, sorted by customer id, in one batch (schema included in the comparison).
async fn sorted(df: DataFrame) -> Result<RecordBatch> {
    let df = df.sort(vec![col("customer_id").sort(true, false)])?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    Ok(concat_batches(&schema, &df.collect().await?)?)
}

/// The transactions of `orders` with `lo <= order_date < hi` (open ends: `None`).
async fn part(ctx: &SessionContext, lo: Option<&str>, hi: Option<&str>) -> Result<DataFrame> {
    let mut conditions = vec!["true".to_string()];
    if let Some(lo) = lo {
        conditions.push(format!("order_date >= DATE '{lo}'"));
    }
    if let Some(hi) = hi {
        conditions.push(format!("order_date < DATE '{hi}'"));
    }
    ctx.sql(&format!("SELECT * FROM orders WHERE {}", conditions.join(" AND ")))
        .await
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("clv_rfm_state_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn cdnow_split_at_five_points_equals_the_full_computation() -> Result<()> {
    let ctx = cdnow(3).await?;
    let full = sorted(Rfm::new().dataframe(&ctx, "orders").await?).await?;
    let later = sorted(Rfm::new().as_of("1998-09-15").dataframe(&ctx, "orders").await?).await?;
    let ntile = sorted(
        Rfm::new()
            .method(ScoreMethod::Ntile)
            .bins(4)
            .scheme("none")
            .dataframe(&ctx, "orders")
            .await?,
    )
    .await?;
    assert_eq!(full.num_rows(), 23_570);
    // CDNOW runs from 1997-01-01 to 1998-06-30.
    let months = [
        "1997-02-01",
        "1997-03-01",
        "1997-04-01",
        "1997-05-01",
        "1997-07-01",
        "1997-10-01",
        "1998-01-01",
        "1998-04-01",
    ];
    let splits = ["1997-01-15", "1997-03-01", "1997-06-01", "1997-10-01", "1998-04-01"];
    for (k, split) in splits.into_iter().enumerate() {
        let mut state = RfmState::new()
            .build(&ctx, part(&ctx, None, Some(split)).await?, "first")
            .await?;
        if k % 2 == 0 {
            // The rest in one batch, through a state file.
            let path = temp(&format!("state_{k}.parquet"));
            state.write_parquet(&path)?;
            state = CustomerState::read_parquet(&path)?;
            RfmState::new()
                .refresh(&ctx, &mut state, part(&ctx, Some(split), None).await?, "rest")
                .await?;
        } else {
            // The rest in several batches, one per stretch between the month starts after the
            // split, the newest first (out of order), each through a state file.
            let mut bounds: Vec<&str> = vec![split];
            bounds.extend(months.iter().filter(|m| **m > split));
            let mut pieces: Vec<(Option<&str>, Option<&str>)> =
                bounds.windows(2).map(|w| (Some(w[0]), Some(w[1]))).collect();
            pieces.push((bounds.last().copied(), None));
            pieces.reverse();
            for (i, (lo, hi)) in pieces.into_iter().enumerate() {
                let path = temp(&format!("state_{k}_{i}.parquet"));
                state.write_parquet(&path)?;
                state = CustomerState::read_parquet(&path)?;
                RfmState::new()
                    .refresh(&ctx, &mut state, part(&ctx, lo, hi).await?, &format!("batch-{i}"))
                    .await?;
            }
        }
        assert_eq!(state.counts.rows_read, 69_659, "split {split}");
        assert_eq!(
            sorted(RfmState::new().rfm(&ctx, &state).await?).await?,
            full,
            "split {split}"
        );
        // A moved as-of date, and other scoring options, from the same state.
        let moved = RfmState::new().as_of("1998-09-15").rfm(&ctx, &state).await?;
        assert_eq!(sorted(moved).await?, later, "split {split}");
        let ranked = RfmState::new()
            .option("method", "ntile")
            .option("bins", "4")
            .option("scheme", "none");
        assert_eq!(sorted(ranked.rfm(&ctx, &state).await?).await?, ntile, "split {split}");
    }
    Ok(())
}

/// A small table: customer 1 buys, then a late row older than the state's last day arrives;
/// customer 2's old order is refunded in a later batch; customer 3 only has a refund first.
async fn small() -> Result<SessionContext> {
    let ctx = context(2)?;
    query(
        &ctx,
        "CREATE TABLE first_batch (customer_id BIGINT, order_date DATE, amount DOUBLE) AS VALUES
           (1, DATE '2024-01-10', 10.0), (1, DATE '2024-01-20', 20.0), (2, DATE '2024-01-05', 50.0),
           (2, DATE '2024-01-25', 30.0), (3, DATE '2024-01-15', -5.0), (4, DATE '2024-01-28', 7.5)",
    )
    .await?;
    query(
        &ctx,
        "CREATE TABLE second_batch (customer_id BIGINT, order_date DATE, amount DOUBLE) AS VALUES
           (1, DATE '2024-01-02', 5.25), (2, DATE '2024-01-26', -50.0), (3, DATE '2024-01-27', 12.0),
           (5, DATE '2024-01-03', 1.0)",
    )
    .await?;
    query(
        &ctx,
        "CREATE TABLE everything AS SELECT * FROM first_batch UNION ALL SELECT * FROM second_batch",
    )
    .await?;
    Ok(ctx)
}

#[tokio::test(flavor = "multi_thread")]
async fn late_rows_and_refunds_of_old_orders_merge_exactly() -> Result<()> {
    let ctx = small().await?;
    let mut state = RfmState::new().build(&ctx, "first_batch", "b1").await?;
    // Customer 3 has only a refund: kept in the state, not scored.
    assert_eq!(state.customers(), 4);
    assert_eq!(sorted(RfmState::new().rfm(&ctx, &state).await?).await?.num_rows(), 3);
    RfmState::new().refresh(&ctx, &mut state, "second_batch", "b2").await?;
    let full = sorted(Rfm::new().dataframe(&ctx, "everything").await?).await?;
    let merged = sorted(RfmState::new().rfm(&ctx, &state).await?).await?;
    assert_eq!(merged, full);
    // By hand: customer 1's late row moves the first purchase back to 2024-01-02 and leaves
    // the last (2024-01-20) alone; customer 2's refund nets 80 − 50 = 30 over 2 purchases,
    // its last day of activity is the refund's (2024-01-26) but the last purchase stays
    // 2024-01-25; customer 3 now has one purchase of 12 − 5 = 7. As of 2024-01-29.
    let out =
        datafusion::arrow::util::pretty::pretty_format_batches(&[merged.project(&[0, 1, 2, 3, 10, 11])?])?.to_string();
    let want = "\
+-------------+--------------+-----------+----------+----------------+---------------+
| customer_id | recency_days | frequency | monetary | first_purchase | last_purchase |
+-------------+--------------+-----------+----------+----------------+---------------+
| 1           | 9            | 3         | 35.25    | 2024-01-02     | 2024-01-20    |
| 2           | 4            | 2         | 30.0     | 2024-01-05     | 2024-01-25    |
| 3           | 2            | 1         | 7.0      | 2024-01-27     | 2024-01-27    |
| 4           | 1            | 1         | 7.5      | 2024-01-28     | 2024-01-28    |
| 5           | 26           | 1         | 1.0      | 2024-01-03     | 2024-01-03    |
+-------------+--------------+-----------+----------+----------------+---------------+";
    assert_eq!(out, want);
    // The policy counts add up over the batches.
    assert_eq!((state.counts.rows_read, state.counts.negative_amount), (10, 2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_merged_once() -> Result<()> {
    let ctx = small().await?;
    let mut state = RfmState::new().build(&ctx, "first_batch", "b1").await?;
    RfmState::new().refresh(&ctx, &mut state, "second_batch", "b2").await?;
    let before = state.to_batch()?;
    let e = RfmState::new()
        .refresh(&ctx, &mut state, "second_batch", "b2")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("the batch 'b2' is already in the customer state"), "{e}");
    // Refused before anything changed.
    assert_eq!(state.to_batch()?, before);
    assert_eq!(state.batches, vec!["b1", "b2"]);
    // The batch ids survive a state file.
    let path = temp("once.parquet");
    state.write_parquet(&path)?;
    let mut read = CustomerState::read_parquet(&path)?;
    assert_eq!(read.batches, vec!["b1", "b2"]);
    let e = RfmState::new()
        .refresh(&ctx, &mut read, "first_batch", "b1")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("'b1' is already"), "{e}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_as_of_date_moves_forward_only() -> Result<()> {
    let ctx = small().await?;
    let state = RfmState::new().build(&ctx, "everything", "all").await?;
    for as_of in ["2024-01-28", "2024-02-01", "2025-06-30"] {
        let want = sorted(Rfm::new().as_of(as_of).dataframe(&ctx, "everything").await?).await?;
        let got = sorted(RfmState::new().as_of(as_of).rfm(&ctx, &state).await?).await?;
        assert_eq!(got, want, "as of {as_of}");
    }
    // Before the state's last day (2024-01-28): the state cannot forget rows.
    let e = RfmState::new()
        .as_of("2024-01-20")
        .rfm(&ctx, &state)
        .await?
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds rows up to 2024-01-28, after the as-of date 2024-01-20"),
        "{e}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn options_that_shape_the_state_are_checked() -> Result<()> {
    let ctx = small().await?;
    let mut state = RfmState::new().build(&ctx, "first_batch", "b1").await?;
    let e = RfmState::new()
        .negative_amounts(NegativeAmounts::Exclude)
        .refresh(&ctx, &mut state, "second_batch", "b2")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("negative_amounts = net, the new rows have exclude"), "{e}");
    let e = RfmState::new()
        .negative_amounts(NegativeAmounts::Exclude)
        .rfm(&ctx, &state)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("negative_amounts"), "{e}");
    for (option, value) in [
        ("collapse", "day"),
        ("dedupe", "true"),
        ("id_type", "string"),
        ("order_column", "amount"),
    ] {
        let e = RfmState::new()
            .option(option, value)
            .build(&ctx, "first_batch", "x")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("does not support the option {option}")),
            "{option}: {e}"
        );
    }
    // Other source types: an integer amount is summed at scale 0, not the state's 9.
    query(
        &ctx,
        "CREATE TABLE cents (customer_id BIGINT, order_date DATE, amount BIGINT) AS VALUES (1, DATE '2024-02-01', 5)",
    )
    .await?;
    let e = RfmState::new()
        .refresh(&ctx, &mut state, "cents", "b3")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("exact amount type Decimal128(38, 9)"), "{e}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_of_another_schema_version_is_refused() -> Result<()> {
    let ctx = small().await?;
    let state = RfmState::new().build(&ctx, "first_batch", "b1").await?;
    let rows = state.to_batch()?;
    for (version, expect) in [
        (Some("0"), "schema version 0, this clv reads version 1"),
        (None, "not a customer state"),
    ] {
        let path = temp(&format!("old_{version:?}.parquet"));
        let metadata = version.map(|v| vec![KeyValue::new("clv.state.version".into(), v.to_string())]);
        let properties = WriterProperties::builder().set_key_value_metadata(metadata).build();
        let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, rows.schema(), Some(properties))?;
        writer.write(&rows)?;
        writer.close()?;
        let e = CustomerState::read_parquet(&path).unwrap_err().to_string();
        assert!(e.contains(expect) && e.contains(&path.display().to_string()), "{e}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn string_ids_and_zoned_timestamps_split_equal_the_full_computation() -> Result<()> {
    let ctx = cdnow(2).await?;
    // Text ids, and times in a zone 8 hours east at 20:00 (local days differ from UTC days).
    ctx.sql(
        "CREATE VIEW zoned AS SELECT 'c' || CAST(customer_id AS VARCHAR) AS customer_id,
           arrow_cast(CAST(order_date AS TIMESTAMP) + INTERVAL '12 hours', 'Timestamp(Microsecond, Some(\"+08:00\"))') AS order_date,
           amount FROM orders",
    )
    .await?;
    let full = sorted(Rfm::new().dataframe(&ctx, "zoned").await?).await?;
    let split = "order_date < TIMESTAMP '1997-06-01T00:00:00+08:00'";
    let mut state = RfmState::new()
        .build(&ctx, ctx.sql(&format!("SELECT * FROM zoned WHERE {split}")).await?, "a")
        .await?;
    let path = temp("zoned.parquet");
    state.write_parquet(&path)?;
    state = CustomerState::read_parquet(&path)?;
    RfmState::new()
        .refresh(
            &ctx,
            &mut state,
            ctx.sql(&format!("SELECT * FROM zoned WHERE NOT ({split})")).await?,
            "b",
        )
        .await?;
    assert_eq!(sorted(RfmState::new().rfm(&ctx, &state).await?).await?, full);
    assert_eq!(full.num_rows(), 23_570);
    Ok(())
}
