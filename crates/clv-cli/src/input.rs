//! Reading transactions: Parquet, CSV or newline-delimited JSON, as a file, a folder or a glob.
//!
//! The input is registered as a table so that every clv function reads it by name. Problems
//! are reported before any work starts, naming the file and the fix: no such path, no matching
//! files, an empty file, a corrupt Parquet footer, a schema that cannot be inferred.

use std::path::Path;
use std::sync::Arc;

use clap::ValueEnum;
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::ViewTable;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTableUrl};
use datafusion::logical_expr::{cast, col};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use crate::error::{CliError, Result, root_message};
use crate::sample;

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// Newline-delimited JSON, one object per line.
    Json,
}

impl InputFormat {
    fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "parq" => Some(Self::Parquet),
            "csv" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            _ => None,
        }
    }

    fn format(self) -> Arc<dyn FileFormat> {
        match self {
            Self::Parquet => Arc::new(ParquetFormat::default()),
            Self::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
            Self::Json => Arc::new(JsonFormat::default()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Parquet => "Parquet",
            Self::Csv => "CSV",
            Self::Json => "newline-delimited JSON",
        }
    }
}

/// A registered input.
#[derive(Debug, Clone)]
pub struct Input {
    /// The table name the clv functions read.
    pub table: String,
    /// How to name it to the user.
    pub label: String,
    /// Rows in the input when known without scanning it (Parquet metadata, the bundled sample).
    pub total_rows: Option<u64>,
    /// The local files of a text input (CSV or NDJSON), where [`crate::locate`] looks for a
    /// bad value when a run fails.
    pub text_files: Vec<std::path::PathBuf>,
    /// Whether the text files are newline-delimited JSON (else CSV).
    pub json: bool,
}

/// The table name inputs are registered under.
pub const INPUT_TABLE: &str = "transactions";

/// Registers `path` (or the bundled CDNOW sample when `None`) and returns how to read it.
/// `time_column` is the contract's time column: when a CSV or JSON file holds it as text, it is
/// parsed as a date (`YYYY-MM-DD`) or a timestamp.
pub async fn register(
    ctx: &SessionContext,
    path: Option<&str>,
    format: Option<InputFormat>,
    time_column: &str,
) -> Result<Input> {
    match path {
        None => Ok(Input {
            table: sample::SAMPLE_TABLE.to_string(),
            label: "the bundled CDNOW sample".to_string(),
            total_rows: Some(sample::rows()?),
            text_files: vec![],
            json: false,
        }),
        Some(p) => register_path(ctx, INPUT_TABLE, p, format, Some(time_column)).await,
    }
}

/// Registers a file, folder or glob as table `name`.
pub async fn register_path(
    ctx: &SessionContext,
    name: &str,
    path: &str,
    format: Option<InputFormat>,
    time_column: Option<&str>,
) -> Result<Input> {
    if path == "-" || path.starts_with("/dev/std") || path.starts_with("/dev/fd/") || path.starts_with("/proc/self/fd/")
    {
        return Err(CliError::usage(format!(
            "'{path}': clv reads files, folders and globs, not standard input or a pipe; save the data to a file first"
        )));
    }
    let is_glob = path.contains(['*', '?', '[']);
    let local = Path::new(path);
    if !is_glob && !path.contains("://") && !local.exists() {
        return Err(CliError::data(format!(
            "no file or folder exists at '{path}'; check the path (folders and globs like 'data/*.parquet' work too)"
        )));
    }
    let format = match format {
        Some(f) => f,
        None => detect_format(path, local)?,
    };
    let url = ListingTableUrl::parse(path).map_err(|e| CliError::usage(format!("'{path}': {}", root_message(&e))))?;
    // A single named file is read whatever its extension; folders and globs by their extension.
    let extension = if !is_glob && local.is_file() {
        local
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default()
    } else {
        glob_extension(path).unwrap_or_else(|| default_extension(format).to_string())
    };
    let state = ctx.state();
    let store = state
        .runtime_env()
        .object_store(url.object_store())
        .map_err(|e| CliError::data(format!("'{path}': {}", root_message(&e))))?;
    let files: Vec<_> = url
        .list_all_files(&state, store.as_ref(), &extension)
        .await
        .map_err(|e| CliError::data(format!("cannot list '{path}': {}", root_message(&e))))?
        .try_collect()
        .await
        .map_err(|e| CliError::data(format!("cannot list '{path}': {}", root_message(&e))))?;
    if files.is_empty() {
        return Err(CliError::data(format!(
            "no {extension} files at '{path}'; point at a {} file, a folder of them, or a glob",
            format.name()
        )));
    }
    let mut text_files = vec![];
    if url.scheme() == "file" {
        let local: Vec<std::path::PathBuf> = files.iter().map(|f| format!("/{}", f.location).into()).collect();
        crate::files::reading_input(path, &extension, &local);
        if format != InputFormat::Parquet {
            text_files = local;
        }
    }
    let mut total_rows = Some(0u64);
    for f in &files {
        let shown = format!("/{}", f.location);
        if f.size == 0 {
            return Err(CliError::data(format!(
                "'{shown}' is empty (0 bytes); remove it or pass a {} file with a header and transactions",
                format.name()
            )));
        }
        if format == InputFormat::Parquet && url.scheme() == "file" {
            let rows = parquet_rows(Path::new(&shown))?;
            total_rows = total_rows.map(|t| t + rows);
        } else {
            total_rows = None;
        }
    }
    let options = ListingOptions::new(format.format()).with_file_extension(extension);
    let o = crate::session::options(ctx);
    // Columns by name across the files (a CSV file is otherwise read by position); CSV ids as
    // text unless they are plain integers (id_type).
    let plan = clv::plan::source::files_plan(&state, &format!("{name}_raw"), &url, &options, &o)
        .await
        .map_err(|e| match clv::ClvError::find(&e) {
            Some(_) => CliError::from(e),
            None => CliError::data(format!(
                "cannot read '{path}' as {}: {}; check the file or pass --input-format",
                format.name(),
                root_message(&e)
            )),
        })?;
    let schema = plan.schema().inner().clone();
    ctx.register_table(format!("{name}_raw"), Arc::new(ViewTable::new(plan, None)))?;
    let mut df = ctx.table(format!("{name}_raw")).await?;
    if let Some(time) = time_column
        && let Ok(field) = schema.field_with_name(time)
        && matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
    {
        let to = text_time_type(ctx, &format!("{name}_raw"), time).await?;
        df = df.with_column(time, cast(col(format!("\"{time}\"")), to))?;
    }
    // A ViewTable (not DataFrame::into_view): a view's plan serialises, so it reaches a cluster.
    let view = ViewTable::new(df.into_unoptimized_plan(), None);
    ctx.register_table(name, Arc::new(view))?;
    Ok(Input {
        table: name.to_string(),
        label: format!("'{path}'"),
        total_rows,
        text_files,
        json: format == InputFormat::Json,
    })
}

/// `Date32` when the first value looks like `YYYY-MM-DD`, else a timestamp.
async fn text_time_type(ctx: &SessionContext, table: &str, column: &str) -> Result<DataType> {
    let batches = ctx
        .sql(&format!(
            "SELECT CAST(\"{column}\" AS VARCHAR) FROM \"{table}\" WHERE \"{column}\" IS NOT NULL LIMIT 1"
        ))
        .await?
        .collect()
        .await?;
    let first = batches
        .first()
        .map(|b| crate::columns::strings(std::slice::from_ref(b), b.schema().field(0).name()))
        .transpose()?
        .and_then(|v| v.into_iter().next().flatten())
        .map(|v| v.trim().to_string());
    Ok(match first {
        Some(v) if v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-' => DataType::Date32,
        _ => DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None),
    })
}

fn default_extension(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Parquet => ".parquet",
        InputFormat::Csv => ".csv",
        InputFormat::Json => ".json",
    }
}

/// The extension a glob's last component asks for (`'data/*.csv'` → `.csv`).
fn glob_extension(path: &str) -> Option<String> {
    let last = path.rsplit('/').next()?;
    let ext = last.rsplit_once('.')?.1;
    (!ext.contains(['*', '?', '[', ']'])).then(|| format!(".{ext}"))
}

fn detect_format(path: &str, local: &Path) -> Result<InputFormat> {
    let hint = "name the files .parquet, .csv or .json/.ndjson, or pass --input-format parquet|csv|json";
    if local.is_dir() {
        let mut found: Vec<InputFormat> = vec![];
        for entry in walk(local)? {
            if let Some(f) = entry
                .extension()
                .and_then(|e| InputFormat::from_extension(&e.to_string_lossy()))
                && !found.contains(&f)
            {
                found.push(f);
            }
        }
        return match found.as_slice() {
            [f] => Ok(*f),
            [] => Err(CliError::data(format!(
                "no .parquet, .csv or .json files in the folder '{path}'; {hint}"
            ))),
            _ => Err(CliError::usage(format!(
                "the folder '{path}' mixes {}; pass --input-format to pick one",
                found.iter().map(|f| f.name()).collect::<Vec<_>>().join(" and ")
            ))),
        };
    }
    let last = path.rsplit('/').next().unwrap_or(path);
    last.rsplit_once('.')
        .and_then(|(_, ext)| InputFormat::from_extension(ext))
        .ok_or_else(|| CliError::usage(format!("cannot tell the format of '{path}' from its name; {hint}")))
}

/// Files under a folder (recursively, like DataFusion's listing).
fn walk(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = vec![];
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::data(format!("cannot read the folder '{}': {e}", dir.display())))?;
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Rows in a Parquet file, from its footer; a file that is not Parquet is an error naming it.
fn parquet_rows(path: &Path) -> Result<u64> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let file =
        std::fs::File::open(path).map_err(|e| CliError::data(format!("cannot open '{}': {e}", path.display())))?;
    let reader = SerializedFileReader::new(file).map_err(|e| {
        CliError::data(format!(
            "'{}' is not a readable Parquet file ({e}); re-export it, or pass --input-format csv|json if it is not Parquet",
            path.display()
        ))
    })?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(glob_extension("data/*.csv").as_deref(), Some(".csv"));
        assert_eq!(glob_extension("data/*"), None);
        assert_eq!(
            detect_format("x/orders.ndjson", Path::new("x/orders.ndjson")).unwrap(),
            InputFormat::Json
        );
        let e = detect_format("orders.txt", Path::new("orders.txt")).unwrap_err();
        assert!(e.message.contains("--input-format"), "{}", e.message);
    }
}
