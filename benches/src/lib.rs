//! A seeded generator of realistic transaction logs, for benchmarks.
//!
//! Customers arrive uniformly over the first year; each makes `1 + N` purchases where `N` is
//! Poisson with a gamma-distributed rate (a negative binomial: heavy-tailed counts, the NBD
//! assumption of the buy-till-you-die models), spread uniformly between the arrival and the end of
//! the second year. Spend per purchase is gamma with a gamma-distributed scale per customer (the
//! gamma-gamma spend model), rounded to cents. The same seed gives the same file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, Poisson};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    /// Number of transactions.
    pub rows: u64,
    /// Mean purchases per customer (customers ≈ rows / mean).
    pub mean_purchases: f64,
    /// String ids (`C000000123`) instead of Int64.
    pub string_ids: bool,
    /// Shuffle rows within blocks of a million, so a customer's rows are not adjacent.
    pub shuffled: bool,
    /// The seed.
    pub seed: u64,
    /// The order time column's type.
    pub time: TimeShape,
    /// Parquet compression: snappy (the default) or zstd.
    pub zstd: bool,
}

/// The order time column's type: what transaction logs have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeShape {
    /// `Date32` (the day only).
    Date,
    /// `Timestamp(µs)` without a time zone.
    Micros,
    /// `Timestamp(ms)` without a time zone.
    Millis,
    /// `Timestamp(µs, "Europe/Paris")`.
    MicrosZoned,
    /// `Timestamp(ms, "Europe/Paris")`.
    MillisZoned,
}

/// The zone of the zoned time shapes (daylight-saving changes twice a year).
pub const ZONE: &str = "Europe/Paris";

impl TimeShape {
    /// The shapes by name: `date`, `ts-us`, `ts-ms`, `ts-us-tz`, `ts-ms-tz`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "date" => Self::Date,
            "ts-us" => Self::Micros,
            "ts-ms" => Self::Millis,
            "ts-us-tz" => Self::MicrosZoned,
            "ts-ms-tz" => Self::MillisZoned,
            _ => return None,
        })
    }

    fn data_type(self) -> DataType {
        use datafusion::arrow::datatypes::TimeUnit;
        match self {
            Self::Date => DataType::Date32,
            Self::Micros => DataType::Timestamp(TimeUnit::Microsecond, None),
            Self::Millis => DataType::Timestamp(TimeUnit::Millisecond, None),
            Self::MicrosZoned => DataType::Timestamp(TimeUnit::Microsecond, Some(ZONE.into())),
            Self::MillisZoned => DataType::Timestamp(TimeUnit::Millisecond, Some(ZONE.into())),
        }
    }

    /// The column of `days` with the `seconds` into each day (local time for the zoned shapes,
    /// so the local day is the generated one).
    fn column(self, days: &[i32], seconds: &[i64]) -> ArrayRef {
        use datafusion::arrow::array::{TimestampMicrosecondArray, TimestampMillisecondArray};
        let utc = |d: i32, s: i64| i64::from(d) * 86_400 + s;
        // Europe/Paris is UTC+1 or +2: a local time of 02:00–23:00 stays on its local day.
        let local = |d: i32, s: i64| utc(d, s) - 3_600;
        let values = |f: &dyn Fn(i32, i64) -> i64, per_second: i64| -> Vec<i64> {
            days.iter().zip(seconds).map(|(d, s)| f(*d, *s) * per_second).collect()
        };
        match self {
            Self::Date => Arc::new(Date32Array::from(days.to_vec())),
            Self::Micros => Arc::new(TimestampMicrosecondArray::from(values(&utc, 1_000_000))),
            Self::Millis => Arc::new(TimestampMillisecondArray::from(values(&utc, 1_000))),
            Self::MicrosZoned => {
                Arc::new(TimestampMicrosecondArray::from(values(&local, 1_000_000)).with_timezone(ZONE))
            }
            Self::MillisZoned => Arc::new(TimestampMillisecondArray::from(values(&local, 1_000)).with_timezone(ZONE)),
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            rows: 1_000_000,
            mean_purchases: 11.0,
            string_ids: false,
            shuffled: true,
            seed: 42,
            time: TimeShape::Date,
            zstd: false,
        }
    }
}

const DAY0: i32 = 19_358; // 2023-01-01
const BLOCK: usize = 1 << 20;

/// Writes the transactions to `path` as Parquet; returns (rows, customers).
pub fn generate(config: &GeneratorConfig, path: &Path) -> Result<(u64, u64)> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "customer_id",
            if config.string_ids {
                DataType::Utf8
            } else {
                DataType::Int64
            },
            false,
        ),
        Field::new("order_date", config.time.data_type(), false),
        Field::new("amount", DataType::Float64, false),
    ]));
    let props = WriterProperties::builder()
        .set_compression(if config.zstd {
            Compression::ZSTD(Default::default())
        } else {
            Compression::SNAPPY
        })
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let file = File::create(path).map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props))?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    // Purchases beyond the first: Poisson(lambda), lambda ~ Gamma(r = 0.6, mean = mean - 1).
    let r = 0.6;
    let rate = Gamma::new(r, (config.mean_purchases - 1.0).max(0.01) / r).expect("valid gamma");
    let spend_scale = Gamma::new(3.0, 10.0).expect("valid gamma");
    let mut rows: Vec<(i64, i32, f64, i64)> = Vec::with_capacity(BLOCK + 10_000);
    let (mut written, mut customers) = (0_u64, 0_u64);
    while written < config.rows {
        let id = customers as i64 + 1;
        customers += 1;
        let lambda: f64 = rate.sample(&mut rng);
        let extra = if lambda > 0.0 {
            Poisson::new(lambda).map_or(0.0, |p| p.sample(&mut rng))
        } else {
            0.0
        };
        let n = (1 + extra as u64).min(config.rows - written);
        let arrival = rng.gen_range(0..365);
        let spend = Gamma::new(2.0, spend_scale.sample(&mut rng) / 2.0).expect("valid gamma");
        for k in 0..n {
            let day = if k == 0 { arrival } else { rng.gen_range(arrival..730) };
            let amount: f64 = (Distribution::<f64>::sample(&spend, &mut rng) * 100.0).round() / 100.0;
            // A time of day, 02:00 to 23:00 (drawn only for timestamp shapes, so the Date32
            // files stay as they were).
            let second = if config.time == TimeShape::Date {
                0
            } else {
                rng.gen_range(7_200..82_800)
            };
            rows.push((id, DAY0 + day, amount, second));
        }
        written += n;
        if rows.len() >= BLOCK || written >= config.rows {
            if config.shuffled {
                rows.shuffle(&mut rng);
            }
            for chunk in rows.chunks(65_536) {
                let ids: ArrayRef = if config.string_ids {
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|r| format!("C{:09}", r.0)),
                    ))
                } else {
                    Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.0)))
                };
                let batch = RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        ids,
                        config.time.column(
                            &chunk.iter().map(|r| r.1).collect::<Vec<_>>(),
                            &chunk.iter().map(|r| r.3).collect::<Vec<_>>(),
                        ),
                        Arc::new(Float64Array::from_iter_values(chunk.iter().map(|r| r.2))),
                    ],
                )?;
                writer.write(&batch)?;
            }
            rows.clear();
        }
    }
    writer.close()?;
    Ok((written, customers))
}

/// Timing helpers shared by the side-by-side runners.
pub mod timing {
    use std::time::Instant;

    use datafusion::common::Result;
    use datafusion::prelude::SessionContext;

    /// Runs `sql` to completion; returns (seconds, rows).
    pub async fn time_query(ctx: &SessionContext, sql: &str) -> Result<(f64, usize)> {
        let start = Instant::now();
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok((
            start.elapsed().as_secs_f64(),
            batches.iter().map(|b| b.num_rows()).sum(),
        ))
    }

    /// The median (the upper one of an even count) of `v`, which must not be empty.
    pub fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}
