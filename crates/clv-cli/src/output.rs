//! Writing results: a pretty table, CSV, JSON (one object per line) or Parquet.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::parquet::arrow::ArrowWriter;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table for reading.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// Newline-delimited JSON objects.
    Json,
    /// Apache Parquet (needs --out).
    Parquet,
}

impl Format {
    /// The format implied by a file name.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            "parquet" => Some(Self::Parquet),
            "txt" => Some(Self::Table),
            _ => None,
        }
    }
}

fn io(e: std::io::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Writes `batches` in `format` to `out` (a file) or standard output.
pub fn write(batches: &[RecordBatch], format: Option<Format>, out: Option<&Path>) -> Result<()> {
    let format = match (format, out) {
        (Some(f), _) => f,
        (None, Some(p)) => match Format::from_path(p) {
            Some(f) => f,
            None => {
                return plan_err!(
                    "cannot tell the format of '{}' from its extension; use --format",
                    p.display()
                );
            }
        },
        (None, None) => Format::Table,
    };
    let mut sink: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(|e| {
            DataFusionError::Execution(format!("cannot create '{}': {e}", p.display()))
        })?)),
        None if format == Format::Parquet => return plan_err!("Parquet output needs --out FILE"),
        None => Box::new(std::io::stdout()),
    };
    match format {
        Format::Table => writeln!(sink, "{}", pretty_format_batches(batches)?).map_err(io)?,
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut sink);
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut sink);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            let schema = match batches.first() {
                Some(b) => b.schema(),
                None => return plan_err!("no rows to write"),
            };
            let mut w = ArrowWriter::try_new(&mut sink, schema, None)?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
        }
    }
    sink.flush().map_err(io)
}
