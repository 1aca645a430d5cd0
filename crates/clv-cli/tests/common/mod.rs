//! Helpers shared by the CLI tests: running the binary, the library's answers, temp folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

/// The CDNOW transactions the binary bundles.
pub const CDNOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_master.parquet");
/// The 2,357-customer CDNOW sample of the papers (customer ids in `master_customer_id`).
pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet");

/// What a run returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stdout
    }
}

/// Runs `clv` in `dir` with `stdin`.
pub fn clv_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_clv"))
        .args(args)
        .current_dir(dir)
        .env("CLV_HISTORY", dir.join("history"))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run clv");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Lines of `text`, sorted: per-customer results come in partition order.
pub fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

/// Runs `clv` in a fresh temporary folder (so no `clv.toml` is picked up).
pub fn clv(args: &[&str]) -> Run {
    clv_in(&temp_dir("run"), args, None)
}

/// A fresh empty folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "clv-cli-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A session with clv registered, as a library user has it.
pub fn library() -> SessionContext {
    let ctx = SessionContext::new();
    clv::register_all(&ctx).unwrap();
    ctx
}

/// Runs SQL on a library session.
pub async fn sql(ctx: &SessionContext, query: &str) -> Vec<RecordBatch> {
    ctx.sql(query).await.unwrap().collect().await.unwrap()
}

/// Batches as CSV with a header, as `--format csv` writes them.
pub fn csv(batches: &[RecordBatch]) -> String {
    let mut buf = vec![];
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut buf);
        for b in batches {
            w.write(b).unwrap();
        }
    }
    String::from_utf8(buf).unwrap()
}

/// A numeric column.
pub fn f64s(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    let mut out = vec![];
    for b in batches {
        let c = datafusion::arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Float64).unwrap();
        let c = c.as_primitive::<Float64Type>();
        out.extend((0..c.len()).map(|i| if c.is_null(i) { f64::NAN } else { c.value(i) }));
    }
    out
}

/// Parses CSV text (no quoted commas) into a header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    (
        header,
        lines.map(|l| l.split(',').map(str::to_string).collect()).collect(),
    )
}

/// The values of one CSV column as numbers (empty → NaN).
pub fn csv_column(text: &str, name: &str) -> Vec<f64> {
    let (header, rows) = parse_csv(text);
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    rows.iter().map(|r| r[i].parse().unwrap_or(f64::NAN)).collect()
}

/// Relative closeness (NaN equals NaN).
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// A column as text (any type cast to Utf8; null → empty).
pub fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let mut out = vec![];
    for b in batches {
        let c = datafusion::arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| {
            if c.is_null(i) {
                String::new()
            } else {
                c.value(i).to_string()
            }
        }));
    }
    out
}
