//! Bad input: one line on stderr that names the file or column and says what to do, the exit
//! code of its kind (2 usage, 65 data), never a panic.

mod common;

use common::*;

fn assert_one_line(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(run.code, code, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    for n in needles {
        assert!(lines[0].contains(n), "'{n}' missing in: {}", lines[0]);
    }
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("backtrace"));
}

#[test]
fn data_errors_name_the_file_or_column_and_the_fix() {
    let dir = temp_dir("bad");
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // A corrupt Parquet file.
    std::fs::write(dir.join("corrupt.parquet"), b"PAR1 this is not really parquet").unwrap();
    assert_one_line(
        &clv(&["rfm", &p("corrupt.parquet")]),
        65,
        &["corrupt.parquet' is not a readable Parquet file", "--input-format"],
    );
    // A CSV without the amount column.
    std::fs::write(
        dir.join("no_amount.csv"),
        "customer_id,order_date,price\n1,2024-01-01,3.5\n",
    )
    .unwrap();
    assert_one_line(
        &clv(&["rfm", &p("no_amount.csv")]),
        65,
        &[
            "amount column 'amount' not found",
            "[customer_id, order_date, price]",
            "--amount-col",
        ],
    );
    // An empty file.
    std::fs::write(dir.join("empty.csv"), b"").unwrap();
    assert_one_line(
        &clv(&["summary", &p("empty.csv")]),
        65,
        &[
            "empty.csv' is empty (0 bytes)",
            "remove it or pass a CSV file with a header and transactions",
        ],
    );
    // A wrong column type: amounts as text.
    std::fs::write(
        dir.join("text_amount.csv"),
        "customer_id,order_date,amount\n1,2024-01-01,12 EUR\n",
    )
    .unwrap();
    assert_one_line(
        &clv(&["rfm", &p("text_amount.csv")]),
        65,
        &["amount column 'amount' has type", "--amount-col", "CAST"],
    );
    // Dates that are not dates.
    std::fs::write(
        dir.join("bad_date.ndjson"),
        "{\"customer_id\":1,\"order_date\":\"soon\",\"amount\":3}\n",
    )
    .unwrap();
    assert_one_line(&clv(&["rfm", &p("bad_date.ndjson")]), 65, &["soon"]);
    // No such file, no matching files.
    assert_one_line(
        &clv(&["rfm", "missing.parquet"]),
        65,
        &["no file or folder exists at 'missing.parquet'"],
    );
    assert_one_line(
        &clv(&["rfm", &format!("{}/*.parquet", p("nothing"))]),
        65,
        &["no .parquet files"],
    );
}

#[test]
fn model_files_of_another_kind_are_refused() {
    let dir = temp_dir("models");
    let gg = dir.join("spend.json");
    clv(&["fit", "--model", "gamma_gamma", "--out", gg.to_str().unwrap(), "-q"]).ok();
    assert_one_line(
        &clv(&["predict", "--model", gg.to_str().unwrap()]),
        65,
        &[
            "--model",
            "spend.json' holds a gamma_gamma model",
            "bg_nbd or pareto_nbd or mbg_nbd",
            "clv fit --model bg_nbd",
        ],
    );
    let bg = dir.join("bg.json");
    clv(&["fit", "--out", bg.to_str().unwrap(), "-q"]).ok();
    assert_one_line(
        &clv(&[
            "predict",
            "--model",
            bg.to_str().unwrap(),
            "--spend-model",
            bg.to_str().unwrap(),
        ]),
        65,
        &["--spend-model", "bg.json' holds a bg_nbd model", "gamma_gamma"],
    );
    // Not a model at all; a model with an invalid parameter.
    std::fs::write(dir.join("notes.json"), "{\"hello\": 1}").unwrap();
    assert_one_line(
        &clv(&["predict", "--model", dir.join("notes.json").to_str().unwrap()]),
        65,
        &["notes.json' is not a clv model file"],
    );
    let text = std::fs::read_to_string(&bg).unwrap().replacen("\"r\": ", "\"r\": -", 1);
    std::fs::write(dir.join("negative.json"), text).unwrap();
    assert_one_line(
        &clv(&["predict", "--model", dir.join("negative.json").to_str().unwrap()]),
        65,
        &["negative.json' is not a valid bg_nbd model"],
    );
}

#[test]
fn usage_errors_exit_2() {
    for (args, needle) in [
        (
            vec!["rfm", "--bins", "4"],
            "scheme 'rf_grid' labels scores 1..5, but the r scores run 1..4",
        ),
        (
            vec!["rfm", "--as-of", "1998-13-01"],
            "--as-of: clv.as_of: '1998-13-01' is not a date; expected YYYY-MM-DD",
        ),
        (
            vec!["sql", "SELECT * FROM rfm('cdnow', 'method=nope')"],
            "unknown score method 'nope'",
        ),
        (vec!["sql", "SELEC 1"], "SELEC"),
        (
            vec!["sql", "--table", "bad", "SELECT 1"],
            "--table 'bad': expected NAME=PATH",
        ),
        (
            vec!["rfm", "--out", "rfm.xlsx"],
            "cannot tell the format of 'rfm.xlsx' from its extension; use --format",
        ),
        (
            vec!["rfm", "--config", "nowhere.toml"],
            "--config: no file at 'nowhere.toml'",
        ),
    ] {
        assert_one_line(&clv(&args), 2, &[needle]);
    }
    let dir = temp_dir("xlsx");
    std::fs::write(dir.join("orders.xlsx"), b"PK").unwrap();
    assert_one_line(
        &clv_in(&dir, &["rfm", "orders.xlsx"], None),
        2,
        &["cannot tell the format of 'orders.xlsx'", "--input-format"],
    );
    let run = clv(&["rfm", "--bins"]);
    assert_eq!(run.code, 2, "clap's usage errors exit 2: {}", run.stderr);
}
