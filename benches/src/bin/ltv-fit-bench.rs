//! Times the BG/NBD and Pareto/NBD fits and BG/NBD scoring, and writes the summaries it used as
//! CSV so `benches/run-ltv.sh` can time Python lifetimes on exactly the same rows.
//!
//! `ltv-fit-bench --out-dir benches/data [--runs 5] [--customers 100000,1000000]`

use std::io::Write;
use std::time::Instant;

use clap::Parser;
use clv::ltv::simulate::{BgNbdSimulator, Observation};
use clv::ltv::{
    BgNbd, BgNbdParams, FittedBgNbd, FittedParetoNbd, ParetoNbd, TimeUnit, TransactionModel, TransactionSummary,
};
use clv_benches::timing::median;

#[derive(Parser)]
struct Args {
    /// Where to write the summaries (CSV: frequency,recency,T).
    #[arg(long)]
    out_dir: std::path::PathBuf,
    /// Timed runs per fit (median reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Simulated summary sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [100_000usize, 1_000_000])]
    customers: Vec<usize>,
    /// Only the scoring figures (1M-customer sets): each model fitted once, no fit timing.
    #[arg(long)]
    scoring_only: bool,
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = vec![];
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    (median(times), last.expect("at least one run"))
}

fn write_csv(path: &std::path::Path, d: &TransactionSummary) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "frequency,recency,T")?;
    for i in 0..d.len() {
        writeln!(w, "{},{},{}", d.frequency()[i], d.recency()[i], d.t()[i])?;
    }
    Ok(())
}

fn read_cdnow() -> TransactionSummary {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/cdnow_sample_summary.csv"
    ))
    .expect("testdata");
    let rows: Vec<(f64, f64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().expect("number")).collect();
            (v[1], v[2], v[3])
        })
        .collect();
    TransactionSummary::from_rows(&rows, TimeUnit::Week).expect("valid")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    std::fs::create_dir_all(&a.out_dir)?;
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    // Times on a daily grid (in weeks), as real summaries built from dates are.
    let sim =
        BgNbdSimulator::new(truth, Observation::Uniform { min: 0.0, max: 52.0 }, TimeUnit::Week)?.resolution(1.0 / 7.0);
    let mut sets = vec![("cdnow".to_string(), read_cdnow())];
    for n in &a.customers {
        sets.push((format!("sim_{n}"), sim.simulate(*n, 7)?));
    }
    println!(
        "| data | customers | model | median fit s ({} runs) | r | alpha | a / s | b / beta | LL |",
        a.runs
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, data) in &sets {
        if a.scoring_only {
            if data.len() >= 1_000_000 {
                scoring(data, &BgNbd::new().fit(data)?, &ParetoNbd::new().fit(data)?, a.runs)?;
            }
            continue;
        }
        write_csv(&a.out_dir.join(format!("btyd_{name}.csv")), data)?;
        let (t, bg) = time(a.runs, || BgNbd::new().fit(data));
        let bg = bg?;
        let p = bg.params();
        println!(
            "| {name} | {} | clv BG/NBD | {t:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.2} |",
            data.len(),
            p.r,
            p.alpha,
            p.a,
            p.b,
            bg.log_likelihood().unwrap_or(f64::NAN)
        );
        let (t, pareto) = time(a.runs.min(3), || ParetoNbd::new().fit(data));
        let pareto = pareto?;
        let p = pareto.params();
        println!(
            "| {name} | {} | clv Pareto/NBD | {t:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.2} |",
            data.len(),
            p.r,
            p.alpha,
            p.s,
            p.beta,
            pareto.log_likelihood().unwrap_or(f64::NAN)
        );
        if data.len() >= 1_000_000 {
            scoring(data, &bg, &pareto, a.runs)?;
        }
    }
    Ok(())
}

/// Scoring throughput of BG/NBD and Pareto/NBD fitted to `data`, in Rust and through SQL.
fn scoring(
    data: &TransactionSummary,
    bg: &FittedBgNbd,
    pareto: &FittedParetoNbd,
    runs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let report = |what: &str, (t, v): (f64, Result<Vec<f64>, clv::ltv::ModelError>)| {
        v.map(|v| println!("{what} scoring: {:.1} M customers/s", v.len() as f64 / t / 1e6))
    };
    println!();
    report("Pareto/NBD p_alive", time(runs, || pareto.p_alive_batch(data)))?;
    report("BG/NBD p_alive", time(runs, || bg.p_alive_batch(data)))?;
    report(
        "BG/NBD expected purchases (52 weeks)",
        time(runs, || bg.expected_purchases_batch(52.0, data)),
    )?;
    report(
        "Pareto/NBD expected purchases (52 weeks)",
        time(runs, || pareto.expected_purchases_batch(52.0, data)),
    )?;
    sql_scoring(data, runs)
}

/// The same scoring through SQL: the model from a one-row fit joined to every customer, on a
/// two-partition session (the machine's cores).
fn sql_scoring(data: &TransactionSummary, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;
    let column = |v: &[f64]| Arc::new(Float64Array::from(v.to_vec())) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        ("x", column(data.frequency())),
        ("t_x", column(data.recency())),
        ("t", column(data.t())),
    ])?;
    let ctx = SessionContext::new();
    clv::register_all(&ctx)?;
    // Batches of 8192 rows (DataFusion's default batch size) over two partitions.
    let mut parts = vec![vec![], vec![]];
    for (i, start) in (0..batch.num_rows()).step_by(8192).enumerate() {
        parts[i % 2].push(batch.slice(start, 8192.min(batch.num_rows() - start)));
    }
    let table = datafusion::datasource::MemTable::try_new(batch.schema(), parts)?;
    ctx.register_table("s", Arc::new(table))?;
    // Each query on a new runtime: its worker threads start without the memos a thread keeps
    // between batches, so a figure is one query's cold throughput, not a repeat's.
    let collect = |sql: &str| -> Result<Vec<RecordBatch>, Box<dyn std::error::Error>> {
        let rt = tokio::runtime::Runtime::new()?;
        Ok(rt.block_on(async { ctx.sql(sql).await?.collect().await })?)
    };
    for (model, fit) in [("BG/NBD", "bgnbd_fit"), ("Pareto/NBD", "pareto_nbd_fit")] {
        collect(&format!(
            "CREATE OR REPLACE TABLE m AS SELECT {fit}(x, t_x, t) AS model FROM s"
        ))?;
        let params = collect("SELECT model FROM m")?;
        let literal = literal_model(&params[0])?;
        for (what, expr) in [
            ("p_alive", "p_alive(m.model, x, t_x, t)"),
            (
                "expected purchases (52 weeks)",
                "expected_purchases(m.model, 52, x, t_x, t)",
            ),
        ] {
            // The model joined in from the one-row fit table (every row carries the model
            // struct), and the same model as a literal struct (one value for the batch).
            for (how, sql) in [
                ("", format!("SELECT sum({expr}) FROM m CROSS JOIN s")),
                (
                    ", literal model",
                    format!("SELECT sum({}) FROM s", expr.replace("m.model", &literal)),
                ),
            ] {
                let mut times = vec![];
                for _ in 0..runs {
                    let rt = tokio::runtime::Runtime::new()?;
                    let t = Instant::now();
                    rt.block_on(async { ctx.sql(&sql).await?.collect().await })?;
                    times.push(t.elapsed().as_secs_f64());
                }
                println!(
                    "SQL {model} {what}{how}: {:.1} M customers/s",
                    data.len() as f64 / median(times) / 1e6
                );
            }
        }
    }
    println!();
    Ok(())
}

/// `named_struct(...)` of the fitted model in the one row of `batch` (its kind, parameters
/// and time unit, exactly: `{:?}` prints the shortest decimal that reads back the same `f64`).
fn literal_model(batch: &datafusion::arrow::array::RecordBatch) -> Result<String, Box<dyn std::error::Error>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Float64Type;
    let model = batch.column(0).as_struct();
    let text = |name: &str| {
        model
            .column_by_name(name)
            .map(|c| c.as_string::<i32>().value(0).to_string())
    };
    let kind = text("model").ok_or("no model field")?;
    let mut out = format!("named_struct('model', '{kind}'");
    for name in ["r", "alpha", "a", "b", "s", "beta"] {
        if let Some(c) = model.column_by_name(name) {
            out += &format!(", '{name}', {:?}", c.as_primitive::<Float64Type>().value(0));
        }
    }
    Ok(out
        + &format!(
            ", 'time_unit', '{}')",
            text("time_unit").unwrap_or_else(|| "week".into())
        ))
}
