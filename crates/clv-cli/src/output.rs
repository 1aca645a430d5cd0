//! Writing results: a pretty table, CSV, JSON (one object per line) or Parquet.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// `--full-precision`: tables print every digit of a float (set once, from the command line).
static FULL_PRECISION: AtomicBool = AtomicBool::new(false);

/// Sets `--full-precision` for the tables this process prints.
pub fn set_full_precision(on: bool) {
    FULL_PRECISION.store(on, Ordering::Relaxed);
}

/// How a float column reads in a table, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FloatKind {
    /// Money (monetary, revenue, spend, clv, value, amount, aov; not a share or statistic of
    /// it such as `revenue_pct` or `eta2_revenue`): two decimals.
    Money,
    /// Anything else: four significant digits below 1, four decimals above.
    Measure,
}

fn float_kind(column: &str) -> FloatKind {
    const MONEY: [&str; 7] = ["monetary", "revenue", "spend", "clv", "value", "amount", "aov"];
    // Shares, rates and statistics of money are measures: `revenue_pct`, `eta2_revenue`.
    const MEASURE: [&str; 10] = [
        "pct",
        "eta",
        "rate",
        "share",
        "retention",
        "lift",
        "ratio",
        "probability",
        "percent",
        "p_value",
    ];
    let c = column.to_ascii_lowercase();
    if MONEY.iter().any(|m| c.contains(m)) && !MEASURE.iter().any(|m| c.contains(m)) {
        FloatKind::Money
    } else {
        FloatKind::Measure
    }
}

/// A float as a table shows it: money with two decimals (`27.14`); other numbers with four
/// decimals, or four significant digits below 1 (`0.07099`), trailing zeros dropped (`75.0`);
/// scientific below 1e-6.
pub fn for_reading(column: &str, x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    match float_kind(column) {
        FloatKind::Money => format!("{x:.2}"),
        FloatKind::Measure => {
            let a = x.abs();
            if a != 0.0 && a < 1e-6 {
                return format!("{x:.3e}");
            }
            let decimals = if a == 0.0 || a >= 1.0 {
                4
            } else {
                (3 - a.log10().floor() as i32).clamp(4, 10) as usize
            };
            let text = format!("{x:.decimals$}");
            let text = text.trim_end_matches('0');
            if text.ends_with('.') {
                format!("{text}0")
            } else {
                text.to_string()
            }
        }
    }
}

/// The batches with their float columns as text rounded for reading ([`for_reading`]), unless
/// `--full-precision`.
fn rounded_for_reading(batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use datafusion::arrow::datatypes::Float64Type;
    if FULL_PRECISION.load(Ordering::Relaxed) {
        return Ok(batches.to_vec());
    }
    batches
        .iter()
        .map(|b| {
            let schema = b.schema();
            let mut fields = vec![];
            let mut columns: Vec<ArrayRef> = vec![];
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                if matches!(f.data_type(), DataType::Float64 | DataType::Float32 | DataType::Float16) {
                    let c = datafusion::arrow::compute::cast(c, &DataType::Float64)?;
                    let c = c.as_primitive::<Float64Type>();
                    let text: StringArray = (0..c.len())
                        .map(|i| c.is_valid(i).then(|| for_reading(f.name(), c.value(i))))
                        .collect();
                    fields.push(Field::new(f.name(), DataType::Utf8, true));
                    columns.push(Arc::new(text));
                } else {
                    fields.push(f.as_ref().clone());
                    columns.push(Arc::clone(c));
                }
            }
            Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
        })
        .collect()
}

/// Writes `batches` in `format` to `sink`.
fn write_to(sink: &mut (impl Write + Send), batches: &[RecordBatch], format: Format) -> Result<()> {
    match format {
        Format::Table => writeln!(sink, "{}", pretty_format_batches(&rounded_for_reading(batches)?)?).map_err(io)?,
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
    /// Written, and nothing else goes on stdout: the result went to stdout (`--format`, or
    /// `--quiet` without `--out`), or to a file with `--quiet`.
    Done,
    /// Written to a file: the terminal view may follow.
    File,
    /// Nothing written: show the terminal view.
    Nothing,
}

/// Writes a command's full result as `--out` / `--format` ask, noting a written file on stderr.
///
/// `--quiet` means: nothing but errors on stderr, and on stdout the result only. With `--out`
/// stdout stays empty; without it the full result goes to stdout in `--format` (a table by
/// default) instead of the terminal view with its summaries.
pub fn emit(batches: &[RecordBatch], args: &OutputArgs, quiet: bool) -> crate::error::Result<Emitted> {
    if let Some(out) = &args.out {
        write(batches, args.format, Some(out))?;
        if quiet {
            return Ok(Emitted::Done);
        }
        eprintln!("Wrote {} rows to {}", rows(batches), out.display());
        return Ok(Emitted::File);
    }
    match (args.format, quiet) {
        // An explicit format, a table too, writes the full result and nothing else.
        (Some(f), _) => {
            write(batches, Some(f), None)?;
            Ok(Emitted::Done)
        }
        (None, true) => {
            write(batches, Some(Format::Table), None)?;
            Ok(Emitted::Done)
        }
        (None, false) => Ok(Emitted::Nothing),
    }
}

/// Rows in a result.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Prints a titled table on standard output: an empty one as its header and `(no rows)`.
pub fn print_table(title: &str, batches: &[RecordBatch]) -> crate::error::Result<()> {
    println!("\n{title}");
    write(batches, Some(Format::Table), None)?;
    if rows(batches) == 0 {
        println!("(no rows)");
    }
    Ok(())
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
        return print_table_body(batches);
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

/// An empty result's header and `(no rows)`.
fn print_table_body(batches: &[RecordBatch]) -> crate::error::Result<()> {
    write(&batches[..batches.len().min(1)], Some(Format::Table), None)?;
    println!("(no rows)");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_rounded_by_column_kind() {
        assert_eq!(for_reading("monetary", 27.139999999999997), "27.14");
        assert_eq!(for_reading("clv_upper", 1234.5), "1234.50");
        assert_eq!(for_reading("value_at_risk", 0.005), "0.01");
        assert_eq!(for_reading("t_x", 49.285714285714285), "49.2857");
        assert_eq!(for_reading("t", 75.0), "75.0");
        assert_eq!(for_reading("p_alive", 0.07099302520045747), "0.07099");
        assert_eq!(for_reading("p_alive", 1.0), "1.0");
        assert_eq!(for_reading("churn_probability", 0.937099919803917), "0.9371");
        assert_eq!(for_reading("x", 0.0), "0.0");
        assert_eq!(for_reading("x", -0.25), "-0.25");
        assert_eq!(for_reading("gradient", 1.5e-9), "1.500e-9");
        assert_eq!(for_reading("x", f64::NAN), "NaN");
        assert_eq!(for_reading("eta2_revenue", 0.12), "0.12");
        assert_eq!(for_reading("revenue_pct", 58.4), "58.4");
        assert_eq!(for_reading("revenue_per_customer", 133.0249), "133.02");
    }

    #[test]
    fn tables_round_and_full_precision_keeps_digits() {
        use datafusion::arrow::array::{Float64Array, Int64Array};
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Int64, false),
            Field::new("monetary", DataType::Float64, true),
        ]));
        let b = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![3])),
                Arc::new(Float64Array::from(vec![Some(27.139999999999997)])),
            ],
        )
        .unwrap();
        let text = |b: &RecordBatch| {
            let mut out = vec![];
            write_to(&mut out, std::slice::from_ref(b), Format::Table).unwrap();
            String::from_utf8(out).unwrap()
        };
        let csv = {
            let mut out = vec![];
            write_to(&mut out, std::slice::from_ref(&b), Format::Csv).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(text(&b).contains("| 27.14    |"), "{}", text(&b));
        assert_eq!(csv, "customer_id,monetary\n3,27.139999999999997\n");
        set_full_precision(true);
        let full = text(&b);
        set_full_precision(false);
        assert!(full.contains("27.139999999999997"), "{full}");
    }
}
