//! Where a bad value is: the file, the row and the column.
//!
//! DataFusion reads CSV and newline-delimited JSON files in parallel ranges, so its parse
//! errors count lines within a range and name a column by its position ("column 1 at line 2"),
//! and a cast error names neither file nor row. When a run over such files fails with a data
//! error, [`locate`] reads the files again, one after the other, and finds the first value of a
//! transaction column that cannot be read: a time that is no date or timestamp, an amount that
//! is no number, a line that is no JSON object. The error then names the file, the row (counted
//! from 1, the header not counted) and its line, the column, and the value. Only failed runs pay
//! for this second read.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// A located bad value, as one message.
pub fn locate(files: &[PathBuf], json: bool, time: &str, amount: &str) -> Option<String> {
    files.iter().find_map(|f| {
        if json {
            json_file(f, time, amount)
        } else {
            csv_file(f, time, amount)
        }
    })
}

fn is_time(v: &str) -> bool {
    let parses = |t: DataType| {
        let a = datafusion::arrow::array::StringArray::from(vec![v]);
        datafusion::arrow::compute::cast(&a, &t).is_ok_and(|c| c.is_valid(0))
    };
    parses(DataType::Date32) || parses(DataType::Timestamp(TimeUnit::Nanosecond, None))
}

fn is_number(v: &str) -> bool {
    v.trim().parse::<f64>().is_ok()
}

fn problem(file: &Path, row: usize, line: usize, column: &str, value: &str, what: &str) -> String {
    format!(
        "'{}', row {row} (line {line}), column '{column}': '{value}' is not {what}",
        file.display()
    )
}

fn csv_file(path: &Path, time: &str, amount: &str) -> Option<String> {
    let header = std::io::BufReader::new(std::fs::File::open(path).ok()?)
        .lines()
        .next()?
        .ok()?;
    let names: Vec<String> = header
        .split(',')
        .map(|n| n.trim().trim_matches('"').to_string())
        .collect();
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let reader = datafusion::arrow::csv::ReaderBuilder::new(schema)
        .with_header(true)
        .build(std::fs::File::open(path).ok()?)
        .ok()?;
    let mut row = 0;
    for batch in reader {
        let Ok(batch) = batch else {
            return None;
        };
        for (column, check, what) in [
            (
                time,
                is_time as fn(&str) -> bool,
                "a date or timestamp (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
            ),
            (amount, is_number, "a number"),
        ] {
            let Some(values) = batch.column_by_name(column) else {
                continue;
            };
            let values = values.as_string::<i32>();
            if let Some(i) = (0..values.len()).find(|&i| values.is_valid(i) && !check(values.value(i))) {
                let r = row + i + 1;
                return Some(problem(path, r, r + 1, column, values.value(i), what));
            }
        }
        row += batch.num_rows();
    }
    None
}

fn json_file(path: &Path, time: &str, amount: &str) -> Option<String> {
    let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
    let mut row = 0;
    for (i, line) in file.lines().enumerate() {
        let line = line.ok()?;
        if line.trim().is_empty() {
            continue;
        }
        row += 1;
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                return Some(format!(
                    "'{}', row {row} (line {}): not a JSON object ({e})",
                    path.display(),
                    i + 1
                ));
            }
        };
        match &value[time] {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) if is_time(s) => {}
            other => {
                return Some(problem(
                    path,
                    row,
                    i + 1,
                    time,
                    &other.to_string(),
                    "a date or timestamp (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
                ));
            }
        }
        match &value[amount] {
            serde_json::Value::Null | serde_json::Value::Number(_) => {}
            other => return Some(problem(path, row, i + 1, amount, &other.to_string(), "a number")),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_value_is_named_by_file_row_line_and_column() {
        let dir = std::env::temp_dir().join(format!("clv-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("a.csv");
        let mut text = "customer_id,order_date,amount\n".to_string();
        for i in 0..10_000 {
            text += &format!("{i},2024-01-01,5\n");
        }
        text += "7,2024-13-45,3\n";
        std::fs::write(&csv, text).unwrap();
        let found = locate(std::slice::from_ref(&csv), false, "order_date", "amount").unwrap();
        assert!(
            found.ends_with("a.csv', row 10001 (line 10002), column 'order_date': '2024-13-45' is not a date or timestamp (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"),
            "{found}"
        );
        let json = dir.join("a.ndjson");
        std::fs::write(
            &json,
            "{\"customer_id\":1,\"order_date\":\"2024-01-01\",\"amount\":3}\n{\"customer_id\":1,\"order_date\":\"2024-01-02\",\"amount\":\"x\"}\n",
        )
        .unwrap();
        let found = locate(&[json], true, "order_date", "amount").unwrap();
        assert!(
            found.contains("row 2 (line 2), column 'amount': '\"x\"' is not a number"),
            "{found}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
