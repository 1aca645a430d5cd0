//! Writing results: a pretty table, CSV, JSON (one object per line) or Parquet.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::parquet::arrow::ArrowWriter;

use crate::cli::OutputArgs;
use crate::error::CliError;
use crate::files::AtomicFile;

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
    /// The `--format` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Parquet => "parquet",
        }
    }

    /// The file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Table => "txt",
            other => other.name(),
        }
    }

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

/// Writes `batches` in `format` to `out` (a file, written atomically: see [`crate::files`]) or
/// standard output.
pub fn write(batches: &[RecordBatch], format: Option<Format>, out: Option<&Path>) -> crate::error::Result<()> {
    let format = resolve(format, out)?;
    match out {
        Some(p) => {
            let mut file = AtomicFile::create(p, "--out")?;
            write_to(&mut file, batches, format)?;
            file.commit()
        }
        None if format == Format::Parquet => Err(CliError::usage("Parquet output needs --out FILE")),
        None => Ok(write_to(&mut std::io::stdout(), batches, format)?),
    }
}

/// The format to write: `--format`, else `--out`'s extension, else a table. A `--format` that
/// contradicts the extension (`--out x.parquet --format csv`) is a usage error.
fn resolve(format: Option<Format>, out: Option<&Path>) -> crate::error::Result<Format> {
    let implied = out.and_then(Format::from_path);
    match (format, out, implied) {
        (Some(f), Some(p), Some(i)) if f != i => Err(CliError::usage(format!(
            "--format {} contradicts --out '{}', whose extension means {}; drop --format or name the file .{}",
            f.name(),
            p.display(),
            i.name(),
            f.extension()
        ))),
        (Some(f), _, _) => Ok(f),
        (None, Some(_), Some(i)) => Ok(i),
        (None, Some(p), None) => Err(CliError::usage(format!(
            "cannot tell the format of '{}' from its extension; use --format",
            p.display()
        ))),
        (None, None, _) => Ok(Format::Table),
    }
}

/// The schema a result is written to Parquet in: Parquet has no second-resolution timestamp
/// (Arrow's writer would store plain integers that other readers do not see as times), so
/// `Timestamp(Second)` columns become `Timestamp(Millisecond)`, same instants and time zone.
fn parquet_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(TimeUnit::Second, tz) => f
                .as_ref()
                .clone()
                .with_data_type(DataType::Timestamp(TimeUnit::Millisecond, tz.clone())),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Writes `batches` in `format` to `sink`.
fn write_to(sink: &mut (impl Write + Send), batches: &[RecordBatch], format: Format) -> Result<()> {
    match format {
        Format::Table => writeln!(sink, "{}", pretty_format_batches(batches)?).map_err(io)?,
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *sink);
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *sink);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            let Some(schema) = batches.first().map(RecordBatch::schema) else {
                return internal_err!("a result without a schema");
            };
            let schema = parquet_schema(&schema);
            let mut w = ArrowWriter::try_new(&mut *sink, Arc::clone(&schema), None)?;
            for b in batches {
                let columns = b
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                w.write(&RecordBatch::try_new(Arc::clone(&schema), columns)?)?;
            }
            w.close()?;
        }
    }
    sink.flush().map_err(io)
}

/// Where a command's full result went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emitted {
    /// Written to standard output in a machine format: print nothing else on stdout.
    Stdout,
    /// Written to a file: the terminal view may follow.
    File,
    /// Nothing written: show the terminal view.
    Nothing,
}

/// Writes a command's full result as `--out` / `--format` ask, noting a written file on stderr.
pub fn emit(batches: &[RecordBatch], args: &OutputArgs, quiet: bool) -> crate::error::Result<Emitted> {
    if let Some(out) = &args.out {
        write(batches, args.format, Some(out))?;
        if !quiet {
            eprintln!("Wrote {} rows to {}", rows(batches), out.display());
        }
        return Ok(Emitted::File);
    }
    match args.format {
        // An explicit format, a table too, writes the full result and nothing else.
        Some(f) => {
            write(batches, Some(f), None)?;
            Ok(Emitted::Stdout)
        }
        None => Ok(Emitted::Nothing),
    }
}

/// Rows in a result.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Prints a titled table on standard output (`(no rows)` for an empty one).
pub fn print_table(title: &str, batches: &[RecordBatch]) -> crate::error::Result<()> {
    println!("\n{title}");
    if rows(batches) == 0 {
        println!("(no rows)");
        return Ok(());
    }
    write(batches, Some(Format::Table), None)?;
    Ok(())
}

/// Warns on standard error (even with `--quiet`) when a per-customer result is empty: the
/// output is still written, with its columns and no rows.
pub fn warn_if_empty(batches: &[RecordBatch], what: &str) {
    if rows(batches) == 0 {
        eprintln!(
            "warning: the {what} has no customers: no transaction passed the data policies and dates (check --as-of, --calibration-end and the input)"
        );
    }
}

/// Prints the first `n` rows of a per-customer result, and how to get the rest.
pub fn print_preview(title: &str, batches: &[RecordBatch], n: usize) -> crate::error::Result<()> {
    let total = rows(batches);
    let mut head = vec![];
    let mut left = n;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = left.min(b.num_rows());
        head.push(b.slice(0, take));
        left -= take;
    }
    println!("\n{title} (first {} of {total} rows)", n.min(total));
    if total == 0 {
        println!("(no rows)");
        return Ok(());
    }
    write(&head, Some(Format::Table), None)?;
    if total > n {
        println!(
            "... {} more rows: write them all with --out FILE or --format csv|json",
            total - n
        );
    }
    Ok(())
}

impl OutputArgs {
    /// Checks `--out` and `--format` before any work: they agree, and `--out` is not a file the
    /// command reads (call it after the inputs are registered).
    pub fn check(&self) -> crate::error::Result<()> {
        if self.out.is_some() {
            resolve(self.format, self.out.as_deref())?;
        }
        match &self.out {
            Some(out) => crate::files::check_output(out, "--out"),
            None => Ok(()),
        }
    }
}
