//! Every command writes the same bytes whatever the run and the partitioning: each runs at
//! `--partitions 1` and twice at `--partitions 8` on the 2,357-customer CDNOW sample, and the
//! files (or standard output) must be identical.

mod common;

use common::{SAMPLE, clv_in, temp_dir};

/// Runs `args` (a command writing `--out FILE` where FILE is `{out}`) at 1, 8 and again 8
/// partitions in `dir`, and returns the three outputs.
fn outputs(dir: &std::path::Path, name: &str, args: &[&str]) -> Vec<Vec<u8>> {
    ["1", "8", "8"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let out = dir.join(format!("{name}-{i}")).to_str().unwrap().to_string();
            // `*_view` cases compare the terminal view (stdout without --quiet).
            let mut flags = vec!["--partitions", p];
            if !name.ends_with("_view") {
                flags.push("-q");
            }
            let args: Vec<String> = [&flags[..], args]
                .concat()
                .iter()
                .map(|a| a.replace("{out}", &out))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = clv_in(dir, &args, None);
            let stdout = run.ok().as_bytes().to_vec();
            match args.iter().find(|a| a.starts_with(&out)) {
                Some(file) => std::fs::read(file).unwrap(),
                None => stdout,
            }
        })
        .collect()
}

/// Asserts that `args` writes the same non-empty bytes at 1 and 8 partitions, twice.
fn stable(name: &str, args: &[&str]) {
    let dir = temp_dir(name);
    // The models `clv predict` reads.
    if args[0] == "predict" {
        clv_in(&dir, &["-q", "fit", SAMPLE, "--out", "bg.json"], None).ok();
        clv_in(
            &dir,
            &["-q", "fit", SAMPLE, "--model", "gamma_gamma", "--out", "gg.json"],
            None,
        )
        .ok();
    }
    let got = outputs(&dir, name, args);
    assert!(
        got[0].len() > 100,
        "{name}: output too small: {:?}",
        String::from_utf8_lossy(&got[0])
    );
    assert!(got[0] == got[1], "{name}: 1 and 8 partitions differ");
    assert!(got[1] == got[2], "{name}: two runs at 8 partitions differ");
}

macro_rules! stable_tests {
    ($($name:ident: [$($arg:expr),* $(,)?],)*) => {
        $(#[test]
        fn $name() {
            stable(stringify!($name), &[$($arg),*]);
        })*
    };
}

stable_tests! {
    report_html: ["report", SAMPLE, "--out", "{out}.html"],
    rfm_csv: ["rfm", SAMPLE, "--out", "{out}.csv"],
    rfm_json: ["rfm", SAMPLE, "--out", "{out}.json"],
    rfm_parquet: ["rfm", SAMPLE, "--out", "{out}.parquet"],
    rfm_table_file: ["rfm", SAMPLE, "--out", "{out}.txt"],
    rfm_stdout_csv: ["rfm", SAMPLE, "--format", "csv"],
    rfm_stdout_json: ["rfm", SAMPLE, "--format", "json"],
    rfm_stdout_table: ["rfm", SAMPLE, "--format", "table"],
    rfm_view: ["rfm", SAMPLE, "--scheme", "rfm11"],
    summary_view: ["summary", SAMPLE],
    churn_labels_view: ["churn", "labels", SAMPLE, "--cutoffs", "1997-09-30", "--btyd"],
    rfm_kmeans: ["rfm", SAMPLE, "--scheme", "kmeans", "--out", "{out}.csv"],
    summary: ["summary", SAMPLE, "--holdout-end", "1998-06-30", "--calibration-end", "1997-09-30", "--out", "{out}.csv"],
    cohorts: ["cohorts", SAMPLE, "--out", "{out}.csv"],
    churn_stages: ["churn", "stages", SAMPLE, "--out", "{out}.csv"],
    churn_transitions: ["churn", "transitions", SAMPLE, "--from", "1997-10-01", "--to", "1998-04-01", "--out", "{out}.csv"],
    churn_labels: ["churn", "labels", SAMPLE, "--cutoffs", "1997-06-30,1997-09-30", "--btyd", "--out", "{out}.csv"],
    churn_evaluate: ["churn", "evaluate", SAMPLE, "--cutoffs", "1997-09-30", "--train-periods", "2", "--out", "{out}.csv"],
    churn_risk: ["churn", "risk", SAMPLE, "--train-periods", "2", "--out", "{out}.csv"],
    churn_contacts: ["churn", "contacts", SAMPLE, "--train-periods", "2", "--out", "{out}.csv"],
    churn_model: ["churn", "model", SAMPLE, "--train-periods", "2", "--out", "{out}.json"],
    fit: ["fit", SAMPLE, "--model", "pareto_nbd", "--out", "{out}.json"],
    predict: ["predict", SAMPLE, "--model", "bg.json", "--spend-model", "gg.json", "--out", "{out}.csv"],
    fit_auto: ["fit", SAMPLE, "--model", "auto", "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30", "--out", "{out}.json"],
    compare: ["compare", SAMPLE, "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30", "--penalizers", "0,0.01", "--out", "{out}.csv"],
    tune: ["tune", SAMPLE, "--cutoffs", "1997-09-30", "--window-days", "180", "--out", "{out}.csv"],
    segments_evaluate: ["segments", "evaluate", SAMPLE, "--cutoffs", "1997-09-30", "--window-days", "180", "--out", "{out}.csv"],
    segments_transitions: ["segments", "transitions", SAMPLE, "--from", "1997-09-30", "--to", "1998-03-31", "--out", "{out}.csv"],
    segments_series: ["segments", "series", SAMPLE, "--out", "{out}.csv"],
    segments_clusters: ["segments", "clusters", SAMPLE, "--out", "{out}.csv"],
    schemes: ["schemes", "--out", "{out}.csv"],
    sql: ["sql", "--table", concat!("o=", env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet"), "SELECT * FROM rfm('o') ORDER BY customer_id", "--out", "{out}.csv"],
}
