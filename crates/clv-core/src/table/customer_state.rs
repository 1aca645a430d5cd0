//! The customer state ([`CustomerState`]) as a Parquet file: one row per customer
//! ([`STATE_COLUMNS`]), and in the file's key-value metadata the schema version
//! (`clv.state.version`), the options that shaped the totals (`clv.state.invalid_amounts`,
//! `clv.state.negative_amounts`; the id, time and amount types are the columns' own), the
//! batches folded in (`clv.state.batches`, a JSON list) and the policy row counts
//! (`clv.state.counts`, a JSON object).

use std::collections::HashMap;
use std::path::Path;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;

use crate::exec::customer_state::{CustomerState, STATE_COLUMNS, STATE_VERSION, StateShape};
use crate::plan::report::PolicyReport;

const VERSION_KEY: &str = "clv.state.version";
const INVALID_KEY: &str = "clv.state.invalid_amounts";
const NEGATIVE_KEY: &str = "clv.state.negative_amounts";
const BATCHES_KEY: &str = "clv.state.batches";
const COUNTS_KEY: &str = "clv.state.counts";

/// The row counts kept in a state file, by name.
fn counts_json(c: &PolicyReport) -> serde_json::Value {
    serde_json::json!({
        "rows_read": c.rows_read,
        "null_customer_or_time": c.null_customer_or_time,
        "invalid_amount": c.invalid_amount,
        "negative_amount": c.negative_amount,
        "zero_amount": c.zero_amount,
        "rows_used": c.rows_used,
    })
}

fn state_file_error(path: &Path, what: impl std::fmt::Display) -> datafusion::error::DataFusionError {
    crate::input_error!("customer state {}: {what}", path.display())
}

impl CustomerState {
    /// Writes the state to the Parquet file `path`, replacing it only once the new file is
    /// complete (written next to it, then renamed over it): a failed write never loses the
    /// old state.
    pub fn write_parquet(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let batch = self.to_batch()?;
        let metadata = vec![
            KeyValue::new(VERSION_KEY.to_string(), STATE_VERSION.to_string()),
            KeyValue::new(INVALID_KEY.to_string(), self.shape.invalid_amounts.to_string()),
            KeyValue::new(NEGATIVE_KEY.to_string(), self.shape.negative_amounts.to_string()),
            KeyValue::new(
                BATCHES_KEY.to_string(),
                serde_json::to_string(&self.batches).map_err(|e| state_file_error(path, e))?,
            ),
            KeyValue::new(COUNTS_KEY.to_string(), counts_json(&self.counts).to_string()),
        ];
        let properties = WriterProperties::builder()
            .set_key_value_metadata(Some(metadata))
            .build();
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let file = std::fs::File::create(&partial).map_err(|e| state_file_error(&partial, e))?;
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties))?;
        writer.write(&batch)?;
        writer.close()?;
        std::fs::rename(&partial, path).map_err(|e| state_file_error(path, e))
    }

    /// Reads a state written by [`Self::write_parquet`]. A file without a state version, or of
    /// another version, is refused naming the version found and the one expected.
    pub fn read_parquet(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| state_file_error(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let meta: HashMap<String, String> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .into_iter()
            .flatten()
            .filter_map(|kv| kv.value.clone().map(|v| (kv.key.clone(), v)))
            .collect();
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| state_file_error(path, format!("no {key} in the file's metadata")))
        };
        let version = meta.get(VERSION_KEY).ok_or_else(|| {
            state_file_error(
                path,
                format!("not a customer state (no {VERSION_KEY} in the file's metadata)"),
            )
        })?;
        if version != &STATE_VERSION.to_string() {
            return Err(state_file_error(
                path,
                format!(
                    "schema version {version}, this clv reads version {STATE_VERSION}: rebuild the state \
                     from the transactions (clv state build)"
                ),
            ));
        }
        let schema = std::sync::Arc::clone(builder.schema());
        let field = |name: &str| -> Result<DataType> {
            Ok(schema
                .field_with_name(name)
                .map_err(|_| state_file_error(path, format!("no column {name}")))?
                .data_type()
                .clone())
        };
        fn parse<T: std::str::FromStr<Err: std::fmt::Display>>(path: &Path, key: &str, v: &str) -> Result<T> {
            v.parse().map_err(|e| state_file_error(path, format!("{key}: {e}")))
        }
        let shape = StateShape {
            id_type: field(STATE_COLUMNS[0])?,
            time_type: field(STATE_COLUMNS[1])?,
            amount_type: field(STATE_COLUMNS[3])?,
            invalid_amounts: parse(path, INVALID_KEY, get(INVALID_KEY)?)?,
            negative_amounts: parse(path, NEGATIVE_KEY, get(NEGATIVE_KEY)?)?,
        };
        let batches: Vec<String> = serde_json::from_str(get(BATCHES_KEY)?)
            .map_err(|e| state_file_error(path, format!("{BATCHES_KEY}: {e}")))?;
        let counts: HashMap<String, u64> =
            serde_json::from_str(get(COUNTS_KEY)?).map_err(|e| state_file_error(path, format!("{COUNTS_KEY}: {e}")))?;
        let count = |k: &str| counts.get(k).copied().unwrap_or(0);
        let counts = PolicyReport {
            rows_read: count("rows_read"),
            null_customer_or_time: count("null_customer_or_time"),
            invalid_amount: count("invalid_amount"),
            negative_amount: count("negative_amount"),
            zero_amount: count("zero_amount"),
            rows_used: count("rows_used"),
            ..PolicyReport::default()
        };
        let rows = builder.build()?.collect::<std::result::Result<Vec<_>, _>>()?;
        Self::from_batches(shape, &rows, counts, batches)
    }
}
