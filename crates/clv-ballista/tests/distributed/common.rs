//! In-process clusters on loopback, CDNOW split over Parquet files, and result comparison.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use clv_ballista::LocalCluster;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use tokio::net::TcpListener;

pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/");

/// The CDNOW sample (6,919 transactions of 2,357 customers, the data of the BG/NBD and
/// Gamma-Gamma papers) dealt round-robin into this many Parquet files, so the transactions of
/// nearly every repeat customer span several files.
pub const PARTS: usize = 4;

/// Relative tolerance of floating-point comparisons between local and distributed results.
pub const FLOAT_TOLERANCE: f64 = 1e-9;

/// The folder of CDNOW split into [`PARTS`] files (written once; identical content on every run).
pub async fn cdnow_parts() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cdnow_sample_parts");
    let paths: Vec<PathBuf> = (0..PARTS).map(|k| dir.join(format!("part-{k}.parquet"))).collect();
    if paths.iter().all(|p| p.exists()) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    let batches = SessionContext::new()
        .read_parquet(format!("{TESTDATA}cdnow_sample.parquet"), ParquetReadOptions::default())
        .await?
        .collect()
        .await?;
    let all = concat_batches(&batches[0].schema(), &batches)?;
    for (part, path) in paths.iter().enumerate() {
        let rows = UInt32Array::from_iter_values((part..all.num_rows()).step_by(PARTS).map(|i| i as u32));
        let columns = all
            .columns()
            .iter()
            .map(|c| take(c, &rows, None))
            .collect::<Result<Vec<_>, _>>()?;
        // Written under a temporary name and renamed: concurrent test binaries never see half a file.
        let tmp = dir.join(format!("part-{part}.{}.tmp", std::process::id()));
        let mut writer = ArrowWriter::try_new(std::fs::File::create(&tmp)?, all.schema(), None)?;
        writer.write(&RecordBatch::try_new(all.schema(), columns)?)?;
        writer.close()?;
        std::fs::rename(&tmp, path)?;
    }
    Ok(dir)
}

/// Registers the test tables: `orders` (the split CDNOW), `donations` (BG/BB), `cohorts` (sBG).
pub async fn register_tables(ctx: &SessionContext) -> Result<()> {
    let parts = cdnow_parts().await?;
    ctx.register_parquet(
        "orders",
        &format!("{}/", parts.display()),
        ParquetReadOptions::default(),
    )
    .await?;
    ctx.register_csv(
        "donations",
        &format!("{TESTDATA}donations_bgbb.csv"),
        CsvReadOptions::new(),
    )
    .await?;
    ctx.register_csv(
        "cohorts",
        &format!("{TESTDATA}sbg_retention_cohorts.csv"),
        CsvReadOptions::new(),
    )
    .await?;
    Ok(())
}

/// A local (single-process) context with clv and the test tables.
pub async fn local() -> Result<SessionContext> {
    let ctx = SessionContext::new();
    clv_core::register_all(&ctx)?;
    register_tables(&ctx).await?;
    Ok(ctx)
}

/// A scheduler and two executors, all with clv, one task slot each, default scheduling.
pub fn clv_cluster() -> LocalCluster {
    LocalCluster {
        work_dir: Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf(),
        ..LocalCluster::new(2)
    }
}

/// A scratch folder for an executor's shuffle files.
pub fn work_dir(name: &str) -> String {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name).display().to_string()
}

/// A client of a test cluster with the test tables; 4 partitions per shuffle (Ballista's default
/// 16 mostly adds per-task overhead on two one-slot executors and this little data).
pub async fn client(url: &str) -> Result<SessionContext> {
    let ctx = clv_ballista::remote_with_config(url, clv_ballista::session_config().with_target_partitions(4)).await?;
    register_tables(&ctx).await?;
    Ok(ctx)
}

/// Runs `setup` statements then `sql`, returning the result as one batch.
pub async fn run(ctx: &SessionContext, setup: &[&str], sql: &str) -> Result<RecordBatch> {
    for s in setup {
        ctx.sql(s).await?.collect().await?;
    }
    let df = ctx.sql(sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(concat_batches(&schema, &batches)?)
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= FLOAT_TOLERANCE * a.abs().max(b.abs()).max(1.0)
}

/// Differences between two columns: floats within [`FLOAT_TOLERANCE`], everything else equal.
fn column_differences(name: &str, a: &ArrayRef, b: &ArrayRef, out: &mut Vec<String>) {
    if a.data_type() != b.data_type() || a.len() != b.len() {
        out.push(format!(
            "{name}: {} x {} vs {} x {}",
            a.data_type(),
            a.len(),
            b.data_type(),
            b.len()
        ));
        return;
    }
    match a.data_type() {
        DataType::Float64 => {
            let (a, b) = (a.as_primitive::<Float64Type>(), b.as_primitive::<Float64Type>());
            if let Some(i) = (0..a.len())
                .find(|&i| a.is_null(i) != b.is_null(i) || (a.is_valid(i) && !close(a.value(i), b.value(i))))
            {
                out.push(format!("{name} row {i}: {:?} vs {:?}", a.slice(i, 1), b.slice(i, 1)));
            }
        }
        DataType::Struct(fields) => {
            let (a, b) = (a.as_struct(), b.as_struct());
            for (k, f) in fields.iter().enumerate() {
                column_differences(&format!("{name}.{}", f.name()), a.column(k), b.column(k), out);
            }
        }
        _ if a != b => out.push(format!("{name}: {a:?} vs {b:?}")),
        _ => {}
    }
}

/// Fails unless `local` and `distributed` have the same columns and rows (floats within tolerance).
pub fn assert_same(case: &str, local: &RecordBatch, distributed: &RecordBatch) {
    let mut diff = vec![];
    if local.num_rows() != distributed.num_rows() {
        diff.push(format!("{} rows vs {}", local.num_rows(), distributed.num_rows()));
    }
    for (k, field) in local.schema().fields().iter().enumerate() {
        match distributed.column_by_name(field.name()) {
            Some(d) if diff.is_empty() => column_differences(field.name(), local.column(k), d, &mut diff),
            Some(_) => {}
            None => diff.push(format!("column {} missing", field.name())),
        }
    }
    assert!(
        diff.is_empty(),
        "{case}: local vs distributed differ:\n{}",
        diff.join("\n")
    );
}

/// The scheduler's distributed plan of `sql` (`EXPLAIN` on a cluster).
pub async fn distributed_plan(ctx: &SessionContext, sql: &str) -> Result<String> {
    let explain = run(ctx, &[], &format!("EXPLAIN {sql}")).await?;
    let (kind, plan) = (
        explain.column(0).as_string::<i32>(),
        explain.column(1).as_string::<i32>(),
    );
    match (0..explain.num_rows()).find(|&i| kind.value(i).contains("distributed")) {
        Some(i) => Ok(plan.value(i).to_string()),
        None => exec_err!("EXPLAIN returned no distributed plan: {explain:?}"),
    }
}

/// A free loopback address (for child processes).
pub async fn free_address() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0").await?.local_addr()?)
}
