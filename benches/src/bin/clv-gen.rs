//! `clv-gen --rows 10000000 --out benches/data/tx_10m.parquet [--string-ids] [--sorted] [--seed 42]
//! [--time date|ts-us|ts-ms|ts-us-tz|ts-ms-tz] [--zstd]`

use clap::Parser;
use clv_benches::{GeneratorConfig, TimeShape, generate};

#[derive(Parser)]
#[command(about = "Writes a seeded synthetic transaction log to Parquet")]
struct Args {
    /// Number of transactions.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Mean purchases per customer.
    #[arg(long, default_value_t = 11.0)]
    mean_purchases: f64,
    /// String customer ids instead of Int64.
    #[arg(long)]
    string_ids: bool,
    /// Keep each customer's rows together (sorted by customer).
    #[arg(long)]
    sorted: bool,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The order time column: date (Date32), ts-us / ts-ms (Timestamp µs / ms), ts-us-tz /
    /// ts-ms-tz (the same in Europe/Paris).
    #[arg(long, default_value = "date")]
    time: String,
    /// zstd compression instead of snappy.
    #[arg(long)]
    zstd: bool,
    /// Output Parquet file.
    #[arg(long)]
    out: std::path::PathBuf,
}

fn main() -> datafusion::common::Result<()> {
    let a = Args::parse();
    let config = GeneratorConfig {
        rows: a.rows,
        mean_purchases: a.mean_purchases,
        string_ids: a.string_ids,
        shuffled: !a.sorted,
        seed: a.seed,
        time: TimeShape::parse(&a.time).ok_or_else(|| {
            datafusion::error::DataFusionError::Plan(format!(
                "--time {}: expected date, ts-us, ts-ms, ts-us-tz or ts-ms-tz",
                a.time
            ))
        })?,
        zstd: a.zstd,
    };
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    let (rows, customers) = generate(&config, &a.out)?;
    eprintln!(
        "wrote {rows} transactions of {customers} customers to {}",
        a.out.display()
    );
    Ok(())
}
