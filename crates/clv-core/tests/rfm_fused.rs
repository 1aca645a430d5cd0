//! The fused `rfm()` operator (RfmExec) against the ordinary plan (aggregate + windows): the
//! same rows, bit for bit, on every option, id type, time type, amount type and data policy,
//! whatever the partitioning and row order.

mod common;

use std::sync::Arc;

use common::*;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Date64Array, Decimal128Array, DictionaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray, TimestampMicrosecondArray, UInt32Array,
    UInt64Array,
};
use datafusion::arrow::datatypes::{Field, Int16Type, Schema};
use datafusion::common::Result;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

/// `rfm(source, args)` fused and through the ordinary plan, both sorted by customer id.
async fn both(ctx: &SessionContext, source: &str, args: &str) -> Result<(String, String)> {
    let call = |fused: bool| format!("SELECT * FROM rfm('{source}'{args}, 'fused={fused}') ORDER BY customer_id");
    let with = text(ctx, &format!("EXPLAIN {}", call(true))).await?;
    let without = text(ctx, &format!("EXPLAIN {}", call(false))).await?;
    assert!(
        with.contains("RfmExec") && !without.contains("RfmExec"),
        "rfm('{source}'{args}): the fused operator must run exactly when asked:\n{with}\n{without}"
    );
    let fused = text(ctx, &call(true)).await?;
    let plain = text(ctx, &call(false)).await?;
    Ok((fused, plain))
}

async fn assert_same(ctx: &SessionContext, source: &str, args: &str) -> Result<()> {
    let (fused, plain) = both(ctx, source, args).await?;
    assert!(fused.lines().count() > 4, "rfm('{source}'{args}) is empty:\n{fused}");
    assert_eq!(fused, plain, "rfm('{source}'{args}): fused vs ordinary plan");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cdnow_every_method_scheme_and_option() -> Result<()> {
    let ctx = cdnow(4).await?;
    for args in [
        "",
        ", '1998-01-01'",
        ", '1997-06-30', 4, 'quantile', 'none'",
        ", 'method=ntile'",
        ", 'scheme=rfm11'",
        ", 'scheme=cn8'",
        ", 'scheme=cn8_en', 'method=median'",
        ", 'bins=10', 'scheme=none'",
        ", 'bins=3', 'scheme=none', 'method=ntile'",
        ", 'monetary=mean'",
        ", 'method=fixed', 'recency_thresholds=30,90,180,365', 'frequency_thresholds=1,2,5,10', 'monetary_thresholds=20,50,100,500'",
        ", 'dedupe=true'",
    ] {
        assert_same(&ctx, "orders", args).await?;
    }
    // The fused plan is what runs by default; an order column falls back to the ordinary plan.
    let explain = text(&ctx, "EXPLAIN SELECT * FROM rfm('orders')").await?;
    assert!(explain.contains("RfmExec"), "{explain}");
    let explain = text(&ctx, "EXPLAIN SELECT * FROM rfm('orders', 'order_column=quantity')").await?;
    assert!(
        !explain.contains("RfmExec") && explain.contains("AggregateExec"),
        "{explain}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn same_rows_whatever_the_partitioning_and_row_order() -> Result<()> {
    let sql = "SELECT * FROM rfm('orders') ORDER BY customer_id";
    let one = text(&cdnow(1).await?, sql).await?;
    let ctx = cdnow(8).await?;
    assert_eq!(one, text(&ctx, sql).await?);
    ctx.sql(
        "CREATE TABLE shuffled AS SELECT * FROM orders
         ORDER BY (customer_id * 7919 + CAST(amount * 100 AS BIGINT)) % 1009 DESC, order_date",
    )
    .await?
    .collect()
    .await?;
    assert_eq!(one, text(&ctx, &sql.replace("'orders'", "'shuffled'")).await?);
    Ok(())
}

/// A deterministic pseudo-random sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Transactions with every policy case: refunds (and refund-only customers), zero, null, NaN
/// and infinite amounts, null ids and times, exact duplicates, dates past the as-of date, ties.
struct Generated {
    customer: Vec<Option<i64>>,
    day: Vec<Option<i32>>,
    amount: Vec<Option<f64>>,
}

fn generate(rows: usize, customers: u64, seed: u64) -> Generated {
    let mut g = Lcg(seed);
    let mut out = Generated {
        customer: vec![],
        day: vec![],
        amount: vec![],
    };
    for i in 0..rows {
        let c = g.next(customers) as i64;
        let day = 10_000 + g.next(400) as i32;
        let amount = match g.next(40) {
            0 => None,
            1 => Some(f64::NAN),
            2 => Some(f64::INFINITY),
            3..=5 => Some(-((g.next(5000) as f64) / 100.0)),
            6 => Some(0.0),
            _ => Some((g.next(100_000) as f64) / 100.0 + 0.005),
        };
        out.customer.push((i % 97 != 5).then_some(c));
        out.day.push((i % 89 != 7).then_some(day));
        out.amount.push(amount);
        if i % 50 == 0 {
            // an exact duplicate
            out.customer.push(out.customer[out.customer.len() - 1]);
            out.day.push(out.day[out.day.len() - 1]);
            out.amount.push(out.amount[out.amount.len() - 1]);
        }
    }
    // A customer with refunds only.
    out.customer.push(Some(customers as i64 + 1));
    out.day.push(Some(10_100));
    out.amount.push(Some(-5.0));
    out
}

/// The generated amounts in cents as Decimal128(12, 2) (NaN and infinities become nulls).
fn cents(g: &Generated) -> Result<ArrayRef> {
    Ok(Arc::new(
        Decimal128Array::from(
            g.amount
                .iter()
                .map(|a| a.filter(|a| a.is_finite()).map(|a| (a * 100.0).round() as i128))
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(12, 2)?,
    ))
}

fn register(ctx: &SessionContext, name: &str, ids: ArrayRef, time: ArrayRef, amount: ArrayRef) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", ids.data_type().clone(), true),
        Field::new("order_date", time.data_type().clone(), true),
        Field::new("amount", amount.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![ids, time, amount])?;
    // Four partitions of uneven size, so customers span partitions.
    let n = batch.num_rows();
    let parts = [0, n / 7, n / 2, n * 5 / 6, n];
    let partitions = parts.windows(2).map(|w| vec![batch.slice(w[0], w[1] - w[0])]).collect();
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, partitions)?))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_id_time_and_amount_type_and_every_policy() -> Result<()> {
    let ctx = context(4)?;
    let g = generate(6_000, 700, 7);
    let days: ArrayRef = Arc::new(Date32Array::from(g.day.clone()));
    let floats: ArrayRef = Arc::new(Float64Array::from(g.amount.clone()));
    let ints = |f: fn(i64) -> i64| g.customer.iter().map(|c| c.map(f)).collect::<Vec<_>>();
    let strings = |prefix: &str| {
        g.customer
            .iter()
            .map(|c| c.map(|c| format!("{prefix}{:04}", (c * 37) % 1000 + c)))
            .collect::<Vec<_>>()
    };
    let cases: Vec<(&str, ArrayRef, ArrayRef, ArrayRef)> = vec![
        (
            "int64",
            Arc::new(Int64Array::from(ints(|c| c))),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        // negative and sparse ids: the index leaves its direct table for a hash map
        (
            "sparse",
            Arc::new(Int64Array::from(ints(|c| {
                if c % 3 == 0 { -c * 1_000_000_007 } else { c << 40 }
            }))),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        (
            "int32",
            Arc::new(Int32Array::from(
                g.customer.iter().map(|c| c.map(|c| c as i32 - 300)).collect::<Vec<_>>(),
            )),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        (
            "uint32",
            Arc::new(UInt32Array::from(
                g.customer.iter().map(|c| c.map(|c| c as u32 * 3)).collect::<Vec<_>>(),
            )),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        // unsigned ids above i64::MAX order as unsigned
        (
            "uint64",
            Arc::new(UInt64Array::from(
                g.customer
                    .iter()
                    .map(|c| c.map(|c| u64::MAX - (c as u64) * 1_000_003))
                    .collect::<Vec<_>>(),
            )),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        (
            "utf8",
            Arc::new(StringArray::from(strings("C"))),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        (
            "large_utf8",
            Arc::new(LargeStringArray::from(strings("L"))),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        (
            "utf8_view",
            Arc::new(StringViewArray::from(strings(
                "a customer id longer than twelve bytes ",
            ))),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        (
            "dictionary",
            Arc::new(
                strings("D")
                    .iter()
                    .map(|s| s.as_deref())
                    .collect::<DictionaryArray<Int16Type>>(),
            ),
            Arc::clone(&days),
            Arc::clone(&floats),
        ),
        // timestamps in a time zone: days are local days
        (
            "timestamp_tz",
            Arc::new(Int64Array::from(ints(|c| c))),
            Arc::new(
                TimestampMicrosecondArray::from(
                    g.day
                        .iter()
                        .enumerate()
                        .map(|(i, d)| d.map(|d| i64::from(d) * 86_400_000_000 + (i as i64 % 86_400) * 1_000_000))
                        .collect::<Vec<_>>(),
                )
                .with_timezone("+05:30"),
            ),
            Arc::clone(&floats),
        ),
        (
            "date64",
            Arc::new(Int64Array::from(ints(|c| c))),
            Arc::new(Date64Array::from(
                g.day
                    .iter()
                    .map(|d| d.map(|d| i64::from(d) * 86_400_000))
                    .collect::<Vec<_>>(),
            )),
            Arc::clone(&floats),
        ),
        (
            "decimal_amounts",
            Arc::new(Int64Array::from(ints(|c| c))),
            Arc::clone(&days),
            cents(&g)?,
        ),
        (
            "float32_amounts",
            Arc::new(Int64Array::from(ints(|c| c))),
            Arc::clone(&days),
            Arc::new(Float32Array::from(
                g.amount.iter().map(|a| a.map(|a| a as f32)).collect::<Vec<_>>(),
            )),
        ),
        (
            "integer_amounts",
            Arc::new(Int64Array::from(ints(|c| c))),
            Arc::clone(&days),
            Arc::new(Int64Array::from(
                g.amount
                    .iter()
                    .map(|a| a.filter(|a| a.is_finite()).map(|a| a.round() as i64))
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    for (name, ids, time, amount) in cases {
        register(&ctx, name, ids, time, amount)?;
        for args in [
            "",
            ", '1998-01-01'",
            ", 'method=ntile'",
            ", 'negative_amounts=exclude', 'scheme=rfm11'",
            ", 'dedupe=true', 'monetary=mean', 'method=median', 'scheme=none'",
        ] {
            assert_same(&ctx, name, args).await?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_input_one_customer_and_massive_ties() -> Result<()> {
    let ctx = context(2)?;
    let days: ArrayRef = Arc::new(Date32Array::from(vec![10_000; 500]));
    register(
        &ctx,
        "ties",
        Arc::new(Int64Array::from((0..500).collect::<Vec<i64>>())),
        Arc::clone(&days),
        Arc::new(Float64Array::from(vec![10.0; 500])),
    )?;
    assert_same(&ctx, "ties", "").await?;
    assert_same(&ctx, "ties", ", 'method=ntile'").await?;
    register(
        &ctx,
        "one",
        Arc::new(Int64Array::from(vec![42; 3])),
        Arc::new(Date32Array::from(vec![10_000, 10_002, 10_001])),
        Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0])),
    )?;
    assert_same(&ctx, "one", "").await?;
    // Nothing survives the policies: both give no rows.
    register(
        &ctx,
        "none",
        Arc::new(Int64Array::from(vec![Some(1), None])),
        Arc::new(Date32Array::from(vec![None, Some(10_000)])),
        Arc::new(Float64Array::from(vec![1.0, 2.0])),
    )?;
    let (fused, plain) = both(&ctx, "none", "").await?;
    assert_eq!(fused, plain);
    assert_eq!(fused.lines().count(), 2, "no rows:\n{fused}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_and_error_policies_behave_as_the_ordinary_plan() -> Result<()> {
    let ctx = cdnow(4).await?;
    for select in [
        // (the outer float sum is rounded: its order, not rfm(), differs between runs)
        "SELECT segment, count(*) AS n, round(sum(monetary), 4) AS revenue FROM rfm('orders', 'fused=FUSED') GROUP BY segment ORDER BY segment",
        "SELECT customer_id, r FROM rfm('orders', 'fused=FUSED') WHERE f >= 4 ORDER BY customer_id",
        "SELECT count(*) FROM rfm('orders', 'fused=FUSED')",
        // Projections that build the scores without the labels, the labels only, the plain
        // SQL's columns, columns out of order and twice, and no score at all.
        "SELECT customer_id, rfm_total, m FROM rfm('orders', 'fused=FUSED') ORDER BY customer_id",
        "SELECT rfm_cell, segment, customer_id FROM rfm('orders', 'fused=FUSED') ORDER BY customer_id",
        "SELECT customer_id, recency_days, frequency, monetary, r, f, m, segment FROM rfm('orders', 'fused=FUSED') ORDER BY customer_id",
        "SELECT tenure_days, customer_id, r, r AS r_again, last_purchase FROM rfm('orders', 'fused=FUSED') ORDER BY customer_id",
        "SELECT customer_id, first_purchase, frequency FROM rfm('orders', 'fused=FUSED') ORDER BY customer_id",
    ] {
        let fused = text(&ctx, &select.replace("FUSED", "true")).await?;
        let plain = text(&ctx, &select.replace("FUSED", "false")).await?;
        assert_eq!(fused, plain, "{select}");
    }
    // A policy set to 'error' fails the same way.
    let g = generate(500, 50, 3);
    register(
        &ctx,
        "bad",
        Arc::new(Int64Array::from(g.customer)),
        Arc::new(Date32Array::from(g.day)),
        Arc::new(Float64Array::from(g.amount)),
    )?;
    for policy in ["'invalid_amounts=error'", "'negative_amounts=error'"] {
        let run = |fused: bool| {
            let ctx = ctx.clone();
            let sql = format!("SELECT * FROM rfm('bad', {policy}, 'fused={fused}')");
            async move { ctx.sql(&sql).await?.collect().await }
        };
        let (a, b) = (run(true).await.unwrap_err(), run(false).await.unwrap_err());
        let (a, b) = (a.strip_backtrace(), b.strip_backtrace());
        assert!(a.contains("and ") && a.contains("= 'error'"), "{a}");
        assert_eq!(a.split(';').next(), b.split(';').next(), "{a}\nvs\n{b}");
    }
    // The fused operator's state counts against the memory pool.
    let tight = SessionContext::new_with_config_rt(
        datafusion::prelude::SessionConfig::new(),
        datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .with_memory_limit(64 * 1024, 1.0)
            .build_arc()?,
    );
    clv_core::register_all(&tight)?;
    tight.register_parquet("orders", CDNOW, Default::default()).await?;
    let e = tight
        .sql("SELECT * FROM rfm('orders')")
        .await?
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("RfmExec") && e.contains("Resources exhausted"), "{e}");
    Ok(())
}

/// A population large enough (300,000 customers) that the operator computes the values and fits
/// the three dimensions on several threads: the same scores and segments as the ordinary plan,
/// compared per score cell (customers, the sum of their ids and of their monetary values in
/// cents, summed exactly).
#[tokio::test(flavor = "multi_thread")]
async fn large_populations_score_on_every_core_as_the_ordinary_plan() -> Result<()> {
    let ctx = context(4)?;
    let mut g = Lcg(11);
    let (mut ids, mut days, mut amounts) = (vec![], vec![], vec![]);
    for c in 0..300_000_i64 {
        for _ in 0..=g.next(2) {
            ids.push(Some(c * 3));
            days.push(Some(10_000 + g.next(700) as i32));
            amounts.push(Some(g.next(50_000) as f64 / 100.0));
        }
    }
    register(
        &ctx,
        "large",
        Arc::new(Int64Array::from(ids)),
        Arc::new(Date32Array::from(days)),
        Arc::new(Float64Array::from(amounts)),
    )?;
    for args in ["", ", 'method=ntile'", ", 'method=median', 'scheme=none'"] {
        let cells = |fused: bool| {
            format!(
                "SELECT r, f, m, segment, count(*), sum(customer_id), sum(CAST(round(monetary * 100) AS BIGINT)) \
                 FROM rfm('large'{args}, 'fused={fused}') GROUP BY r, f, m, segment ORDER BY r, f, m, segment"
            )
        };
        let (fused, plain) = (text(&ctx, &cells(true)).await?, text(&ctx, &cells(false)).await?);
        assert!(fused.lines().count() > 5, "{fused}");
        assert_eq!(fused, plain, "rfm('large'{args}): fused vs ordinary plan");
    }
    Ok(())
}

/// The generated transactions' times as timestamps in `unit` and `zone`: each day at a
/// pseudo-random second of the UTC day (so many rows fall on another local day in a zone),
/// and a fraction of a second.
fn timestamps(g: &Generated, unit: datafusion::arrow::datatypes::TimeUnit, zone: Option<&str>) -> Result<ArrayRef> {
    let seconds: Vec<Option<i64>> = g
        .day
        .iter()
        .enumerate()
        .map(|(i, d)| d.map(|d| i64::from(d) * 86_400 + (i as i64 * 7_919) % 86_400))
        .collect();
    let per_second = match unit {
        datafusion::arrow::datatypes::TimeUnit::Second => 1,
        datafusion::arrow::datatypes::TimeUnit::Millisecond => 1_000,
        datafusion::arrow::datatypes::TimeUnit::Microsecond => 1_000_000,
        datafusion::arrow::datatypes::TimeUnit::Nanosecond => 1_000_000_000,
    };
    let values: ArrayRef = Arc::new(Int64Array::from(
        seconds
            .iter()
            .map(|s| s.map(|s| s * per_second + per_second / 3))
            .collect::<Vec<_>>(),
    ));
    let naive =
        datafusion::arrow::compute::cast(&values, &datafusion::arrow::datatypes::DataType::Timestamp(unit, None))?;
    Ok(datafusion::arrow::compute::cast(
        &naive,
        &datafusion::arrow::datatypes::DataType::Timestamp(unit, zone.map(Into::into)),
    )?)
}

/// Generated rows with transitions: the rows of `generate`, then for customers 0..40 rows on
/// the days of the daylight-saving changes of 1997–98 in Europe and the US (1997-10-26,
/// 1998-03-29, 1998-04-05), at times spread over the day.
fn generate_with_transitions() -> Generated {
    let mut g = generate(3_000, 300, 5);
    for (i, c) in (0..40).enumerate() {
        let day = [10_160, 10_314, 10_321][i % 3];
        g.customer.push(Some(c));
        g.day.push(Some(day));
        g.amount.push(Some(10.0 + c as f64));
    }
    g
}

/// Timestamp times in every unit, without a zone, in UTC, and in zones where the local day
/// differs from the UTC day (with daylight-saving changes in the data): the fused operator's
/// days and as-of bound give the ordinary plan's rows.
#[tokio::test(flavor = "multi_thread")]
async fn timestamps_in_every_unit_and_zone_as_the_ordinary_plan() -> Result<()> {
    use datafusion::arrow::datatypes::TimeUnit;
    let ctx = context(4)?;
    let g = generate_with_transitions();
    let floats: ArrayRef = Arc::new(Float64Array::from(g.amount.clone()));
    let ids: ArrayRef = Arc::new(Int64Array::from(g.customer.clone()));
    for (unit, zone) in [
        (TimeUnit::Microsecond, None),
        (TimeUnit::Microsecond, Some("UTC")),
        (TimeUnit::Microsecond, Some("Europe/Paris")),
        (TimeUnit::Microsecond, Some("America/New_York")),
        (TimeUnit::Millisecond, None),
        (TimeUnit::Millisecond, Some("Asia/Tokyo")),
        (TimeUnit::Nanosecond, Some("-03:30")),
        (TimeUnit::Second, Some("Australia/Lord_Howe")),
        (TimeUnit::Nanosecond, None),
    ] {
        let name = format!("ts_{unit:?}_{}", zone.unwrap_or("naive").replace(['/', ':', '-'], "_"));
        register(
            &ctx,
            &name,
            Arc::clone(&ids),
            timestamps(&g, unit, zone)?,
            Arc::clone(&floats),
        )?;
        // The default as-of date, and one on a daylight-saving change (Paris, 1998-03-29).
        for args in ["", ", '1998-03-29', 'method=ntile', 'negative_amounts=exclude'"] {
            assert_same(&ctx, &name, args).await?;
        }
    }
    Ok(())
}

/// Local days, by hand: 2021-03-27 23:30 UTC is 2021-03-28 in Tokyo (+09:00) and 2021-03-27
/// in New York; a row at 2021-03-28 16:00 UTC is 2021-03-29 in Tokyo, after the as-of date
/// 2021-03-28 there only. So Tokyo keeps one row, on the as-of day (recency 0); New York and
/// UTC keep both, the last on 2021-03-28 (recency 0).
#[tokio::test(flavor = "multi_thread")]
async fn local_days_and_the_as_of_bound_by_hand() -> Result<()> {
    let ctx = context(2)?;
    for (zone, want) in [
        ("Asia/Tokyo", "0|1|10.0"),
        ("America/New_York", "0|2|30.0"),
        ("UTC", "0|2|30.0"),
    ] {
        let t = TimestampMicrosecondArray::from(vec![1_616_887_800_000_000, 1_616_947_200_000_000]).with_timezone(zone);
        let name = format!("hand_{}", zone.replace('/', "_"));
        register(
            &ctx,
            &name,
            Arc::new(Int64Array::from(vec![7, 7])),
            Arc::new(t),
            Arc::new(Float64Array::from(vec![10.0, 20.0])),
        )?;
        for fused in [true, false] {
            let got = text(
                &ctx,
                &format!(
                    "SELECT concat_ws('|', recency_days, frequency, monetary) FROM rfm('{name}', '2021-03-28', 'scheme=none', 'fused={fused}')"
                ),
            )
            .await?;
            assert!(got.contains(want), "{zone}, fused={fused}: want {want}\n{got}");
        }
    }
    Ok(())
}

/// The fused operator's policy report of `rfm(source args)` with `policy_counts` on (`None`
/// when it has none), and `clv_policy_report`'s for the same options.
async fn both_reports(
    ctx: &SessionContext,
    source: &str,
    args: &str,
) -> Result<(Option<clv_core::PolicyReport>, clv_core::PolicyReport)> {
    let df = ctx
        .sql(&format!("SELECT * FROM rfm('{source}'{args}, 'policy_counts=true')"))
        .await?;
    let task = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await?;
    datafusion::physical_plan::collect(Arc::clone(&plan), task).await?;
    let fused = clv_core::exec::rfm_exec::policy_report_of(&plan);
    let report = clv_core::PolicyReport::from_batches(
        &query(ctx, &format!("SELECT * FROM clv_policy_report('{source}'{args})")).await?,
    )?;
    Ok((fused, report))
}

/// One scan: the counts the fused operator takes while it aggregates equal
/// `clv_policy_report`'s on inputs with every bad case (null ids and times, null, NaN and
/// infinite amounts, refunds and refund-only customers, zero amounts, duplicates, rows after
/// the as-of date), whatever the id, time and amount types; duplicates count every column.
#[tokio::test(flavor = "multi_thread")]
async fn policy_counts_of_the_one_scan_equal_the_policy_report() -> Result<()> {
    let ctx = context(4)?;
    let g = generate(4_000, 500, 13);
    let floats: ArrayRef = Arc::new(Float64Array::from(g.amount.clone()));
    let ints: ArrayRef = Arc::new(Int64Array::from(g.customer.clone()));
    let strings: ArrayRef = Arc::new(StringArray::from(
        g.customer
            .iter()
            .map(|c| c.map(|c| format!("C{c:05}")))
            .collect::<Vec<_>>(),
    ));
    let days: ArrayRef = Arc::new(Date32Array::from(g.day.clone()));
    register(&ctx, "p_int", Arc::clone(&ints), Arc::clone(&days), Arc::clone(&floats))?;
    register(
        &ctx,
        "p_str",
        Arc::clone(&strings),
        timestamps(
            &g,
            datafusion::arrow::datatypes::TimeUnit::Microsecond,
            Some("Europe/Paris"),
        )?,
        Arc::clone(&floats),
    )?;
    register(&ctx, "p_dec", Arc::clone(&ints), Arc::clone(&days), cents(&g)?)?;
    // An extra column that tells some exact duplicates of the three columns apart (and is
    // null in some rows).
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", ints.data_type().clone(), true),
        Field::new("order_date", days.data_type().clone(), true),
        Field::new("amount", floats.data_type().clone(), true),
        Field::new("note", datafusion::arrow::datatypes::DataType::Int64, true),
    ]));
    let note: ArrayRef = Arc::new(Int64Array::from(
        (0..ints.len())
            .map(|i| match i % 150 {
                0 => None,
                1..=3 => Some(i as i64),
                _ => Some(1),
            })
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::clone(&ints), Arc::clone(&days), Arc::clone(&floats), note],
    )?;
    let n = batch.num_rows();
    ctx.register_table(
        "p_wide",
        Arc::new(MemTable::try_new(
            schema,
            vec![vec![batch.slice(0, n / 3)], vec![batch.slice(n / 3, n - n / 3)]],
        )?),
    )?;
    for source in ["p_int", "p_str", "p_dec", "p_wide"] {
        for args in [
            "",
            ", 'as_of=1998-01-01'",
            ", 'as_of=1997-09-15', 'negative_amounts=exclude'",
            ", 'negative_amounts=exclude', 'method=ntile'",
        ] {
            let (fused, report) = both_reports(&ctx, source, args).await?;
            let fused = fused.unwrap_or_else(|| panic!("{source}{args}: no report from the fused operator"));
            // The fixture has every case (refund-only customers only when refunds are netted).
            let r = &report;
            assert!(
                r.duplicate_rows > 0 && r.invalid_amount > 0 && r.negative_amount > 0,
                "{r:?}"
            );
            assert!(r.null_customer_or_time > 0 && r.zero_amount > 0, "{r:?}");
            assert!(args.contains("exclude") || r.customers_without_purchases > 0, "{r:?}");
            assert!(!args.contains("as_of") || r.after_as_of > 0, "{r:?}");
            assert_eq!(fused, report, "{source}{args}");
        }
    }
    // The extra column tells some duplicates of the three columns apart.
    let (three, wide) = (
        both_reports(&ctx, "p_int", "").await?.1,
        both_reports(&ctx, "p_wide", "").await?.1,
    );
    assert!(wide.duplicate_rows < three.duplicate_rows, "{wide:?} vs {three:?}");
    // With dedupe the operator never sees the duplicates: no report, the CLI asks for one.
    assert!(both_reports(&ctx, "p_int", ", 'dedupe=true'").await?.0.is_none());
    // Nothing used: no default as-of date either way.
    register(
        &ctx,
        "p_none",
        Arc::new(Int64Array::from(vec![Some(1), None])),
        Arc::new(Date32Array::from(vec![None, Some(10_000)])),
        Arc::new(Float64Array::from(vec![1.0, 2.0])),
    )?;
    let (fused, report) = both_reports(&ctx, "p_none", "").await?;
    assert_eq!(fused, Some(report));
    Ok(())
}
