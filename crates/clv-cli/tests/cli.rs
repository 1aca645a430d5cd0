//! The `clv` binary: output checked against the library, one-line errors, exit codes.

use std::process::Command;

const CDNOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_master.parquet");

fn clv(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_clv"))
        .args(args)
        .output()
        .expect("run clv");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

async fn library_segment_counts() -> Vec<(String, i64)> {
    use datafusion::arrow::array::{AsArray, RecordBatch};
    use datafusion::arrow::datatypes::Int64Type;
    let ctx = datafusion::prelude::SessionContext::new();
    clv::register_all(&ctx).unwrap();
    let batches: Vec<RecordBatch> = ctx
        .sql(&format!(
            "SELECT segment, count(*) FROM rfm('{CDNOW}') GROUP BY segment ORDER BY 2 DESC, 1"
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut out = vec![];
    for b in batches {
        let seg = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        for i in 0..b.num_rows() {
            out.push((
                seg.as_string::<i32>().value(i).to_string(),
                b.column(1).as_primitive::<Int64Type>().value(i),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn rfm_on_the_bundled_sample_matches_the_library() {
    let (code, stdout, stderr) = clv(&["rfm"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("23570 customers as of 1998-07-01, scheme rf_grid, method quantile with 5 bins"),
        "{stderr}"
    );
    for (segment, n) in library_segment_counts().await {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {segment} ")))
            .unwrap_or_else(|| panic!("no {segment} in\n{stdout}"));
        assert!(line.contains(&format!("| {n} ")), "{line} should count {n}");
    }
    for expected in [
        "rows read                           69659",
        "duplicate rows                        255  kept",
        "zero amount                            80  kept",
    ] {
        assert!(stdout.contains(expected), "missing '{expected}' in\n{stdout}");
    }
}

#[test]
fn rfm_writes_every_format() {
    let dir = std::env::temp_dir().join("clv-cli-test");
    std::fs::create_dir_all(&dir).unwrap();
    for ext in ["csv", "json", "parquet"] {
        let out = dir.join(format!("rfm.{ext}"));
        let (code, stdout, stderr) = clv(&["rfm", CDNOW, "--out", out.to_str().unwrap(), "--scheme", "rfm11"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("Wrote 23570 rows"), "{stdout}");
        assert!(std::fs::metadata(&out).unwrap().len() > 1000);
    }
    let csv = std::fs::read_to_string(dir.join("rfm.csv")).unwrap();
    assert!(csv.starts_with("customer_id,recency_days,frequency,monetary,r,f,m,rfm_cell,rfm_total,segment,first_purchase,last_purchase,tenure_days"));
    assert_eq!(csv.lines().count(), 23_571);
    // clv sql reads the written Parquet back.
    let p = dir.join("rfm.parquet");
    let (code, stdout, _) = clv(&[
        "sql",
        "--table",
        &format!("r={}", p.display()),
        "SELECT count(*) AS n FROM r",
        "--format",
        "csv",
    ]);
    assert_eq!((code, stdout.trim()), (0, "n\n23570"));
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    for (args, needle) in [
        (
            vec!["rfm", "missing.parquet"],
            "no file or folder exists at 'missing.parquet'",
        ),
        (
            vec!["rfm", "--bins", "4"],
            "scheme 'rf_grid' labels scores 1..5, but the r scores run 1..4",
        ),
        (
            vec!["rfm", "--as-of", "1998-13-01"],
            "--as-of: clv.as_of: '1998-13-01' is not a date; expected YYYY-MM-DD",
        ),
        (
            vec!["rfm", CDNOW, "--amount-col", "price"],
            "amount column 'price' not found; the input has columns [customer_id, order_date, quantity, amount]",
        ),
        (
            vec!["sql", "SELECT * FROM rfm('cdnow', 'method=nope')"],
            "unknown score method 'nope'",
        ),
        (
            vec!["sql", "--table", "bad", "SELECT 1"],
            "--table 'bad': expected NAME=PATH",
        ),
    ] {
        let (code, stdout, stderr) = clv(&args);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    }
    let (code, _, stderr) = clv(&["rfm", "--bins"]);
    assert_eq!(code, 2, "usage errors exit 2: {stderr}");
}
