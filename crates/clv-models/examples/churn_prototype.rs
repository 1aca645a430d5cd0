//! The trained churn score of issue 17, end to end on clv's own kernels: BG/NBD fitted per
//! cutoff, its window probability and expected purchases, the activity features, logistic
//! regression trained on earlier cutoffs and scored at a later one; AUC, Brier score and
//! decile calibration next to the baselines.
//!
//! Input: the CSV of `tests/reference/churn_features.py` (one row per customer and cutoff,
//! features from transactions on or before the cutoff, `churned` = no order in the 90 days
//! after it). The feature definitions below are the ones the SQL is to compute.
//!
//! ```text
//! python3 crates/clv-models/tests/reference/churn_features.py /tmp/features.csv \
//!     1997-02-28 1997-03-31 1997-04-30 1997-05-31 1997-06-30 1997-09-30
//! cargo run --release -p clv-models --example churn_prototype -- /tmp/features.csv
//! ```
#![allow(clippy::print_stdout, non_snake_case)]

use std::collections::BTreeMap;

use clv_models::{
    BgNbd, LogisticRegression, ParetoNbd, TimeUnit, TransactionModel, TransactionSummary, WindowForecast,
};

const WINDOW_DAYS: f64 = 90.0;
const SCORE_AT: &str = "1997-09-30";

/// One customer at one cutoff (the columns of churn_features.py).
#[derive(Clone)]
struct Row {
    cutoff: String,
    frequency: f64,
    monetary: f64,
    recency: f64,
    tenure: f64,
    p30: f64,
    p90: f64,
    p180: f64,
    s30: f64,
    s90: f64,
    s180: f64,
    median_gap: Option<f64>,
    x: f64,
    t_x: f64,
    T: f64,
    churned: bool,
    /// BG/NBD fitted at the row's cutoff: P(no purchase in the window), E[purchases in it],
    /// P(alive).
    p_none: f64,
    e_window: f64,
    p_alive: f64,
    /// The same from Pareto/NBD fitted at the row's cutoff.
    p_none_pnbd: f64,
    e_window_pnbd: f64,
}

fn read(path: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let idx: Vec<usize> = [
        "cutoff",
        "frequency",
        "monetary",
        "recency_days",
        "tenure_days",
        "p30",
        "p90",
        "p180",
        "s30",
        "s90",
        "s180",
        "median_gap",
        "x",
        "t_x",
        "T",
        "churned",
    ]
    .iter()
    .map(|n| col(n))
    .collect();
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let f = |k: usize| c[idx[k]].parse::<f64>().unwrap_or_else(|_| panic!("bad number in {l}"));
            Row {
                cutoff: c[idx[0]].to_string(),
                frequency: f(1),
                monetary: f(2),
                recency: f(3),
                tenure: f(4),
                p30: f(5),
                p90: f(6),
                p180: f(7),
                s30: f(8),
                s90: f(9),
                s180: f(10),
                median_gap: (!c[idx[11]].is_empty()).then(|| f(11)),
                x: f(12),
                t_x: f(13),
                T: f(14),
                churned: c[idx[15]] == "True",
                p_none: f64::NAN,
                e_window: f64::NAN,
                p_alive: f64::NAN,
                p_none_pnbd: f64::NAN,
                e_window_pnbd: f64::NAN,
            }
        })
        .collect()
}

/// BG/NBD per cutoff (weeks), then the window forecasts of each customer.
fn add_btyd(rows: &mut [Row]) {
    let mut by_cutoff: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_cutoff.entry(r.cutoff.clone()).or_default().push(i);
    }
    for (cutoff, ids) in by_cutoff {
        let week = |v: f64| v / 7.0;
        let x: Vec<f64> = ids.iter().map(|&i| rows[i].x).collect();
        let t_x: Vec<f64> = ids.iter().map(|&i| week(rows[i].t_x)).collect();
        let T: Vec<f64> = ids.iter().map(|&i| week(rows[i].T)).collect();
        let data = TransactionSummary::new(x.clone(), t_x.clone(), T.clone(), TimeUnit::Week).unwrap();
        let model = BgNbd::new().fit(&data).unwrap();
        let p = model.params();
        println!(
            "# BG/NBD at {cutoff}: r={:.4} alpha={:.4} a={:.4} b={:.4}",
            p.r, p.alpha, p.a, p.b
        );
        let tau = vec![WINDOW_DAYS / 7.0; ids.len()];
        let none = model.prob_no_purchase_many(&tau, &x, &t_x, &T).unwrap();
        let e = model.expected_purchases_many(&tau, &x, &t_x, &T).unwrap();
        let alive = model.p_alive_many(&x, &t_x, &T).unwrap();
        let pareto = ParetoNbd::new().fit(&data).unwrap();
        let p = pareto.params();
        println!(
            "# Pareto/NBD at {cutoff}: r={:.4} alpha={:.4} s={:.4} beta={:.4}",
            p.r, p.alpha, p.s, p.beta
        );
        let none_p = pareto.prob_no_purchase_many(&tau, &x, &t_x, &T).unwrap();
        let e_p = pareto.expected_purchases_many(&tau, &x, &t_x, &T).unwrap();
        for (k, &i) in ids.iter().enumerate() {
            rows[i].p_none = none[k];
            rows[i].e_window = e[k];
            rows[i].p_alive = alive[k];
            rows[i].p_none_pnbd = none_p[k];
            rows[i].e_window_pnbd = e_p[k];
        }
    }
}

/// A baseline score: its name, its value per row, whether it is a probability.
type Baseline = (&'static str, fn(&Row) -> f64, bool);

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// The candidate features (names as in churn_prototype.py).
fn feature(name: &str, r: &Row) -> f64 {
    let ln1p = f64::ln_1p;
    match name {
        "log_recency" => ln1p(r.recency),
        "log_frequency" => r.frequency.ln(),
        "log_monetary_mean" => ln1p(r.monetary / r.frequency),
        "log_tenure" => ln1p(r.tenure),
        "log_p30" => ln1p(r.p30),
        "log_p90" => ln1p(r.p90),
        "log_s30" => ln1p(r.s30),
        "log_s90" => ln1p(r.s90),
        "trend_p90" => ln1p(r.p90) - ln1p(r.p180 - r.p90),
        "trend_s90" => ln1p(r.s90) - ln1p(r.s180 - r.s90),
        "trend_p30" => ln1p(r.p30) - ln1p((r.p90 - r.p30) / 2.0),
        "log_gap_ratio" => r.median_gap.map_or(0.0, |g| ln1p(r.recency) - ln1p(g)),
        "single" => f64::from(u8::from(r.median_gap.is_none())),
        "logit_p_none" => logit(r.p_none),
        "log_e_window" => r.e_window.max(1e-12).ln(),
        "logit_p_none_pnbd" => logit(r.p_none_pnbd),
        "log_e_window_pnbd" => r.e_window_pnbd.max(1e-12).ln(),
        _ => panic!("unknown feature {name}"),
    }
}

/// AUC by the rank-sum formula, ties sharing their average rank.
fn auc(score: &[f64], y: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut ranks = vec![0.0; score.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = avg;
        }
        i = j + 1;
    }
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    let sum: f64 = ranks.iter().zip(y).filter(|(_, v)| **v).map(|(r, _)| r).sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn brier(p: &[f64], y: &[bool]) -> f64 {
    p.iter()
        .zip(y)
        .map(|(p, &y)| (p - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / p.len() as f64
}

/// Ten groups of the customers sorted by the prediction (sizes as numpy's array_split):
/// (mean prediction, observed churn rate, size).
fn deciles(p: &[f64], y: &[bool]) -> Vec<(f64, f64, usize)> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (n, mut at) = (p.len(), 0);
    (0..10)
        .map(|g| {
            let size = n / 10 + usize::from(g < n % 10);
            let part = &idx[at..at + size];
            at += size;
            let mean = part.iter().map(|&i| p[i]).sum::<f64>() / size as f64;
            let obs = part.iter().filter(|&&i| y[i]).count() as f64 / size as f64;
            (mean, obs, size)
        })
        .collect()
}

fn report(name: &str, train: &str, lambda: &str, p: &[f64], y: &[bool], probability: bool) {
    let d = deciles(p, y);
    let gap = d.iter().fold(0.0f64, |m, (a, b, _)| m.max((a - b).abs()));
    let (b, g) = if probability {
        (format!("{:.4}", brier(p, y)), format!("{gap:.4}"))
    } else {
        ("-".into(), "-".into())
    };
    println!("| {name} | {train} | {lambda} | {:.4} | {b} | {g} |", auc(p, y));
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: churn_prototype FEATURES.csv");
    let mut rows = read(&path);
    add_btyd(&mut rows);
    let test: Vec<&Row> = rows.iter().filter(|r| r.cutoff == SCORE_AT).collect();
    let y: Vec<bool> = test.iter().map(|r| r.churned).collect();
    let rate = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
    println!(
        "scoring cutoff {SCORE_AT}: {} customers, churn rate {rate:.4}, base-rate Brier {:.4}",
        y.len(),
        rate * (1.0 - rate)
    );
    println!("| score | train cutoffs | lambda | AUC | Brier | max decile gap |");
    println!("|---|---|---|---|---|---|");
    let base: [Baseline; 4] = [
        ("days since last purchase", |r| r.recency, false),
        ("BG/NBD P(no purchase in window)", |r| r.p_none, true),
        ("-E[purchases in window], BG/NBD", |r| -r.e_window, false),
        ("1 - P(alive), BG/NBD", |r| 1.0 - r.p_alive, true),
    ];
    for (name, f, prob) in base {
        let s: Vec<f64> = test.iter().map(|r| f(r)).collect();
        report(name, "-", "-", &s, &y, prob);
    }
    report(
        "Pareto/NBD P(no purchase in window)",
        "-",
        "-",
        &test.iter().map(|r| r.p_none_pnbd).collect::<Vec<_>>(),
        &y,
        true,
    );
    let rfm = ["log_recency", "log_frequency", "log_monetary_mean", "log_tenure"];
    let activity = [
        "log_p30",
        "log_p90",
        "log_s30",
        "log_s90",
        "trend_p90",
        "trend_s90",
        "trend_p30",
        "log_gap_ratio",
        "single",
    ];
    let btyd = ["logit_p_none", "log_e_window"];
    let pnbd = ["logit_p_none_pnbd", "log_e_window_pnbd"];
    let sets: [(&str, Vec<&str>); 6] = [
        ("rfm", rfm.to_vec()),
        ("rfm+activity", [&rfm[..], &activity[..]].concat()),
        ("rfm+btyd", [&rfm[..], &btyd[..]].concat()),
        (
            "default (rfm+activity+btyd)",
            [&rfm[..], &activity[..], &btyd[..]].concat(),
        ),
        ("rfm+activity+pareto", [&rfm[..], &activity[..], &pnbd[..]].concat()),
        (
            "rfm+activity+btyd+pareto",
            [&rfm[..], &activity[..], &btyd[..], &pnbd[..]].concat(),
        ),
    ];
    let trains: [(&str, &[&str]); 4] = [
        ("06-30", &["1997-06-30"]),
        (
            "01-31..06-30",
            &[
                "1997-01-31",
                "1997-02-28",
                "1997-03-31",
                "1997-04-30",
                "1997-05-31",
                "1997-06-30",
            ],
        ),
        (
            "03-31..06-30",
            &["1997-03-31", "1997-04-30", "1997-05-31", "1997-06-30"],
        ),
        (
            "02-28..06-30",
            &["1997-02-28", "1997-03-31", "1997-04-30", "1997-05-31", "1997-06-30"],
        ),
    ];
    for (set, names) in &sets {
        for (train_name, cutoffs) in trains {
            let train: Vec<&Row> = rows.iter().filter(|r| cutoffs.contains(&r.cutoff.as_str())).collect();
            if cutoffs.iter().any(|c| !rows.iter().any(|r| r.cutoff == *c)) {
                continue; // a cutoff the CSV does not have
            }
            let cols: Vec<Vec<f64>> = names
                .iter()
                .map(|n| train.iter().map(|r| feature(n, r)).collect())
                .collect();
            let labels: Vec<bool> = train.iter().map(|r| r.churned).collect();
            let test_cols: Vec<Vec<f64>> = names
                .iter()
                .map(|n| test.iter().map(|r| feature(n, r)).collect())
                .collect();
            for lambda in [1e-3, 1e-2, 3e-2, 1e-1] {
                let col_refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
                let start = std::time::Instant::now();
                let model = LogisticRegression::new()
                    .lambda(lambda)
                    .fit(names, &col_refs, &labels, None)
                    .unwrap();
                let fit_s = start.elapsed().as_secs_f64();
                let test_refs: Vec<&[f64]> = test_cols.iter().map(Vec::as_slice).collect();
                let p = model.predict_many(&test_refs).unwrap();
                report(&format!("LR {set}"), train_name, &format!("{lambda}"), &p, &y, true);
                if *set == "default (rfm+activity+btyd)" && train_name == "01-31..06-30" && lambda == 1e-2 {
                    let r = model.fit_report().unwrap();
                    println!(
                        "#   {} rows, {} Newton iterations, converged {}, fit {:.3} s",
                        r.n_rows, r.iterations, r.converged, fit_s
                    );
                    println!("#   | feature | coefficient (standardised) | SE | coefficient (original) |");
                    for f in model.features() {
                        println!(
                            "#   | {} | {:.4} | {:.4} | {:.5} |",
                            f.name,
                            f.coefficient,
                            f.standard_error.unwrap_or(f64::NAN),
                            f.coefficient_original
                        );
                    }
                    println!("#   deciles (mean predicted, observed, customers):");
                    for (a, b, n) in deciles(&p, &y) {
                        println!("#   | {a:.4} | {b:.4} | {n} |");
                    }
                }
            }
        }
    }
}
