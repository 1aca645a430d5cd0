//! Regression tests of the bad-input audit (issue 15): nothing lost, nothing guessed, every
//! refusal explained with the exit code of its kind. docs/guide.md's "bad input" table names
//! the test of each row.

mod common;

use std::path::Path;

use common::*;

fn assert_usage_error(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.is_empty(),
        "nothing on stdout before an error: {}",
        run.stdout
    );
    let line = run.stderr.trim_end();
    assert!(line.starts_with("error: ") && !line.contains('\n'), "{line}");
    for n in needles {
        assert!(line.contains(n), "'{n}' missing in: {line}");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Defect 1: `--out` naming an input (directly, through `./`, a symbolic link, a folder or a
/// glob) is a usage error, and the input is left byte for byte as it was.
#[test]
fn an_out_that_resolves_to_an_input_is_a_usage_error_and_the_input_survives() {
    let dir = temp_dir("out-is-input");
    let x = dir.join("x.parquet");
    std::fs::copy(CDNOW, &x).unwrap();
    let original = std::fs::read(&x).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(CDNOW, data.join("z.parquet")).unwrap();
    let bg = dir.join("bg.json");
    clv_in(
        &dir,
        &[
            "fit",
            "x.parquet",
            "--calibration-end",
            "1997-09-30",
            "--out",
            "bg.json",
            "-q",
        ],
        None,
    )
    .ok();
    let model = std::fs::read(&bg).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&x, dir.join("link.parquet")).unwrap();
    let around = format!("../{}/x.parquet", dir.file_name().unwrap().to_str().unwrap());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "predict",
                "x.parquet",
                "--model",
                "bg.json",
                "--calibration-end",
                "1997-09-30",
                "--out",
                "x.parquet",
            ],
            "is a file this command reads",
        ),
        (
            vec!["rfm", "x.parquet", "--out", "./x.parquet"],
            "is a file this command reads",
        ),
        (vec!["rfm", s(&x), "--out", &around], "is a file this command reads"),
        (
            vec!["cohorts", "data", "--out", "data/z.parquet"],
            "is a file this command reads",
        ),
        (
            vec!["cohorts", "data/", "--out", "data/new.parquet"],
            "inside the input folder",
        ),
        (
            vec!["rfm", "data/*.parquet", "--out", "data/new.parquet"],
            "matches the input glob",
        ),
        (
            vec!["fit", "x.parquet", "--out", "x.parquet"],
            "is a file this command reads",
        ),
        (
            vec!["predict", "x.parquet", "--model", "bg.json", "--out", "bg.json"],
            "is a file this command reads",
        ),
        (
            vec!["sql", "--table", "t=x.parquet", "SELECT 1 AS one", "--out", "x.parquet"],
            "is a file this command reads",
        ),
        (
            vec!["report", "x.parquet", "--out", "x.parquet"],
            "is a file this command reads",
        ),
        #[cfg(unix)]
        (
            vec!["summary", "link.parquet", "--out", "x.parquet"],
            "is a file this command reads",
        ),
    ];
    for (args, needle) in cases {
        let run = clv_in(&dir, &args, None);
        assert_usage_error(&run, &["--out", needle]);
        assert_eq!(std::fs::read(&x).unwrap(), original, "{args:?} changed the input");
        assert_eq!(std::fs::read(&bg).unwrap(), model, "{args:?} changed the model");
        assert!(!data.join("new.parquet").exists(), "{args:?}");
    }
    // Nothing half-written is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A different file in the same folder is fine.
    clv_in(&dir, &["rfm", "x.parquet", "--out", "rfm.csv", "-q"], None).ok();
}

/// Typed errors: the exit code follows the kind of the error raised in the library (or by the
/// command line), so every usage error exits 2, including those found while a query runs.
#[test]
fn every_usage_error_exits_with_the_usage_code() {
    let dir = temp_dir("usage");
    let scheme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/vip3_scheme.toml"))
        .unwrap()
        .replace("name = \"vip3\"", "name = \"rf_grid\"");
    std::fs::write(dir.join("rf_grid.toml"), scheme).unwrap();
    const BG: &str = "named_struct('model', 'bg_nbd', 'r', 0.24, 'alpha', 4.4, 'a', 0.79, 'b', 2.4)";
    let negative_horizon = format!("SELECT expected_purchases({BG}, -1, 1, 1, 2)");
    let spend_of_a_bg_model = format!("SELECT expected_spend({BG}, 2, 3)");
    let over_the_sample = format!("cdnow={CDNOW}");
    let table = format!("t={CDNOW}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sql", "--table", &table, "--table", &table, "SELECT 1"],
            "a table named 't' is already given",
        ),
        (
            vec!["sql", "--table", &over_the_sample, "SELECT 1"],
            "the bundled CDNOW sample's name",
        ),
        (
            vec!["rfm", "--scheme-file", "rf_grid.toml"],
            "segment scheme 'rf_grid' is built in and cannot be replaced",
        ),
        (
            vec!["sql", "SELECT clv_period_start(1, 'fortnight')"],
            "must be one of day, week, month, quarter, year",
        ),
        (
            vec!["sql", &negative_horizon],
            "expected_purchases: invalid argument `horizon` = -1",
        ),
        (vec!["sql", &spend_of_a_bg_model], "expected_spend: needs"),
    ];
    for (args, needle) in cases {
        assert_usage_error(&clv_in(&dir, &args, None), &[needle]);
    }
}

/// Defect 2: an empty result is a valid file: Parquet with the columns and no rows, CSV with
/// its header, JSON as empty newline-delimited JSON (no line); and a warning on stderr naming
/// the cause (issue 22), except with `--quiet`, which prints nothing but errors.
#[test]
fn an_empty_result_is_written_with_its_columns_and_a_warning() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = temp_dir("empty");
    let before = ["--as-of", "1990-01-01"];
    let run = |extra: &[&str]| clv_in(&dir, &[&["rfm", CDNOW][..], &before, extra].concat(), None);
    for out in ["e.parquet", "e.csv", "e.json"] {
        let r = run(&["--out", out]);
        r.ok();
        assert!(
            r.stderr.contains(
                "warning: the RFM result has no customers: all 69659 transactions are after 1990-01-01, which is before the first purchase; pass a later --as-of"
            ),
            "{}",
            r.stderr
        );
        let quiet = run(&["--out", out, "-q"]);
        assert_eq!((quiet.ok(), quiet.stderr.as_str()), ("", ""));
    }
    let parquet = SerializedFileReader::new(std::fs::File::open(dir.join("e.parquet")).unwrap()).unwrap();
    assert_eq!(parquet.metadata().file_metadata().num_rows(), 0);
    let columns: Vec<String> = parquet
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(columns, clv::plan::rfm::RFM_COLUMNS);
    let header = clv::plan::rfm::RFM_COLUMNS.join(",") + "\n";
    assert_eq!(std::fs::read_to_string(dir.join("e.csv")).unwrap(), header);
    assert_eq!(std::fs::read_to_string(dir.join("e.json")).unwrap(), "");
    assert_eq!(run(&["--format", "csv"]).ok(), header);
    assert_eq!(run(&["--format", "json"]).ok(), "");
    // The terminal view draws empty tables with their header, and says so.
    let view = run(&[]);
    assert!(
        view.ok().contains("Segments\n+---------+-----------+")
            && view.stdout.contains("| segment | customers |")
            && view.stdout.contains("+\n(no rows)")
            && !view.stdout.contains("Gini"),
        "{}",
        view.stdout
    );
}

/// Defect 10: `--format table` without `--out` prints the full result as a table and nothing
/// else, like the other formats (docs/cli.md).
#[test]
fn format_table_prints_the_full_result() {
    let run = clv(&["rfm", "--format", "table"]);
    let text = run.ok();
    assert!(!text.contains("Segments") && !text.contains("Data policies"), "{text}");
    let rows = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| customer_id"))
        .count();
    assert_eq!(rows, 23_570);
}

/// `--out x.parquet --format csv` is a usage error, not CSV bytes in a .parquet file.
#[test]
fn a_format_that_contradicts_the_out_extension_is_a_usage_error() {
    let dir = temp_dir("contradiction");
    let run = clv_in(&dir, &["rfm", "--out", "x.parquet", "--format", "csv"], None);
    assert_usage_error(&run, &["--format csv contradicts --out 'x.parquet'", "parquet"]);
    assert!(!dir.join("x.parquet").exists());
    // An extension without a format of its own takes --format.
    clv_in(&dir, &["rfm", "--out", "x.data", "--format", "csv", "-q"], None).ok();
    assert!(
        std::fs::read_to_string(dir.join("x.data"))
            .unwrap()
            .starts_with("customer_id,")
    );
}

/// Defect 12 (docs and code agree): a customer whose repeat purchases were all free (x > 0,
/// monetary 0) is outside the Gamma-Gamma fit but scored: expected spend p·γ/(p·x + q − 1),
/// the posterior mean with an observed mean of 0, and a CLV (docs/cli.md, sql-reference.md).
#[test]
fn free_repeat_purchases_get_the_documented_expected_spend() {
    let dir = temp_dir("free");
    let cal = ["--calibration-end", "1997-09-30"];
    clv_in(&dir, &[&["fit", "--out", "bg.json", "-q"][..], &cal].concat(), None).ok();
    clv_in(
        &dir,
        &[&["fit", "--model", "gamma_gamma", "--out", "gg.json", "-q"][..], &cal].concat(),
        None,
    )
    .ok();
    let gg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("gg.json")).unwrap()).unwrap();
    let (p, q, gamma) = (
        gg["params"]["p"].as_f64().unwrap(),
        gg["params"]["q"].as_f64().unwrap(),
        gg["params"]["gamma"].as_f64().unwrap(),
    );
    let run = clv_in(
        &dir,
        &[
            &[
                "predict",
                "--model",
                "bg.json",
                "--spend-model",
                "gg.json",
                "--format",
                "csv",
            ][..],
            &cal,
        ]
        .concat(),
        None,
    );
    let csv = run.ok();
    let (x, monetary, spend, value) = (
        csv_column(csv, "x"),
        csv_column(csv, "monetary"),
        csv_column(csv, "expected_spend"),
        csv_column(csv, "clv"),
    );
    let free: Vec<usize> = (0..x.len()).filter(|&i| x[i] > 0.0 && monetary[i] == 0.0).collect();
    assert!(
        !free.is_empty(),
        "CDNOW has a customer whose repeat purchases were free"
    );
    for i in free {
        let expected = p * gamma / (p * x[i] + q - 1.0);
        assert!(close(spend[i], expected, 1e-12), "{} vs {expected}", spend[i]);
        assert!(value[i].is_finite() && value[i] > 0.0, "clv {}", value[i]);
    }
}

/// Timestamp(Second) columns are written to Parquet as timestamps (milliseconds), not as plain
/// integers other readers cannot see as times.
#[test]
fn second_timestamps_are_written_to_parquet_as_timestamps() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = temp_dir("seconds");
    clv_in(
        &dir,
        &[
            "sql",
            "SELECT arrow_cast(TIMESTAMP '2024-01-31 17:30:05', 'Timestamp(Second, None)') AS t",
            "--out",
            "t.parquet",
            "-q",
        ],
        None,
    )
    .ok();
    let file = SerializedFileReader::new(std::fs::File::open(dir.join("t.parquet")).unwrap()).unwrap();
    let column = file.metadata().file_metadata().schema_descr().column(0);
    let logical = format!("{:?}", column.logical_type_ref());
    assert!(logical.contains("Timestamp") && logical.contains("MILLIS"), "{logical}");
    let back = clv_in(
        &dir,
        &[
            "sql",
            "--table",
            "t=t.parquet",
            "SELECT CAST(t AS VARCHAR) AS t FROM t",
            "--format",
            "csv",
        ],
        None,
    );
    assert_eq!(back.ok(), "t\n2024-01-31T17:30:05\n");
}

/// Defect 3: the CSV files of one folder are read by column name (a file with the columns in
/// another order swapped them silently); files of compatible types (Int32 and Int64 ids,
/// integer and decimal amounts) are read with the widened type; a file without a transaction
/// column is an error naming it.
#[test]
fn folder_files_are_read_by_column_name_with_widened_types() {
    let dir = temp_dir("by-name");
    let csv = dir.join("csv");
    std::fs::create_dir_all(&csv).unwrap();
    std::fs::write(
        csv.join("a.csv"),
        "customer_id,order_date,amount\n1,2024-01-01,10\n2,2024-01-02,20\n",
    )
    .unwrap();
    std::fs::write(
        csv.join("b.csv"),
        "amount,customer_id,order_date\n3,500,2024-01-05\n4,1,2024-01-06\n",
    )
    .unwrap();
    let whole = dir.join("whole.csv");
    std::fs::write(
        &whole,
        "customer_id,order_date,amount\n1,2024-01-01,10\n2,2024-01-02,20\n500,2024-01-05,3\n1,2024-01-06,4\n",
    )
    .unwrap();
    let summary = |path: &str| {
        let run = clv_in(
            &dir,
            &[
                "rfm",
                path,
                "--as-of",
                "2024-01-10",
                "--scheme",
                "none",
                "--format",
                "csv",
            ],
            None,
        );
        sorted_lines(run.ok())
    };
    let folder = summary("csv");
    assert_eq!(folder, summary(whole.to_str().unwrap()));
    assert!(folder.iter().any(|l| l.starts_with("500,5,1,3.0,")), "{folder:?}");

    // Parquet files of compatible types.
    let parquet = dir.join("parquet");
    std::fs::create_dir_all(&parquet).unwrap();
    let p = |name: &str| parquet.join(name).to_str().unwrap().to_string();
    clv_in(
        &dir,
        &[
            "sql",
            "SELECT CAST(customer_id AS INT) AS customer_id, order_date, CAST(amount AS BIGINT) AS amount FROM cdnow WHERE customer_id <= 100",
            "--out",
            &p("a.parquet"),
            "-q",
        ],
        None,
    )
    .ok();
    clv_in(
        &dir,
        &[
            "sql",
            "SELECT order_date, customer_id, CAST(amount AS DECIMAL(12, 2)) AS amount FROM cdnow WHERE customer_id > 100 AND customer_id <= 200",
            "--out",
            &p("b.parquet"),
            "-q",
        ],
        None,
    )
    .ok();
    let run = clv_in(&dir, &["rfm", "parquet", "--format", "csv"], None);
    assert_eq!(run.ok().lines().count(), 201, "{}", run.stderr);

    // A file without the amount column.
    std::fs::write(csv.join("c.csv"), "customer_id,order_date\n7,2024-01-03\n").unwrap();
    let run = clv_in(&dir, &["rfm", "csv"], None);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("column 'amount' is missing from") && run.stderr.contains("c.csv"),
        "{}",
        run.stderr
    );
}

/// Defect 11: CSV ids "007" and "7" never merge silently. By default (id type auto) ids are
/// integers only when every id is the plain form of its number, else the run fails naming the
/// column and the flag; `--id-type string` (or `id_type = "string"` in clv.toml) keeps them as
/// text.
#[test]
fn csv_ids_with_leading_zeros_never_merge() {
    let dir = temp_dir("ids");
    std::fs::write(
        dir.join("tx.csv"),
        "customer_id,order_date,amount\n007,2024-01-01,10\n7,2024-01-02,20\n7,2024-01-03,5\n",
    )
    .unwrap();
    let run = clv_in(&dir, &["rfm", "tx.csv", "--format", "csv"], None);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    for needle in ["customer id column 'customer_id'", "'007' and '7'", "--id-type string"] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    let text = clv_in(
        &dir,
        &[
            "rfm",
            "tx.csv",
            "--id-type",
            "string",
            "--scheme",
            "none",
            "--format",
            "csv",
        ],
        None,
    );
    let rows = sorted_lines(text.ok());
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[0].starts_with("007,") && rows[1].starts_with("7,"), "{rows:?}");
    std::fs::write(dir.join("clv.toml"), "id_type = \"string\"\n").unwrap();
    assert_eq!(
        sorted_lines(clv_in(&dir, &["rfm", "tx.csv", "--scheme", "none", "--format", "csv"], None).ok()),
        rows
    );
    // Plain integer ids are read as integers, as before.
    std::fs::write(
        dir.join("plain.csv"),
        "customer_id,order_date,amount\n7,2024-01-01,10\n12,2024-01-02,20\n",
    )
    .unwrap();
    std::fs::remove_file(dir.join("clv.toml")).unwrap();
    let run = clv_in(&dir, &["summary", "plain.csv", "--format", "csv"], None);
    assert!(sorted_lines(run.ok())[0].starts_with("12,"), "{}", run.stdout);
}

/// A header-only CSV or an all-null column is "empty input", not "has type Null"; standard
/// input is refused with the fix, not "no .csv files".
#[test]
fn empty_input_is_named_as_such() {
    let dir = temp_dir("empty-input");
    std::fs::write(dir.join("header.csv"), "customer_id,order_date,amount\n").unwrap();
    std::fs::write(dir.join("nulls.csv"), "customer_id,order_date,amount\n1,,\n2,,\n").unwrap();
    for file in ["header.csv", "nulls.csv"] {
        let run = clv_in(&dir, &["rfm", file], None);
        assert_eq!(run.code, 65, "{}", run.stderr);
        assert!(run.stderr.starts_with("error: empty input: "), "{}", run.stderr);
        assert!(!run.stderr.contains("type Null"), "{}", run.stderr);
    }
    let run = clv_in(
        &dir,
        &["rfm", "/dev/stdin", "--input-format", "csv"],
        Some("customer_id,order_date,amount\n"),
    );
    assert_usage_error(&run, &["not standard input", "save the data to a file"]);
}

/// A non-converged model used for predictions warns; a cutoff with no customers shows n/a,
/// not a 0.0 % churn rate.
#[test]
fn poor_fits_warn_and_empty_cutoffs_have_no_rate() {
    let dir = temp_dir("warnings");
    clv_in(&dir, &["fit", "--out", "bg.json", "-q"], None).ok();
    let text = std::fs::read_to_string(dir.join("bg.json"))
        .unwrap()
        .replace("\"converged\": true", "\"converged\": false");
    std::fs::write(dir.join("bad.json"), text).unwrap();
    let run = clv_in(&dir, &["predict", "--model", "bad.json", "--format", "csv"], None);
    run.ok();
    assert!(
        run.stderr
            .contains("warning: the BG/NBD model in bad.json did not converge"),
        "{}",
        run.stderr
    );
    let clean = clv_in(&dir, &["predict", "--model", "bg.json", "--format", "csv"], None);
    assert!(!clean.stderr.contains("warning"), "{}", clean.stderr);
    let labels = clv_in(&dir, &["churn", "labels", "--cutoffs", "1990-01-31,1997-09-30"], None);
    let out = labels.ok();
    assert!(
        out.contains("1990-01-31: 0 customers with a purchase by the cutoff; churn rate n/a"),
        "{out}"
    );
}

/// A bad CSV or NDJSON value is named by file, row, line and column (DataFusion's own message
/// counts lines within a parallel range and names columns by position).
#[test]
fn a_bad_value_names_the_file_row_and_column() {
    let dir = temp_dir("locate");
    let mut text = "customer_id,order_date,amount\n".to_string();
    for i in 0..5_000 {
        text += &format!("{},2024-01-{:02},5\n", i % 300, 1 + i % 28);
    }
    text += "7,2024-13-45,3\n";
    std::fs::write(dir.join("orders.csv"), text).unwrap();
    let run = clv_in(&dir, &["rfm", "orders.csv"], None);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "orders.csv', row 5001 (line 5002), column 'order_date': '2024-13-45' is not a date or timestamp"
        ),
        "{}",
        run.stderr
    );
    std::fs::write(
        dir.join("tx.ndjson"),
        "{\"customer_id\":1,\"order_date\":\"2024-01-01\",\"amount\":3}\n{\"customer_id\":2,\"order_date\":\"soon\",\"amount\":3}\n",
    )
    .unwrap();
    let run = clv_in(&dir, &["rfm", "tx.ndjson"], None);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("tx.ndjson', row 2 (line 2), column 'order_date': '\"soon\"' is not a date"),
        "{}",
        run.stderr
    );
}
