//! `clv`: customer-value analytics on transaction files from the command line.

mod output;
mod sample;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use clv::prelude::*;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::MemTable;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};

use output::Format;

#[derive(Parser)]
#[command(name = "clv", version, about = "Customer-value analytics (RFM, LTV, churn) on Apache DataFusion", long_about = None)]
#[command(after_help = "Try it on the bundled CDNOW data:\n  clv rfm")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// RFM scores and segments per customer, with segment sizes and data-policy counts.
    #[command(
        after_help = "Examples:\n  clv rfm                                  # the bundled CDNOW sample\n  clv rfm orders.parquet --as-of 1998-07-01 --bins 5\n  clv rfm 'data/*.parquet' --scheme rfm11 --out rfm.csv\n  clv rfm orders.csv --customer-col cust --time-col ts --amount-col total"
    )]
    Rfm(RfmArgs),
    /// Runs SQL with every clv function registered.
    #[command(
        after_help = "Examples:\n  clv sql \"SELECT segment, count(*) FROM rfm('cdnow') GROUP BY 1\"\n  clv sql --table orders=orders.parquet \"SELECT * FROM rfm('orders') LIMIT 10\" --format csv"
    )]
    Sql(SqlArgs),
}

#[derive(Args)]
struct OutputArgs {
    /// Output format (default: from --out's extension, else a table).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write the result to this file (.csv, .json, .parquet).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ContractArgs {
    /// Customer id column [default: customer_id].
    #[arg(long)]
    customer_col: Option<String>,
    /// Transaction date/timestamp column [default: order_date].
    #[arg(long)]
    time_col: Option<String>,
    /// Amount column [default: amount].
    #[arg(long)]
    amount_col: Option<String>,
    /// Order id column: frequency counts distinct orders.
    #[arg(long)]
    order_col: Option<String>,
    /// As-of date YYYY-MM-DD [default: the day after the last transaction].
    #[arg(long)]
    as_of: Option<String>,
    /// Negative amounts: net, exclude or error [default: net].
    #[arg(long)]
    negative_amounts: Option<String>,
    /// Null/NaN/infinite amounts: exclude or error [default: exclude].
    #[arg(long)]
    invalid_amounts: Option<String>,
    /// Drop exact duplicate rows.
    #[arg(long)]
    dedupe: bool,
    /// Count one purchase per customer per day: none or day [default: none].
    #[arg(long)]
    collapse: Option<String>,
}

#[derive(Args)]
struct RfmArgs {
    /// Transactions: a Parquet or CSV file, folder or glob [default: the bundled CDNOW sample].
    path: Option<String>,
    #[command(flatten)]
    contract: ContractArgs,
    /// Score levels, 2..10 [default: the scheme's, 5].
    #[arg(long)]
    bins: Option<u8>,
    /// quantile, ntile, fixed, mean or median [default: the scheme's].
    #[arg(long)]
    method: Option<String>,
    /// Segment scheme: rf_grid, rfm11, cn8, cn8_en, none, or one from --scheme-file [default: rf_grid].
    #[arg(long)]
    scheme: Option<String>,
    /// Load a segment scheme from a TOML or JSON file (repeatable).
    #[arg(long)]
    scheme_file: Vec<PathBuf>,
    /// Monetary value: sum or mean [default: sum].
    #[arg(long)]
    monetary: Option<String>,
    /// Method fixed: recency thresholds in days, e.g. 30,90,180,365.
    #[arg(long)]
    recency_thresholds: Option<String>,
    /// Method fixed: frequency thresholds, e.g. 1,2,5,10.
    #[arg(long)]
    frequency_thresholds: Option<String>,
    /// Method fixed: monetary thresholds, e.g. 50,100,500,1000.
    #[arg(long)]
    monetary_thresholds: Option<String>,
    /// Preview rows to print.
    #[arg(long, default_value_t = 10)]
    preview: usize,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct SqlArgs {
    /// The query.
    query: String,
    /// Register a table: NAME=PATH (Parquet or CSV file, folder or glob). Repeatable.
    #[arg(long = "table", value_name = "NAME=PATH")]
    tables: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
}

fn context() -> Result<SessionContext> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    clv::register_all(&ctx)?;
    sample::register(&ctx)?;
    Ok(ctx)
}

/// Applies `clv.` options to the session, so the library reads them like SET options.
fn set_options(ctx: &SessionContext, options: &[(&str, Option<String>)]) -> Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let clv = state
        .config_mut()
        .options_mut()
        .extensions
        .get_mut::<ClvOptions>()
        .ok_or_else(|| DataFusionError::Internal("clv options are not registered".into()))?;
    for (key, value) in options {
        if let Some(v) = value {
            clv.set_option(key, v)
                .map_err(|e| DataFusionError::Plan(format!("--{}: {}", key.replace('_', "-"), e.message())))?;
        }
    }
    Ok(())
}

fn contract_options(c: &ContractArgs) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("customer_column", c.customer_col.clone()),
        ("time_column", c.time_col.clone()),
        ("amount_column", c.amount_col.clone()),
        ("order_column", c.order_col.clone()),
        ("as_of", c.as_of.clone()),
        ("negative_amounts", c.negative_amounts.clone()),
        ("invalid_amounts", c.invalid_amounts.clone()),
        ("dedupe", c.dedupe.then(|| "true".to_string())),
        ("collapse", c.collapse.clone()),
    ]
}

async fn run_rfm(args: RfmArgs) -> Result<()> {
    let ctx = context()?;
    for f in &args.scheme_file {
        clv::register_scheme(&ctx, SegmentScheme::from_path(f)?)?;
    }
    let mut options = contract_options(&args.contract);
    options.extend([
        ("bins", args.bins.map(|b| b.to_string())),
        ("method", args.method.clone()),
        ("scheme", args.scheme.clone()),
        ("monetary", args.monetary.clone()),
        ("recency_thresholds", args.recency_thresholds.clone()),
        ("frequency_thresholds", args.frequency_thresholds.clone()),
        ("monetary_thresholds", args.monetary_thresholds.clone()),
    ]);
    set_options(&ctx, &options)?;
    let (source, label) = match &args.path {
        Some(p) => (p.clone(), p.clone()),
        None => (sample::SAMPLE_TABLE.to_string(), "the bundled CDNOW sample".to_string()),
    };
    let rfm = Rfm::new();
    let effective = rfm.options(&ctx)?;
    let result = rfm.dataframe(&ctx, source.as_str()).await?.collect().await?;
    let schema = match result.first() {
        Some(b) => b.schema(),
        None => std::sync::Arc::new(rfm.dataframe(&ctx, source.as_str()).await?.schema().as_arrow().clone()),
    };
    ctx.register_table(
        "rfm_result",
        std::sync::Arc::new(MemTable::try_new(schema, vec![result.clone()])?),
    )?;
    let report = rfm.policy_report(&ctx, source.as_str()).await?;

    if let Some(out) = &args.output.out {
        output::write(&result, args.output.format, Some(out))?;
    } else if args.output.format.is_some_and(|f| f != Format::Table) {
        return output::write(&result, args.output.format, None);
    }
    let specs = clv::plan::rfm::resolve_specs(
        &effective,
        &clv::plan::rfm::RfmFunctions::from_session(&ctx.state()).schemes(),
    )?;
    eprintln!(
        "RFM of {label}: {} customers as of {}, scheme {}, method {} with {} bins",
        report.customers,
        report.as_of.as_deref().unwrap_or("-"),
        effective.rfm_scheme,
        specs.r.method,
        specs.r.bins
    );
    println!("\nSegments");
    let segments = ctx
        .sql(
            "SELECT segment, count(*) AS customers,
                    round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS customer_pct,
                    round(sum(monetary), 2) AS revenue,
                    round(100.0 * sum(monetary) / sum(sum(monetary)) OVER (), 1) AS revenue_pct,
                    round(avg(recency_days), 1) AS avg_recency_days,
                    round(avg(frequency), 2) AS avg_frequency
             FROM rfm_result GROUP BY segment ORDER BY customers DESC, segment",
        )
        .await?
        .collect()
        .await?;
    output::write(&segments, Some(Format::Table), None)?;
    println!("\nPreview (top {} by R+F+M, then customer id)", args.preview);
    let preview = ctx
        .sql(&format!(
            "SELECT customer_id, recency_days, frequency, round(monetary, 2) AS monetary, r, f, m, rfm_cell, segment
             FROM rfm_result ORDER BY rfm_total DESC, customer_id LIMIT {}",
            args.preview
        ))
        .await?
        .collect()
        .await?;
    output::write(&preview, Some(Format::Table), None)?;
    print_report(&report, &effective);
    if let Some(out) = &args.output.out {
        println!(
            "\nWrote {} rows to {}",
            result.iter().map(RecordBatch::num_rows).sum::<usize>(),
            out.display()
        );
    }
    Ok(())
}

fn print_report(report: &PolicyReport, options: &ClvOptions) {
    println!("\nData policies");
    for (policy, action, n) in report.lines(options) {
        if action.is_empty() {
            println!("  {policy:<30} {n:>10}");
        } else {
            println!("  {policy:<30} {n:>10}  {action}");
        }
    }
}

async fn register_path(ctx: &SessionContext, name: &str, path: &str) -> Result<()> {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        ctx.register_csv(name, path, CsvReadOptions::new()).await
    } else if lower.ends_with(".parquet") || Path::new(path).is_dir() || path.contains('*') {
        ctx.register_parquet(name, path, ParquetReadOptions::default()).await
    } else {
        plan_err!("--table {name}={path}: expected a .parquet or .csv file, a folder or a glob")
    }
}

async fn run_sql(args: SqlArgs) -> Result<()> {
    let ctx = context()?;
    for t in &args.tables {
        let Some((name, path)) = t.split_once('=') else {
            return plan_err!("--table '{t}': expected NAME=PATH");
        };
        register_path(&ctx, name.trim(), path.trim()).await?;
    }
    let batches = ctx.sql(&args.query).await?.collect().await?;
    output::write(&batches, args.output.format, args.output.out.as_deref())
}

/// One line, without DataFusion's nested "Error during planning:" prefixes or backtraces.
fn one_line(e: &DataFusionError) -> String {
    let text = e.find_root().message().to_string();
    text.replace("Error during planning: ", "").replace('\n', " ")
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rfm(a) => run_rfm(a).await,
        Command::Sql(a) => run_sql(a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}
