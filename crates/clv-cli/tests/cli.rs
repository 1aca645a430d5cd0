//! The `clv` binary: every command's output checked against the library, every input format,
//! one-line errors with exit codes, and `--help` snapshots.

mod common;

use clv::prelude::*;
use common::*;

async fn library_segment_counts() -> Vec<(String, i64)> {
    let ctx = library();
    let batches = sql(
        &ctx,
        &format!("SELECT segment, count(*) AS n FROM rfm('{CDNOW}') GROUP BY segment ORDER BY 2 DESC, 1"),
    )
    .await;
    let n = f64s(&batches, "n");
    let mut out = vec![];
    for b in &batches {
        let seg = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        use datafusion::arrow::array::AsArray;
        for i in 0..b.num_rows() {
            out.push((seg.as_string::<i32>().value(i).to_string(), 0));
        }
    }
    for (o, v) in out.iter_mut().zip(n) {
        o.1 = v as i64;
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn rfm_on_the_bundled_sample_matches_the_library() {
    let run = clv(&["rfm"]);
    let stdout = run.ok();
    assert!(
        run.stderr
            .contains("23570 customers as of 1998-07-01, scheme rf_grid, method quantile with 5 bins"),
        "{}",
        run.stderr
    );
    let counts = library_segment_counts().await;
    assert_eq!(counts.iter().map(|c| c.1).sum::<i64>(), 23_570);
    for (segment, n) in counts {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {segment} ")))
            .unwrap_or_else(|| panic!("no {segment} in\n{stdout}"));
        assert!(line.contains(&format!("| {n} ")), "{line} should count {n}");
    }
    let report = Rfm::new().policy_report(&library(), CDNOW).await.unwrap();
    for (policy, action, n) in report.lines(&ClvOptions::default()) {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(policy))
            .unwrap_or_else(|| panic!("no '{policy}' in\n{stdout}"));
        assert!(
            line.contains(&format!(" {n}")) && line.contains(action),
            "{line}: {n} {action}"
        );
    }
    // The full result, as CSV, is the library's.
    let csv_out = clv(&["rfm", "--format", "csv"]);
    let ctx = library();
    let lib = Rfm::new()
        .dataframe(&ctx, CDNOW)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut got: Vec<&str> = csv_out.ok().lines().collect();
    let expected = csv(&lib);
    let mut want: Vec<&str> = expected.lines().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn rfm_writes_every_format() {
    let dir = temp_dir("formats");
    for ext in ["csv", "json", "parquet", "txt"] {
        let out = dir.join(format!("rfm.{ext}"));
        let run = clv(&["rfm", CDNOW, "--out", out.to_str().unwrap(), "--scheme", "rfm11"]);
        run.ok();
        assert!(run.stderr.contains("Wrote 23570 rows"), "{}", run.stderr);
        assert!(std::fs::metadata(&out).unwrap().len() > 1000);
    }
    let csv = std::fs::read_to_string(dir.join("rfm.csv")).unwrap();
    assert!(csv.starts_with("customer_id,recency_days,frequency,monetary,r,f,m,rfm_cell,rfm_total,segment,first_purchase,last_purchase,tenure_days"));
    assert_eq!(csv.lines().count(), 23_571);
    let json = std::fs::read_to_string(dir.join("rfm.json")).unwrap();
    assert_eq!(json.lines().count(), 23_570);
    assert!(json.lines().all(|l| l.starts_with("{\"customer_id\":")));
    // --format must agree with the extension of --out (docs/cli.md): x.csv as JSON is refused;
    // a file without a known extension takes --format.
    let run = clv(&[
        "rfm",
        CDNOW,
        "--out",
        dir.join("x.csv").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!dir.join("x.csv").exists());
    clv(&[
        "rfm",
        CDNOW,
        "--out",
        dir.join("x.out").to_str().unwrap(),
        "--format",
        "csv",
        "-q",
    ])
    .ok();
    let text = std::fs::read_to_string(dir.join("x.out")).unwrap();
    assert!(
        text.starts_with("customer_id,recency_days,frequency,"),
        "{}",
        &text[..200]
    );
    assert_eq!(text.lines().count(), 23_571);
    // clv sql reads the written Parquet back.
    let p = dir.join("rfm.parquet");
    let run = clv(&[
        "sql",
        "--table",
        &format!("r={}", p.display()),
        "SELECT count(*) AS n FROM r",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok().trim(), "n\n23570");
    // --quiet: nothing on stderr.
    let run = clv(&["rfm", "--quiet", "--out", dir.join("q.csv").to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn summary_matches_the_library() {
    let run = clv(&[
        "summary",
        CDNOW,
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
        "--format",
        "csv",
    ]);
    let ctx = library();
    let lib = BtydSummary::new()
        .calibration_end("1997-09-30")
        .holdout_end("1998-06-30")
        .dataframe(&ctx, CDNOW)
        .await
        .unwrap()
        .sort(vec![datafusion::prelude::col("customer_id").sort(true, false)])
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(run.ok(), csv(&lib));
    assert_eq!(run.stdout.lines().count(), 23_571);
    // The terminal view: an overview whose numbers are the library's.
    let run = clv(&["summary", "--calibration-end", "1997-09-30"]);
    let repeaters = f64s(&lib, "x").iter().filter(|x| **x > 0.0).count();
    assert!(
        run.ok().contains(&format!("| 23570     | {repeaters} ")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(first 10 of 23570 rows)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cohorts_match_the_library() {
    let ctx = library();
    let lib = sql(
        &ctx,
        &format!("SELECT * FROM cohort_retention('{CDNOW}', 'quarter') ORDER BY cohort, period_offset"),
    )
    .await;
    let run = clv(&["cohorts", CDNOW, "--period", "quarter", "--format", "csv"]);
    assert_eq!(run.ok(), csv(&lib));
    // The terminal triangle shows the library's retention rates, in %.
    let rates = f64s(&lib, "retention_rate");
    let offsets = f64s(&lib, "period_offset");
    let run = clv(&["cohorts", "--period", "quarter"]);
    let row = run
        .ok()
        .lines()
        .find(|l| l.starts_with("1997-01-01"))
        .unwrap_or_else(|| panic!("{}", run.stdout))
        .to_string();
    let cells: Vec<&str> = row.split_whitespace().collect();
    // The first cohort's rows come first (offsets 0, 1, ...; the next cohort restarts at 0).
    let first: Vec<usize> = (0..offsets.len())
        .take_while(|i| *i == 0 || offsets[*i] != 0.0)
        .collect();
    assert_eq!(cells.len(), 2 + first.len(), "{row}");
    for i in first {
        assert_eq!(
            cells[2 + offsets[i] as usize],
            format!("{:.1}", 100.0 * rates[i]),
            "{row}"
        );
    }
    let run = clv(&["cohorts", "--metric", "customers"]);
    assert!(run.ok().contains("customers active in the period"));
}

#[tokio::test(flavor = "multi_thread")]
async fn churn_stages_and_transitions_match_the_library() {
    let ctx = library();
    let lib = sql(
        &ctx,
        &format!("SELECT * FROM lifecycle('{CDNOW}', 'as_of=1998-01-01', 'churn_days=120') ORDER BY customer_id"),
    )
    .await;
    let run = clv(&[
        "churn",
        "stages",
        CDNOW,
        "--as-of",
        "1998-01-01",
        "--churn-days",
        "120",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok(), csv(&lib));
    let counts = sql(
        &ctx,
        &format!("SELECT stage, count(*) AS n FROM lifecycle('{CDNOW}') GROUP BY stage"),
    )
    .await;
    let run = clv(&["churn", "stages"]);
    let n = f64s(&counts, "n");
    assert_eq!(n.iter().sum::<f64>(), 23_570.0);
    for (b, count) in counts
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| (b, i)))
        .zip(&n)
    {
        use datafusion::arrow::array::AsArray;
        let stage =
            b.0.column(0)
                .as_string_view_opt()
                .map(|s| s.value(b.1).to_string())
                .unwrap_or_else(|| b.0.column(0).as_string::<i32>().value(b.1).to_string());
        assert!(
            run.stdout.contains(&format!("| {stage:<11} | {:<9} |", *count as i64)),
            "{stage} {count}\n{}",
            run.stdout
        );
    }
    let lib = sql(
        &ctx,
        &format!(
            "SELECT * FROM lifecycle_transitions('{CDNOW}', '1997-10-01', '1998-04-01') ORDER BY from_stage, to_stage"
        ),
    )
    .await;
    let run = clv(&[
        "churn",
        "transitions",
        CDNOW,
        "--from",
        "1997-10-01",
        "--to",
        "1998-04-01",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok(), csv(&lib));
}

#[tokio::test(flavor = "multi_thread")]
async fn churn_labels_and_evaluation_match_the_library() {
    let ctx = library();
    let lib = ChurnLabels::new()
        .cutoffs("1997-06-30,1997-09-30")
        .window_days(120)
        .dataframe(&ctx, CDNOW)
        .await
        .unwrap()
        .sort(vec![
            datafusion::prelude::col("cutoff").sort(true, false),
            datafusion::prelude::col("customer_id").sort(true, false),
        ])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let run = clv(&[
        "churn",
        "labels",
        CDNOW,
        "--cutoffs",
        "1997-06-30,1997-09-30",
        "--window-days",
        "120",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok(), csv(&lib));
    // The terminal summary counts the library's labels.
    let churned = sql(
        &ctx,
        &format!(
            "SELECT sum(CASE WHEN churned THEN 1 ELSE 0 END) AS n FROM churn_labels('{CDNOW}', '1997-09-30', 120)"
        ),
    )
    .await;
    let n = f64s(&churned, "n")[0] as i64;
    let run = clv(&["churn", "labels", "--cutoffs", "1997-09-30", "--window-days", "120"]);
    assert!(
        run.ok()
            .contains(&format!("| 1997-09-30 | 1998-01-28 | 23570     | {n} ")),
        "{}",
        run.stdout
    );
    // The evaluation (on the 2,357-customer sample): every score side by side, as the library's.
    let lib = ChurnRisk::new()
        .cutoffs("1997-09-30")
        .window_days(90)
        .evaluate(&ctx, SAMPLE)
        .await
        .unwrap()
        .sort(vec![datafusion::prelude::col("score").sort(true, false)])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let run = clv(&[
        "churn",
        "evaluate",
        SAMPLE,
        "--cutoffs",
        "1997-09-30",
        "--window-days",
        "90",
        "--format",
        "csv",
    ]);
    let mut lines: Vec<&str> = run.ok().lines().collect();
    let header = lines.remove(0).to_string();
    lines.sort();
    let text = std::iter::once(header.as_str())
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n");
    for column in [
        "customers",
        "churned",
        "auc",
        "brier",
        "log_loss",
        "max_decile_gap",
        "lift_10",
        "gain_20",
    ] {
        let (want, got) = (f64s(&lib, column), csv_column(&text, column));
        assert_eq!(want.len(), 7, "{column}");
        for (a, b) in want.iter().zip(got) {
            assert!(
                (a.is_nan() && b.is_nan()) || close(*a, b, 1e-12),
                "{column}: {a} vs {b}"
            );
        }
    }
    // The terminal view: the scores best first, a warning in words for 1 - P(alive).
    let run = clv(&[
        "churn",
        "evaluate",
        SAMPLE,
        "--cutoffs",
        "1997-09-30",
        "--window-days",
        "90",
    ]);
    let out = run.ok();
    assert!(
        out.contains("Scores side by side") && out.contains("| churn_model "),
        "{out}"
    );
    assert!(
        out.contains(
            "Warning: 1 - P(alive) (dropout_probability) ranks the customers at 1997-09-30 worse than a coin flip"
        ),
        "{out}"
    );
    assert!(out.contains("Calibration deciles of the trained model"), "{out}");
    let run = clv(&["churn", "labels"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--cutoffs is required"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn churn_contacts_risk_and_model_match_the_library() {
    let ctx = library();
    let dir = temp_dir("churn");
    let lib = ChurnRisk::new()
        .cutoff("1997-09-30")
        .contacts(&ctx, SAMPLE)
        .await
        .unwrap()
        .sort(vec![datafusion::prelude::col("rank").sort(true, false)])
        .unwrap()
        .collect()
        .await
        .unwrap();
    // The contact list for a CRM: the library's, row for row.
    let out = dir.join("contacts.csv");
    clv(&[
        "churn",
        "contacts",
        SAMPLE,
        "--cutoff",
        "1997-09-30",
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv(&lib));
    // --tier and --top cut it; the default cutoff is the last transaction date (1998-06-30).
    let run = clv(&[
        "churn", "contacts", SAMPLE, "--tier", "high", "--top", "3", "--format", "csv",
    ]);
    let text = run.ok();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.lines().skip(1).all(|l| l.contains(",high,")), "{text}");
    let now = ChurnRisk::new()
        .cutoff("1998-06-30")
        .contacts(&ctx, SAMPLE)
        .await
        .unwrap()
        .filter(datafusion::prelude::col("risk_tier").eq(datafusion::prelude::lit("high")))
        .unwrap()
        .sort(vec![datafusion::prelude::col("rank").sort(true, false)])
        .unwrap()
        .limit(0, Some(3))
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(text, csv(&now));
    // The model: its JSON is the library's model.
    let json = dir.join("model.json");
    let run = clv(&[
        "churn",
        "model",
        SAMPLE,
        "--cutoff",
        "1997-09-30",
        "--out",
        json.to_str().unwrap(),
    ]);
    let out = run.ok();
    assert!(out.contains("| log_recency ") && out.contains("converged"), "{out}");
    let written: clv::ltv::FittedLogistic = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let model = ChurnRisk::new().cutoff("1997-09-30").model(&ctx, SAMPLE).await.unwrap();
    assert_eq!(written, model);
    // Tiers outside high/medium/low are a usage error.
    let run = clv(&["churn", "contacts", SAMPLE, "--tier", "urgent"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--tier: 'urgent' is not a tier"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn fit_writes_the_library_model() {
    use clv::ltv::{BgNbd, FittedBgNbd, FittedGammaGamma};
    let dir = temp_dir("fit");
    let out = dir.join("bgnbd.json");
    let run = clv(&[
        "fit",
        CDNOW,
        "--calibration-end",
        "1997-09-30",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.ok().contains("BG/NBD fit on 23570 customers"), "{}", run.stdout);
    let text = std::fs::read_to_string(&out).unwrap();
    let cli: FittedBgNbd = serde_json::from_str(&text).unwrap();
    let data = BtydSummary::new()
        .calibration_end("1997-09-30")
        .collect(&library(), CDNOW)
        .await
        .unwrap();
    let lib = BgNbd::new().fit(&data).unwrap();
    let (a, b) = (cli.params(), lib.params());
    for (x, y) in [(a.r, b.r), (a.alpha, b.alpha), (a.a, b.a), (a.b, b.b)] {
        assert!(close(x, y, 1e-6), "{a:?} vs {b:?}");
    }
    assert!(cli.standard_errors().is_some());
    // Without --out the model goes to stdout (and the description to stderr).
    let run = clv(&["fit", "--model", "gamma_gamma", "--calibration-end", "1997-09-30"]);
    let gg: FittedGammaGamma = serde_json::from_str(run.ok()).unwrap();
    assert!(gg.fit_report().unwrap().converged);
    assert!(run.stderr.contains("Gamma-Gamma fit on"), "{}", run.stderr);
    let run = clv(&[
        "fit",
        "--model",
        "pareto_nbd",
        "--time-unit",
        "day",
        "--calibration-end",
        "1997-09-30",
    ]);
    assert!(run.ok().contains("\"kind\": \"pareto_nbd\"") && run.stdout.contains("\"time_unit\": \"day\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn fit_then_predict_equals_clv_predict() {
    use clv::ltv::{FittedBgNbd, FittedGammaGamma};
    let dir = temp_dir("predict");
    let (bg, gg) = (dir.join("bg.json"), dir.join("gg.json"));
    // The full CDNOW file: it has a repeat buyer whose repeat purchases were free, whom
    // clv_predict scores outside the Gamma-Gamma fit; the CLI must do the same.
    let common = ["--calibration-end", "1997-09-30", "-q"];
    for (model, out) in [("bg_nbd", &bg), ("gamma_gamma", &gg)] {
        let mut args = vec!["fit", CDNOW, "--model", model, "--out", out.to_str().unwrap()];
        args.extend(common);
        clv(&args).ok();
    }
    let mut args = vec![
        "predict",
        CDNOW,
        "--model",
        bg.to_str().unwrap(),
        "--spend-model",
        gg.to_str().unwrap(),
        "--horizon",
        "39",
        "--format",
        "csv",
    ];
    args.extend(common);
    let run = clv(&args);
    let text = run.ok();
    let ctx = library();
    let lib = sql(
        &ctx,
        &format!("SELECT * FROM clv_predict('{CDNOW}', '1997-09-30', 39) ORDER BY customer_id"),
    )
    .await;
    assert_eq!(f64s(&lib, "customer_id"), csv_column(text, "customer_id"));
    for column in [
        "x",
        "t_x",
        "t",
        "monetary",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    ] {
        let (a, b) = (f64s(&lib, column), csv_column(text, column));
        assert_eq!(a.len(), 23_570);
        for (x, y) in a.iter().zip(&b) {
            assert!(close(*x, *y, 1e-9), "{column}: {x} vs {y}");
        }
    }
    // And every P(alive) / expected spend is the Rust model's, loaded from the files.
    let m: FittedBgNbd = serde_json::from_str(&std::fs::read_to_string(&bg).unwrap()).unwrap();
    let g: FittedGammaGamma = serde_json::from_str(&std::fs::read_to_string(&gg).unwrap()).unwrap();
    let (x, t_x, t, z) = (
        csv_column(text, "x"),
        csv_column(text, "t_x"),
        csv_column(text, "t"),
        csv_column(text, "monetary"),
    );
    let (pa, es) = (csv_column(text, "p_alive"), csv_column(text, "expected_spend"));
    for i in 0..x.len() {
        assert!(close(pa[i], m.p_alive(x[i], t_x[i], t[i]).unwrap(), 1e-12));
        let spend = if x[i] > 0.0 {
            g.conditional_expected_spend(x[i], z[i]).unwrap()
        } else {
            g.population_mean_spend().unwrap()
        };
        assert!(close(es[i], spend, 1e-9), "{} vs {spend}", es[i]);
    }
    // The terminal view: overview and top customers.
    let run = clv(&[
        "predict",
        "--model",
        bg.to_str().unwrap(),
        "--calibration-end",
        "1997-09-30",
    ]);
    assert!(
        run.ok().contains("Top 10 customers by expected_purchases"),
        "{}",
        run.stdout
    );
}

/// `clv predict --intervals` gives the bounds of SQL `clv_predict(..., 'intervals=...')`: the
/// same customer bootstrap (weights keyed by customer id, refits of the same kinds).
#[tokio::test(flavor = "multi_thread")]
async fn predict_intervals_equal_clv_predict_intervals() {
    let dir = temp_dir("predict_intervals");
    let (bg, gg) = (dir.join("bg.json"), dir.join("gg.json"));
    let common = ["--calibration-end", "1997-09-30", "-q"];
    for (model, out) in [("bg_nbd", &bg), ("gamma_gamma", &gg)] {
        let mut args = vec!["fit", CDNOW, "--model", model, "--out", out.to_str().unwrap()];
        args.extend(common);
        clv(&args).ok();
    }
    let mut args = vec![
        "predict",
        CDNOW,
        "--model",
        bg.to_str().unwrap(),
        "--spend-model",
        gg.to_str().unwrap(),
        "--horizon",
        "39",
        "--intervals",
        "0.9",
        "--replicates",
        "10",
        "--seed",
        "5",
        "--format",
        "csv",
    ];
    args.extend(common);
    let run = clv(&args);
    let text = run.ok();
    let lib = sql(
        &library(),
        &format!(
            "SELECT * FROM clv_predict('{CDNOW}', '1997-09-30', 39, 'intervals=0.9', 'replicates=10', 'seed=5') \
             ORDER BY customer_id"
        ),
    )
    .await;
    for column in [
        "p_alive_lower",
        "p_alive_upper",
        "expected_purchases_lower",
        "expected_purchases_upper",
        "clv_lower",
        "clv_upper",
    ] {
        let (a, b) = (f64s(&lib, column), csv_column(text, column));
        assert_eq!(a.len(), 23_570);
        assert_eq!(b.len(), 23_570);
        for (x, y) in a.iter().zip(&b) {
            assert!(close(*x, *y, 1e-9), "{column}: {x} vs {y}");
        }
    }
    let (lo, p, hi) = (
        csv_column(text, "expected_purchases_lower"),
        csv_column(text, "expected_purchases"),
        csv_column(text, "expected_purchases_upper"),
    );
    assert!((0..p.len()).all(|i| lo[i] <= hi[i]));
    // The point predictions are the file's model, inside the bounds for nearly every customer.
    let inside = (0..p.len()).filter(|&i| lo[i] <= p[i] && p[i] <= hi[i]).count();
    assert!(inside as f64 >= 0.9 * p.len() as f64, "{inside} of {}", p.len());
}

/// `clv fit --model auto` writes the model SQL `clv_model(..., 'model=auto')` chooses (the
/// library's `ltv_compare`): by holdout RMSE with --holdout-end, else by BIC; the file is the
/// chosen fit's own serialization plus a `selection` field, and `clv predict` reads it.
#[tokio::test(flavor = "multi_thread")]
async fn fit_auto_writes_the_model_sql_model_auto_chooses() {
    use clv::ltv::KindTag;
    let dir = temp_dir("fit_auto");
    let ctx = library();
    for holdout in [Some("1998-06-30"), None] {
        let out = dir.join(format!("auto-{}.json", holdout.is_some()));
        let mut args = vec![
            "fit",
            CDNOW,
            "--model",
            "auto",
            "--calibration-end",
            "1997-09-30",
            "--out",
            out.to_str().unwrap(),
        ];
        let mut options = "".to_string();
        if let Some(end) = holdout {
            args.extend(["--holdout-end", end]);
            options = format!(", 'holdout_end={end}'");
        }
        let run = clv(&args);
        run.ok();
        let lib = sql(
            &ctx,
            &format!(
                "SELECT comparison.json AS json, comparison.rule AS rule, comparison.reason AS reason, model.model AS kind \
                 FROM clv_model('{CDNOW}', '1997-09-30', 'model=auto'{options})"
            ),
        )
        .await;
        let (json, rule, reason, kind) = (
            strings(&lib, "json")[0].clone(),
            strings(&lib, "rule")[0].clone(),
            strings(&lib, "reason")[0].clone(),
            strings(&lib, "kind")[0].clone(),
        );
        assert_eq!(rule, if holdout.is_some() { "holdout_rmse" } else { "bic" });
        let text = std::fs::read_to_string(&out).unwrap();
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(file["kind"], serde_json::Value::from(kind.as_str()));
        // Every field of the chosen fit, number for number, and the reason.
        for field in ["kind", "format_version", "params", "time_unit", "fit"] {
            assert_eq!(file[field], want[field], "{field}");
        }
        assert_eq!(file["selection"]["rule"], serde_json::Value::from(rule.as_str()));
        assert_eq!(file["selection"]["reason"], serde_json::Value::from(reason.as_str()));
        let tag: KindTag = serde_json::from_str(&text).unwrap();
        assert_eq!(tag.kind.name(), kind);
        assert!(run.stderr.contains("--model auto chose"), "{}", run.stderr);
        assert!(run.stderr.contains(&reason), "{}", run.stderr);
        // The file is a model file like any other.
        let run = clv(&[
            "predict",
            CDNOW,
            "--model",
            out.to_str().unwrap(),
            "--calibration-end",
            "1997-09-30",
            "--format",
            "csv",
            "-q",
        ]);
        assert_eq!(csv_column(run.ok(), "p_alive").len(), 23_570);
    }
    // --quiet: the JSON on stdout and nothing on stderr.
    let run = clv(&["fit", "--model", "auto", "--calibration-end", "1997-09-30", "-q"]);
    assert!(run.ok().contains("\"selection\""));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    // The holdout and the candidates belong to a choice.
    let run = clv(&["fit", "--holdout-end", "1998-06-30"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--model auto"), "{}", run.stderr);
}

/// `clv compare` prints and writes the SQL `clv_compare` table.
#[tokio::test(flavor = "multi_thread")]
async fn compare_equals_clv_compare() {
    let lib = sql(
        &library(),
        &format!(
            "SELECT * FROM clv_compare('{CDNOW}', '1997-09-30', '1998-06-30', 'models=bg_nbd,pareto_nbd', 'penalizers=0,0.01')"
        ),
    )
    .await;
    let run = clv(&[
        "compare",
        CDNOW,
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
        "--models",
        "bg_nbd,pareto_nbd",
        "--penalizers",
        "0,0.01",
        "--format",
        "csv",
    ]);
    let text = run.ok();
    // Two models x two penalizers and the naive baseline, every column as in SQL.
    assert_eq!(strings(&lib, "model").len(), 5);
    let (header, rows) = parse_csv(text);
    let lib_schema = lib[0].schema();
    let lib_header: Vec<&str> = lib_schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(header, lib_header);
    assert_eq!(rows.len(), 5);
    for column in ["model", "chosen", "converged", "rule", "reason", "error"] {
        let cli: Vec<String> = rows
            .iter()
            .map(|r| {
                r[header.iter().position(|h| h == column).unwrap()]
                    .trim_matches('"')
                    .to_string()
            })
            .collect();
        assert_eq!(cli, strings(&lib, column), "{column}");
    }
    for column in [
        "penalizer",
        "log_likelihood",
        "aic",
        "bic",
        "mae",
        "rmse",
        "bias",
        "correlation",
        "total_predicted",
        "total_actual",
        "total_error",
    ] {
        let (a, b) = (f64s(&lib, column), csv_column(text, column));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!(close(*x, *y, 1e-12), "{column}: {x} vs {y}");
        }
    }
    // The terminal view marks the chosen candidate and gives the reason.
    let chosen = strings(&lib, "chosen").iter().position(|c| c == "true").unwrap();
    let (model, reason) = (&strings(&lib, "model")[chosen], &strings(&lib, "reason")[0]);
    let run = clv(&[
        "compare",
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
        "--models",
        "bg_nbd,pareto_nbd",
        "--penalizers",
        "0,0.01",
    ]);
    let view = run.ok();
    assert!(view.contains(&format!("Chosen (*): {reason}")), "{view}");
    let marked: Vec<&str> = view.lines().filter(|l| l.trim_start().starts_with("| *")).collect();
    assert_eq!(marked.len(), 1, "{view}");
    assert!(marked[0].contains(model.as_str()), "{view}");
    // Without a holdout, BIC decides; a calibration end is required.
    let run = clv(&["compare", "--calibration-end", "1997-09-30", "--format", "csv"]);
    assert!(run.ok().contains("bic"), "{}", run.stdout);
    let run = clv(&["compare"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn every_input_format_folder_and_glob_gives_the_same_rfm() {
    let dir = temp_dir("inputs");
    let expected = clv(&["rfm", "--format", "csv", "--scheme", "rfm11"]).ok().to_string();
    // Write the bundled sample as CSV, NDJSON and two Parquet parts.
    let parts = dir.join("parts");
    std::fs::create_dir_all(&parts).unwrap();
    for (query, file) in [
        ("SELECT * FROM cdnow", dir.join("tx.csv")),
        ("SELECT * FROM cdnow", dir.join("tx.ndjson")),
        (
            "SELECT * FROM cdnow WHERE customer_id <= 10000",
            parts.join("a.parquet"),
        ),
        ("SELECT * FROM cdnow WHERE customer_id > 10000", parts.join("b.parquet")),
    ] {
        clv(&["sql", query, "--out", file.to_str().unwrap(), "-q"]).ok();
    }
    let glob = format!("{}/*.parquet", parts.display());
    for input in [
        dir.join("tx.csv").to_str().unwrap(),
        dir.join("tx.ndjson").to_str().unwrap(),
        parts.to_str().unwrap(),
        glob.as_str(),
    ] {
        let run = clv(&["rfm", input, "--format", "csv", "--scheme", "rfm11"]);
        let mut got: Vec<&str> = run.ok().lines().collect();
        let mut want: Vec<&str> = expected.lines().collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{input}");
    }
    // A file with an unusual extension is read with --input-format.
    std::fs::copy(dir.join("tx.ndjson"), dir.join("tx.log")).unwrap();
    let run = clv(&[
        "summary",
        dir.join("tx.log").to_str().unwrap(),
        "--input-format",
        "json",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok(), clv(&["summary", "--format", "csv"]).ok());
}

#[test]
fn column_mapping_comes_from_flags_or_clv_toml() {
    let dir = temp_dir("toml");
    clv(&[
        "sql",
        "SELECT customer_id AS cust, order_date AS ts, amount AS total FROM cdnow",
        "--out",
        dir.join("renamed.csv").to_str().unwrap(),
        "-q",
    ])
    .ok();
    let expected = clv(&["rfm", "--format", "csv"]).ok().to_string();
    let run = clv_in(
        &dir,
        &[
            "rfm",
            "renamed.csv",
            "--customer-col",
            "cust",
            "--time-col",
            "ts",
            "--amount-col",
            "total",
            "--format",
            "csv",
        ],
        None,
    );
    assert_eq!(sorted_lines(run.ok()), sorted_lines(&expected));
    std::fs::write(
        dir.join("clv.toml"),
        "customer_column = \"cust\"\ntime_column = \"ts\"\namount_column = \"total\"\n\n[rfm]\nscheme = \"rf_grid\"\n",
    )
    .unwrap();
    let run = clv_in(&dir, &["rfm", "renamed.csv", "--format", "csv"], None);
    assert_eq!(sorted_lines(run.ok()), sorted_lines(&expected));
    // Flags win over the file; --config points elsewhere.
    let run = clv_in(
        &dir,
        &["rfm", "renamed.csv", "--scheme", "rfm11", "--format", "csv"],
        None,
    );
    assert!(run.ok().contains("Champions"));
    std::fs::write(dir.join("other.toml"), "[rfm]\nbins = 11\n").unwrap();
    let run = clv_in(&dir, &["rfm", "renamed.csv", "--config", "other.toml"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("other.toml: rfm.bins: bins must be an integer between 2 and 10"),
        "{}",
        run.stderr
    );
}

#[test]
fn sql_runs_statements_and_the_shell_reads_piped_input() {
    let run = clv(&[
        "sql",
        "SET clv.rfm.scheme = 'rfm11'; SELECT segment FROM rfm('cdnow') WHERE customer_id = 3",
    ]);
    assert!(run.ok().contains("| Champions |"), "{}", run.stdout);
    let dir = temp_dir("shell");
    std::fs::write(
        dir.join("orders.csv"),
        "customer_id,order_date,amount\n1,2024-01-01,5\n",
    )
    .unwrap();
    let run = clv_in(
        &dir,
        &["sql", "--table", "orders=orders.csv"],
        Some("SELECT count(*) AS n\n  FROM rfm('cdnow');\n\\d\n\\d cdnow\nSELECT nope;\n\\q\n"),
    );
    // \d lists the registered tables (the bundled sample and --table ones; a file is a view
    // over its `_raw` listing table), then the functions.
    let tables = run
        .stdout
        .split("\nTables\n")
        .nth(1)
        .and_then(|t| t.split("clv functions").next())
        .unwrap_or_else(|| panic!("no table list in\n{}", run.stdout));
    for (name, kind) in [("cdnow", "BASE TABLE"), ("orders", "VIEW")] {
        assert!(
            tables
                .lines()
                .any(|l| l.starts_with(&format!("| {name} ")) && l.contains(&format!("| {kind} "))),
            "\\d does not list {name}:\n{tables}"
        );
    }
    assert_eq!(
        run.code, 2,
        "a failed statement in a piped script fails the run: {}",
        run.stderr
    );
    assert!(run.stdout.contains("| 23570 |"), "{}", run.stdout);
    assert!(run.stdout.contains("table     rfm(source [, as_of"), "{}", run.stdout);
    assert!(run.stdout.contains("| customer_id | Int64"), "{}", run.stdout);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains("nope")),
        "{}",
        run.stderr
    );
    let run = clv_in(&dir, &["sql"], Some("SELECT 1 AS one;\n"));
    assert!(run.ok().contains("| 1   |"), "{}", run.stdout);
    // A script that is not UTF-8 is a usage error (exit 2), not an internal one.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clv"))
        .arg("sql")
        .current_dir(&dir)
        .env("CLV_HISTORY", dir.join("history"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT 'caf\xe9' AS latin1;\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: reading input: ") && stderr.contains("UTF-8") && !stderr.contains("internal"),
        "{stderr}"
    );
}

/// `--order-col`: frequency counts distinct orders, as the library's `order_column` does, not
/// rows (order 'A' has two lines).
#[tokio::test(flavor = "multi_thread")]
async fn order_col_counts_orders_like_the_library() {
    let dir = temp_dir("orders");
    let path = dir.join("lines.csv");
    std::fs::write(
        &path,
        "customer_id,order_date,amount,order_id\n\
         1,2024-01-05,10.0,A\n\
         1,2024-01-05,5.0,A\n\
         1,2024-02-01,20.0,B\n\
         2,2024-01-10,7.5,C\n\
         3,2024-01-02,3.0,D\n\
         3,2024-03-01,4.0,E\n\
         3,2024-03-01,6.0,F\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let by_customer = |text: &str, column: &str| -> Vec<(i64, f64)> {
        let mut v: Vec<(i64, f64)> = csv_column(text, "customer_id")
            .into_iter()
            .map(|c| c as i64)
            .zip(csv_column(text, column))
            .collect();
        v.sort_by_key(|p| p.0);
        v
    };
    let with = clv(&["rfm", file, "--order-col", "order_id", "--format", "csv"]);
    let with = with.ok();
    let without = clv(&["rfm", file, "--format", "csv"]);
    let without = without.ok();
    // Customer 1: 3 lines in 2 orders; customer 3: two orders on one day count twice.
    assert_eq!(by_customer(with, "frequency"), vec![(1, 2.0), (2, 1.0), (3, 3.0)]);
    assert_eq!(by_customer(without, "frequency"), vec![(1, 3.0), (2, 1.0), (3, 3.0)]);
    // Order lines add up: monetary is the same either way.
    assert_eq!(by_customer(with, "monetary"), by_customer(without, "monetary"));
    // The library, through the builder and through SQL, agrees column for column.
    let ctx = library();
    let lib = Rfm::new()
        .order_column("order_id")
        .dataframe(&ctx, file)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(sorted_lines(with), sorted_lines(&csv(&lib)));
    let lib = sql(&ctx, &format!("SELECT * FROM rfm('{file}', 'order_column=order_id')")).await;
    assert_eq!(sorted_lines(with), sorted_lines(&csv(&lib)));
    // clv.toml's order_column does the same.
    std::fs::write(dir.join("clv.toml"), "order_column = \"order_id\"\n").unwrap();
    let run = clv_in(&dir, &["rfm", "lines.csv", "--format", "csv"], None);
    assert_eq!(sorted_lines(run.ok()), sorted_lines(with));
}

#[test]
fn no_arguments_print_the_help_and_the_demo() {
    let run = clv(&[]);
    let out = run.ok();
    assert!(out.contains("Usage: clv [OPTIONS] <COMMAND>"), "{out}");
    assert!(out.contains("Demo on the bundled CDNOW data:\n  clv rfm\n"), "{out}");
}

/// Every command's `--help`, compared with `tests/snapshots/`; `UPDATE_SNAPSHOTS=1` rewrites them.
#[test]
fn help_snapshots() {
    let commands: &[&[&str]] = &[
        &[],
        &["rfm"],
        &["summary"],
        &["cohorts"],
        &["churn"],
        &["churn", "stages"],
        &["churn", "transitions"],
        &["churn", "labels"],
        &["churn", "evaluate"],
        &["churn", "risk"],
        &["churn", "contacts"],
        &["churn", "model"],
        &["fit"],
        &["predict"],
        &["compare"],
        &["report"],
        &["tune"],
        &["segments"],
        &["segments", "evaluate"],
        &["segments", "transitions"],
        &["segments", "series"],
        &["segments", "clusters"],
        &["schemes"],
        &["sql"],
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = vec![];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let run = clv(&args);
        let text = run.ok();
        let name = if c.is_empty() {
            "clv".to_string()
        } else {
            format!("clv-{}", c.join("-"))
        };
        let path = dir.join(format!("{name}.help.txt"));
        if update {
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            stale.push(name.clone());
        }
        let examples = if c.is_empty() {
            "Demo on the bundled CDNOW data:"
        } else {
            "Examples:"
        };
        assert!(text.contains(examples), "{name} has no examples");
    }
    assert!(
        stale.is_empty(),
        "--help changed for {stale:?}: review and run UPDATE_SNAPSHOTS=1 cargo test -p clv-cli --test cli help_snapshots"
    );
}
