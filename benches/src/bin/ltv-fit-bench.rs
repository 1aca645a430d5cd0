//! Times the BG/NBD and Pareto/NBD fits and BG/NBD scoring, and writes the summaries it used as
//! CSV so `benches/run-ltv.sh` can time Python lifetimes on exactly the same rows.
//!
//! `ltv-fit-bench --out-dir benches/data [--runs 5] [--customers 100000,1000000]`

use std::io::Write;
use std::time::Instant;

use clap::Parser;
use clv::ltv::simulate::{BgNbdSimulator, Observation};
use clv::ltv::{BgNbd, BgNbdParams, ParetoNbd, TimeUnit, TransactionModel, TransactionSummary};

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
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
        write_csv(&a.out_dir.join(format!("btyd_{name}.csv")), data)?;
        let (t, m) = time(a.runs, || BgNbd::new().fit(data));
        let m = m?;
        let p = m.params();
        println!(
            "| {name} | {} | clv BG/NBD | {t:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.2} |",
            data.len(),
            p.r,
            p.alpha,
            p.a,
            p.b,
            m.log_likelihood().unwrap_or(f64::NAN)
        );
        let (t, m) = time(a.runs.min(3), || ParetoNbd::new().fit(data));
        let m = m?;
        let p = m.params();
        println!(
            "| {name} | {} | clv Pareto/NBD | {t:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.2} |",
            data.len(),
            p.r,
            p.alpha,
            p.s,
            p.beta,
            m.log_likelihood().unwrap_or(f64::NAN)
        );
        if data.len() >= 1_000_000 {
            let (t, v) = time(a.runs, || m.p_alive_batch(data));
            let n = v?.len();
            println!("\nPareto/NBD p_alive scoring: {:.1} M customers/s", n as f64 / t / 1e6);
            let bg = BgNbd::new().fit(data)?;
            let (t, v) = time(a.runs, || bg.p_alive_batch(data));
            println!("BG/NBD p_alive scoring: {:.1} M customers/s", v?.len() as f64 / t / 1e6);
            let (t, v) = time(a.runs, || bg.expected_purchases_batch(52.0, data));
            println!(
                "BG/NBD expected purchases (52 weeks) scoring: {:.1} M customers/s\n",
                v?.len() as f64 / t / 1e6
            );
        }
    }
    Ok(())
}
