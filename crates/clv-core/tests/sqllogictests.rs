//! SQL-level tests: every `tests/slt/*.slt` file runs twice, with `target_partitions` 1 and 4,
//! and must give the same expected output both times.
//!
//! `cargo test -p clv-core --test sqllogictests` runs them;
//! `cargo test -p clv-core --test sqllogictests -- --complete` rewrites the expected results
//! (review the diff before committing).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use sqllogictest::{DBOutput, DefaultColumnType};

struct Engine {
    ctx: SessionContext,
}

impl Engine {
    fn new(partitions: usize) -> Result<Self, DataFusionError> {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
        clv_core::register_all(&ctx)?;
        Ok(Self { ctx })
    }
}

fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() || matches!(t, DataType::Decimal128(..)) => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = vec![];
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(i).to_string())
                    .map(|s| if s.is_empty() { "(empty)".into() } else { s })
                    .collect(),
            );
        }
    }
    Ok(out)
}

#[async_trait]
impl sqllogictest::AsyncDB for Engine {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DataFusionError> {
        let df = self.ctx.sql(sql).await?;
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await?;
        let head = sql.trim_start().to_ascii_uppercase();
        if ["CREATE", "SET", "DROP", "INSERT", "RESET"]
            .iter()
            .any(|k| head.starts_with(k))
        {
            return Ok(DBOutput::StatementComplete(0));
        }
        Ok(DBOutput::Rows {
            types: schema.fields().iter().map(|f| column_type(f.data_type())).collect(),
            rows: rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "clv"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let complete = std::env::args().any(|a| a == "--complete");
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        if filter
            .as_ref()
            .is_some_and(|f| !path.to_string_lossy().contains(f.as_str()))
        {
            continue;
        }
        for partitions in [1, 4] {
            let mut runner = sqllogictest::Runner::new(move || async move { Engine::new(partitions) });
            runner.with_column_validator(sqllogictest::default_column_validator);
            if complete && partitions == 1 {
                runner
                    .update_test_file(
                        &path,
                        " ",
                        sqllogictest::default_validator,
                        sqllogictest::default_normalizer,
                        sqllogictest::default_column_validator,
                    )
                    .await?;
                continue;
            }
            match runner.run_file_async(&path).await {
                Ok(()) => passed += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!(
                        "FAILED {} (target_partitions = {partitions}):\n{}",
                        path.display(),
                        e.display(true)
                    );
                }
            }
        }
    }
    #[allow(clippy::print_stdout)] // a harness-less test reports like libtest does
    {
        println!("sqllogictests: {passed} passed, {failed} failed");
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
