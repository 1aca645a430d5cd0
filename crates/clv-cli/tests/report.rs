//! `clv report`: the page's content checked against the library, and rendered in a real browser
//! (Debian's chromium, which `.ci/run` installs).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// The sections in page order (the segment sections between rfm and cohorts are checked in
/// tests/segments.rs).
const SECTIONS: [(&str, &str); 8] = [
    ("summary", "Executive summary"),
    ("rfm", "RFM segments"),
    ("cohorts", "Cohort retention"),
    ("lifecycle", "Lifecycle"),
    ("clv", "Customer lifetime value"),
    ("churn", "Churn"),
    ("validation", "Validation: the models on an earlier cut"),
    ("overview", "Appendix: data and policies"),
];

/// The CDNOW report (`clv report` with its defaults), written once for all the tests here.
fn cdnow_report() -> &'static (PathBuf, String) {
    static REPORT: OnceLock<(PathBuf, String)> = OnceLock::new();
    REPORT.get_or_init(|| {
        let out = temp_dir("report").join("report.html");
        let run = clv(&["report", "--out", out.to_str().unwrap()]);
        run.ok();
        assert!(run.stderr.contains("Wrote the report to"), "{}", run.stderr);
        let html = std::fs::read_to_string(&out).unwrap();
        (out, html)
    })
}

/// The chart labelled `label` (its `aria-label`), up to the end of its figure, caption included.
fn chart<'a>(html: &'a str, label: &str) -> &'a str {
    let start = html
        .find(&format!("aria-label=\"{label}\""))
        .unwrap_or_else(|| panic!("no chart '{label}'"));
    let end = start + html[start..].find("</figure>").unwrap();
    &html[start..end]
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    text.split(open)
        .skip(1)
        .map(|t| t.split(close).next().unwrap_or(""))
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Text without its tags.
fn plain(html: &str) -> String {
    let mut out = String::new();
    let mut tag = false;
    for c in html.chars() {
        match c {
            '<' => tag = true,
            '>' => tag = false,
            c if !tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out)
}

/// A figure's caption (its meaning and, after it, what to do).
fn caption(figure: &str) -> String {
    plain(between(figure, "<figcaption>", "</figcaption>")[0])
}

/// The tooltips of a chart's bars or cells (their `<title>`), in drawing order.
fn tooltips(chart: &str) -> Vec<String> {
    between(chart, "<title>", "</title>")
        .into_iter()
        .map(unescape)
        .collect()
}

/// A column chart's bars: (series, category, value as shown), from tooltips `SERIES, CATEGORY: VALUE`.
fn bars(chart: &str) -> Vec<(String, String, String)> {
    tooltips(chart)
        .iter()
        .map(|t| {
            let (head, value) = t.rsplit_once(": ").unwrap();
            let (series, category) = head.split_once(", ").unwrap();
            (series.to_string(), category.to_string(), value.to_string())
        })
        .collect()
}

/// A heat map's cells: (row, column) → label, from tooltips `ROW × COLUMN: LABEL`.
fn cells(chart: &str) -> BTreeMap<(String, String), String> {
    tooltips(chart)
        .iter()
        .map(|t| {
            let (head, label) = t.split_once(": ").unwrap();
            let (row, column) = head.split_once(" × ").unwrap();
            ((row.to_string(), column.to_string()), label.to_string())
        })
        .collect()
}

/// A table's body rows (cell text), the table found by its caption.
fn table_rows(html: &str, caption: &str) -> Vec<Vec<String>> {
    let end = html
        .find(&format!("<figcaption>{caption}</figcaption>"))
        .unwrap_or_else(|| panic!("no table '{caption}'"));
    let start = html[..end].rfind("<tbody>").unwrap();
    between(&html[start..end], "<tr>", "</tr>")
        .into_iter()
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| unescape(c.split_once('>').unwrap().1.trim_end_matches("</td>")))
                .collect()
        })
        .collect()
}

/// A number as the report prints it (`1,234`, `14.1k`, `2.5M`, `0.93`, `360+`), and half a unit
/// of its last digit: the rounding it may hide.
fn shown(text: &str) -> (f64, f64) {
    let t = text.trim().trim_end_matches('+').replace(',', "");
    let (t, scale) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let digits = t.split_once('.').map(|(_, f)| f.len()).unwrap_or(0) as i32;
    let value: f64 = t.parse().unwrap_or_else(|_| panic!("not a number: {text:?}"));
    (value * scale, 0.5 * 10f64.powi(-digits) * scale)
}

/// Asserts that `text`, as the report prints it, is `expected` rounded.
fn assert_shown(text: &str, expected: f64, what: &str) {
    let (value, half) = shown(text);
    assert!(
        (value - expected).abs() <= half * (1.0 + 1e-9) + 1e-9,
        "{what}: the report shows {text}, the library has {expected}"
    );
}

/// The nearest-rank `q` quantile of the finite values.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cdnow_report_has_every_section_and_the_library_numbers() {
    use clv::prelude::*;
    let (_, html) = cdnow_report();
    let mut at = 0;
    for (id, heading) in SECTIONS {
        // Each heading prints with the section's first chart or figures (print CSS keeps the
        // lead together).
        let open = format!("<section id=\"{id}\"><div class=\"lead\"><h2>{heading}</h2>");
        let found = html[at..]
            .find(&open)
            .unwrap_or_else(|| panic!("no section {open} after byte {at}"));
        at += found;
    }
    // The title names the input, not a path.
    assert!(html.contains("<h1>Customer value report: CDNOW sample</h1>"));
    // Self-contained: no script, no external resource (the SVG namespace is a name, not a fetch).
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"));
    assert!(!lower.contains("src=") && !lower.contains("href=\"http") && !lower.contains("url("));
    assert_eq!(
        lower.matches("http").count(),
        lower.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    // Every chart has a one-sentence caption.
    let figures: Vec<&str> = html.split("<figure").skip(1).collect();
    assert!(figures.len() >= 14, "{} figures", figures.len());
    for f in &figures {
        let caption = plain(
            f.split("<figcaption>")
                .nth(1)
                .and_then(|c| c.split("</figcaption>").next())
                .unwrap_or(""),
        );
        assert!(caption.len() > 20 && caption.ends_with('.'), "caption: {caption:?}");
    }
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    // Overview and policies from the library.
    let policy = Rfm::new().policy_report(&library(), CDNOW).await.unwrap();
    assert_eq!(policy.customers, 23_570);
    assert!(html.contains("<b>23,570</b><span>customers</span>"));
    assert!(html.contains("<td>duplicate rows</td><td class=\"num\">255</td><td>kept</td>"));
    assert!(html.contains("1997-01-01") && html.contains("1998-06-30"));
    // Churn at the calibration end over the next 90 days: the labels and every score's AUC
    // are the library's, 1 − P(alive) gets its warning in words.
    let ctx = library();
    let labels = sql(
        &ctx,
        &format!(
            "SELECT sum(CASE WHEN churned THEN 1 ELSE 0 END) AS churned FROM churn_labels('{CDNOW}', '1997-09-30', 90)"
        ),
    )
    .await;
    let churned = f64s(&labels, "churned")[0] as u64;
    let scores = sql(
        &ctx,
        &format!("SELECT score, auc FROM churn_evaluate('{CDNOW}', '1997-09-30', 90) ORDER BY auc DESC"),
    )
    .await;
    let auc = f64s(&scores, "auc");
    assert!(
        html.contains(&format!("<b>{:.3}</b><span>AUC of the churn model</span>", auc[0])),
        "AUC {:.3}",
        auc[0]
    );
    for a in &auc {
        assert!(html.contains(&format!("<td class=\"num\">{a:.3}</td>")), "AUC {a:.3}");
    }
    assert!(html.contains("dropout_probability) ranks the customers at 1997-09-30 worse than a coin flip (AUC 0.333"));
    let thousands = format!("{},{:03}", churned / 1000, churned % 1000);
    assert!(
        churned >= 1000 && html.contains(&format!("<td class=\"num\">{thousands}</td>")),
        "{thousands}"
    );
    assert!(html.contains("Whom to contact: the ten customers with the most value at risk at 1998-06-30"));
    assert!(html.contains("Churn calibration deciles"));
    // Holdout comparison exists for the bundled split; segments use the library's names.
    assert!(html.contains("Calibration vs holdout purchases"));
    let segments = sql(&library(), &format!("SELECT DISTINCT segment FROM rfm('{CDNOW}')")).await;
    for b in &segments {
        use datafusion::arrow::array::AsArray;
        let s = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
        for i in 0..s.len() {
            assert!(html.contains(&format!(">{}</text>", s.as_string::<i32>().value(i))));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bgnbd_and_clv_sections_show_the_library_model() {
    use clv::ltv::BgNbd;
    use clv::prelude::*;
    let (_, html) = cdnow_report();
    let html = html.as_str();
    // The parameters and their standard errors are the library's fit on the 1997-09-30
    // calibration period (in weeks), to the 4 decimals shown.
    let data = BtydSummary::new()
        .calibration_end("1997-09-30")
        .collect(&library(), CDNOW)
        .await
        .unwrap();
    let model = BgNbd::new().fit(&data).unwrap();
    let (p, se) = (model.params(), model.standard_errors().expect("standard errors"));
    let rows = table_rows(
        html,
        "BG/NBD parameters with standard errors from the Hessian of the log-likelihood.",
    );
    assert!(html.contains("<th>parameter</th><th class=\"num\">estimate</th><th class=\"num\">std. error</th>"));
    let expected: Vec<Vec<String>> = [
        ("r", p.r, se.r),
        ("alpha", p.alpha, se.alpha),
        ("a", p.a, se.a),
        ("b", p.b, se.b),
    ]
    .iter()
    .map(|(name, v, e)| vec![name.to_string(), format!("{v:.4}"), format!("{e:.4}")])
    .collect();
    assert_eq!(rows, expected);

    // Actual vs expected repeat purchases: customers with k = 0..6 and 7+ repeat purchases,
    // counted and as the model expects them, Σ_i P(X(T_i) = k).
    let h = chart(html, "Actual vs expected repeat purchases");
    assert!(
        caption(h).starts_with("Customers by number of repeat purchases in the calibration period"),
        "{}",
        caption(h)
    );
    let (x, t) = (data.frequency(), data.t());
    assert_eq!(x.len(), 23_570);
    let mut ages: BTreeMap<u64, f64> = BTreeMap::new();
    for v in t {
        *ages.entry(v.to_bits()).or_default() += 1.0;
    }
    let p_k = |k: u32| -> f64 {
        ages.iter()
            .map(|(bits, n)| {
                let age = f64::from_bits(*bits);
                let p = if k < 7 {
                    model.prob_purchases(k, age).unwrap()
                } else {
                    (1.0 - (0..7).map(|j| model.prob_purchases(j, age).unwrap()).sum::<f64>()).max(0.0)
                };
                n * p
            })
            .sum()
    };
    let shown_bars = bars(h);
    assert_eq!(shown_bars.len(), 16, "{shown_bars:?}");
    for k in 0..=7u32 {
        let category = if k == 7 { "7+".to_string() } else { k.to_string() };
        let actual = x
            .iter()
            .filter(|v| if k == 7 { **v >= 7.0 } else { **v == k as f64 })
            .count() as f64;
        for (series, expected) in [("actual", actual), ("model", p_k(k))] {
            let (_, _, value) = shown_bars
                .iter()
                .find(|(s, c, _)| s == series && *c == category)
                .unwrap_or_else(|| panic!("no bar {series}, {category}"));
            assert_shown(
                value,
                expected,
                &format!("{series} customers with {category} repeat purchases"),
            );
        }
    }

    // The P(alive) matrix: repeat purchases (rows) × recency (12 columns up to the longest
    // age T), each cell the library's P(alive) to 2 decimals.
    let m = chart(html, "P(alive) matrix");
    let t_max = t.iter().copied().fold(0.0, f64::max);
    assert!(
        caption(m).contains(&format!(
            "whose first purchase was {t_max:.0} weeks before the calibration end"
        )),
        "{}",
        caption(m)
    );
    let recency: Vec<(String, f64)> = (1..=12)
        .map(|c| t_max * c as f64 / 12.0)
        .map(|r| (format!("{r:.0}"), r))
        .collect();
    let x_max = quantile(x, 0.995).clamp(1.0, 20.0) as usize;
    let shown_cells = cells(m);
    assert_eq!(shown_cells.len(), (x_max + 1) * 12);
    for repeat in 0..=x_max {
        for (column, r) in &recency {
            let t_x = if repeat == 0 { 0.0 } else { *r };
            let p = model.p_alive(repeat as f64, t_x, t_max).unwrap();
            assert_eq!(
                shown_cells[&(repeat.to_string(), column.clone())],
                format!("{p:.2}"),
                "P(alive) of x = {repeat}, t_x = {t_x}, T = {t_max}"
            );
        }
    }

    // CLV as of the report date: the library's clv_predict on all history (52 weeks, no
    // discount), which also scores the one CDNOW customer whose repeat purchases were all free.
    let lib = sql(
        &library(),
        &format!(
            "SELECT customer_id, x, monetary, p_alive, expected_purchases, expected_spend, clv
             FROM clv_predict('{CDNOW}')
             ORDER BY 7 DESC NULLS LAST, customer_id"
        ),
    )
    .await;
    let clv = f64s(&lib, "clv");
    let scored: Vec<f64> = clv.iter().copied().filter(|v| v.is_finite()).collect();
    assert_eq!(scored.len(), 23_570);
    let thousands = format!("{},{:03}", scored.len() / 1000, scored.len() % 1000);
    assert!(
        html.contains(&format!("<b>{thousands}</b><span>customers with a CLV</span>")),
        "{thousands} customers with a CLV"
    );
    // The CLV distribution: bars from their lower bounds, the last one open; it is capped at
    // the 99th percentile, which the caption names.
    let d = chart(html, "CLV distribution");
    let cap = quantile(&scored, 0.99);
    assert!(
        caption(d).starts_with("Predicted value of each customer over the next 52 weeks")
            && caption(d).contains("after the report date")
            && caption(d).contains(&format!("also holds the top 1% (above {cap:.2})")),
        "{} (cap {cap})",
        caption(d)
    );
    let shown_bars = bars(d);
    assert!(shown_bars.len() >= 10, "{shown_bars:?}");
    assert!(shown_bars.last().unwrap().1.ends_with('+'));
    let bounds: Vec<f64> = shown_bars.iter().map(|(_, c, _)| shown(c).0).collect();
    assert!(bounds[0] <= scored.iter().copied().fold(f64::INFINITY, f64::min));
    for (i, (_, category, value)) in shown_bars.iter().enumerate() {
        let n = scored
            .iter()
            .filter(|v| **v >= bounds[i] && bounds.get(i + 1).is_none_or(|next| **v < *next))
            .count();
        assert_shown(value, n as f64, &format!("customers with a CLV from {category}"));
    }
    // The top customers: the library's highest CLVs, in order.
    let top = table_rows(
        html,
        "The 20 customers with the highest predicted CLV as of the report date (repeat purchases over all their history).",
    );
    assert_eq!(top.len(), 20);
    let ids = strings(&lib, "customer_id");
    let columns = [
        ("x", 1),
        ("monetary", 2),
        ("p_alive", 3),
        ("expected_purchases", 4),
        ("expected_spend", 5),
        ("clv", 6),
    ];
    // Scored as of the report date: the repeat purchases are every purchase day after the first,
    // over all history (customer 7592: 145, where a calibration-cut score would show 80).
    let repeat = sql(
        &raw().await,
        "SELECT CAST(customer_id AS VARCHAR) AS id, CAST(count(DISTINCT order_date) - 1 AS DOUBLE) AS x FROM raw GROUP BY customer_id",
    )
    .await;
    let repeat: BTreeMap<String, f64> = strings(&repeat, "id").into_iter().zip(f64s(&repeat, "x")).collect();
    assert_eq!(repeat["7592"], 145.0);
    for (i, row) in top.iter().enumerate() {
        assert_eq!(row[0], ids[i], "rank {}", i + 1);
        assert_eq!(shown(&row[1]).0, repeat[&ids[i]], "repeat purchases of {}", ids[i]);
        for (column, j) in columns {
            assert_shown(
                &row[j],
                f64s(&lib, column)[i],
                &format!("{column} of customer {}", ids[i]),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_heat_maps_show_the_library_numbers() {
    use clv::common::dates::{format_date, parse_date};
    use clv::prelude::*;
    let (_, html) = cdnow_report();
    let ctx = library();
    // R × F: customers (first number) and average monetary (second) per score cell.
    let grid = sql(
        &ctx,
        &format!("SELECT r, f, count(*) AS n, avg(monetary) AS m FROM rfm('{CDNOW}') GROUP BY r, f"),
    )
    .await;
    let (r, f, n, m) = (f64s(&grid, "r"), f64s(&grid, "f"), f64s(&grid, "n"), f64s(&grid, "m"));
    let rf = chart(html, "R × F heat map");
    assert!(caption(rf).starts_with("Customers in each recency × frequency score cell"));
    let shown_cells = cells(rf);
    assert_eq!(shown_cells.len(), r.len());
    for i in 0..r.len() {
        let key = (format!("R {}", r[i]), format!("F {}", f[i]));
        let label = shown_cells.get(&key).unwrap_or_else(|| panic!("no cell {key:?}"));
        let (customers, monetary) = label.split_once(" · ").unwrap();
        assert_shown(customers, n[i], &format!("customers in {key:?}"));
        assert_shown(monetary, m[i], &format!("average monetary in {key:?}"));
    }

    // Cohorts (monthly): the retention triangle and revenue retention, in % of the library's
    // rates; each row names its cohort and size.
    let cohorts = sql(
        &ctx,
        &format!("SELECT * FROM cohort_retention('{CDNOW}') ORDER BY cohort, period_offset"),
    )
    .await;
    let (cohort, offset, size) = (
        strings(&cohorts, "cohort"),
        f64s(&cohorts, "period_offset"),
        f64s(&cohorts, "cohort_customers"),
    );
    for (label, column, text) in [
        (
            "Cohort retention triangle",
            "retention_rate",
            "Retention triangle: the percentage of each first-purchase month cohort",
        ),
        (
            "Revenue retention",
            "revenue_retention",
            "Revenue retention: each cohort's revenue in a later month as a percentage of its revenue in its first month.",
        ),
    ] {
        let c = chart(html, label);
        assert!(caption(c).starts_with(text), "{}", caption(c));
        let rate = f64s(&cohorts, column);
        let shown_cells = cells(c);
        assert_eq!(shown_cells.len(), rate.len(), "{label}");
        for i in 0..rate.len() {
            let ((row, _), value) = shown_cells
                .iter()
                .find(|((row, col), _)| row.starts_with(&format!("{} (", cohort[i])) && *col == offset[i].to_string())
                .unwrap_or_else(|| panic!("{label}: no cell {} × {}", cohort[i], offset[i]));
            assert_eq!(
                *value,
                format!("{:.0}", 100.0 * rate[i]),
                "{label}: {row} × {}",
                offset[i]
            );
            let customers = row.split_once(" (").unwrap().1.trim_end_matches(')');
            assert_shown(customers, size[i], row);
        }
    }

    // Lifecycle transitions from halfway between the first transaction and the as-of date
    // (the day after the last transaction) to the as-of date.
    let as_of = Rfm::new().policy_report(&ctx, CDNOW).await.unwrap().as_of.unwrap();
    let first = strings(
        &sql(&ctx, &format!("SELECT min(first_purchase) AS d FROM rfm('{CDNOW}')")).await,
        "d",
    )[0]
    .clone();
    let (a, b) = (
        parse_date(&first, "first").unwrap(),
        parse_date(&as_of, "as of").unwrap(),
    );
    let (from, to) = (format_date(a + (b - a) / 2), as_of);
    assert_eq!(
        (first.as_str(), from.as_str(), to.as_str()),
        ("1997-01-01", "1997-10-01", "1998-07-01")
    );
    let l = chart(html, "Lifecycle transition matrix");
    assert!(
        caption(l).contains(&format!(
            "customers by their stage on {from} (rows) and on {to} (columns)"
        )),
        "{}",
        caption(l)
    );
    let moves = sql(
        &ctx,
        &format!("SELECT * FROM lifecycle_transitions('{CDNOW}', '{from}', '{to}')"),
    )
    .await;
    let (fs, ts, n) = (
        strings(&moves, "from_stage"),
        strings(&moves, "to_stage"),
        f64s(&moves, "customers"),
    );
    let shown_cells = cells(l);
    assert_eq!(shown_cells.len(), n.len());
    assert_eq!(n.iter().sum::<f64>(), 23_570.0);
    for i in 0..n.len() {
        let key = (fs[i].clone(), ts[i].clone());
        let label = shown_cells.get(&key).unwrap_or_else(|| panic!("no cell {key:?}"));
        assert_eq!(shown(label), (n[i], 0.5), "{key:?}");
    }
}

/// Debian's chromium; without it the test is skipped, except under CI (`.ci/run` installs it).
fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed: .ci/run installs it (apt-get install chromium)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    found
}

/// Renders `file` headless: returns the DOM, the console messages and writes `png`.
fn render(browser: &Path, file: &Path, png: &Path) -> (String, Vec<String>) {
    let profile = file.with_extension("profile");
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = format!("file://{}", file.display());
    let dom = Command::new(browser)
        .args(base)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", &url])
        .output()
        .expect("run chromium");
    let shot = Command::new(browser)
        .args(base)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args([
            "--window-size=1000,9000",
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .expect("run chromium");
    let console = [&dom.stderr, &shot.stderr]
        .iter()
        .flat_map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| l.contains(":CONSOLE"))
        .collect();
    (String::from_utf8_lossy(&dom.stdout).into(), console)
}

#[test]
fn the_report_renders_in_chromium_without_script_errors() {
    let Some(browser) = chromium() else {
        return;
    };
    let dir = temp_dir("browser");
    // The check itself sees script errors: a page that throws is caught.
    let bad = dir.join("bad.html");
    std::fs::write(
        &bad,
        "<html><body><p>x</p><script>throw new Error('boom')</script></body></html>",
    )
    .unwrap();
    let (_, console) = render(&browser, &bad, &dir.join("bad.png"));
    assert!(
        console.iter().any(|l| l.contains("Uncaught Error: boom")),
        "{console:?}"
    );

    let (file, _) = cdnow_report();
    let png = dir.join("report.png");
    let (dom, console) = render(&browser, file, &png);
    assert!(console.is_empty(), "console messages: {console:?}");
    for (id, _) in SECTIONS {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "the rendered page has no section {id}"
        );
    }
    assert_eq!(
        dom.matches("<svg").count(),
        std::fs::read_to_string(file).unwrap().matches("<svg").count()
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 100_000,
        "screenshot of {} bytes",
        bytes.len()
    );
}

/// Plain DataFusion, no clv: the CDNOW master file as table `raw` (it has no nulls, negative
/// or invalid amounts, so every policy keeps every row).
async fn raw() -> datafusion::prelude::SessionContext {
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.register_parquet("raw", CDNOW, Default::default()).await.unwrap();
    ctx
}

/// A key figure's value, found by its label.
fn kpi(html: &str, label: &str) -> String {
    let end = html
        .find(&format!("</b><span>{label}</span>"))
        .unwrap_or_else(|| panic!("no key figure '{label}'"));
    unescape(&html[html[..end].rfind("<b>").unwrap() + 3..end])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_executive_summary_matches_plain_sql() {
    let (_, html) = cdnow_report();
    let start = html.find("<section id=\"summary\">").unwrap();
    let summary = &html[start..start + html[start..].find("</section>").unwrap()];
    let raw = raw().await;
    let one = |q: String| {
        let raw = raw.clone();
        async move { f64s(&sql(&raw, &q).await, "v")[0] }
    };
    // Active customers: a purchase in the 365 days before the report date (1998-07-01), and in
    // the 365 days before 1997-07-01.
    let now = one(
        "SELECT CAST(count(DISTINCT customer_id) AS DOUBLE) AS v FROM raw WHERE order_date >= DATE '1997-07-01'".into(),
    )
    .await;
    let before = one(
        "SELECT CAST(count(DISTINCT customer_id) AS DOUBLE) AS v FROM raw WHERE order_date >= DATE '1996-07-01' AND order_date < DATE '1997-07-01'".into(),
    )
    .await;
    assert_eq!((now, before), (8_332.0, 23_570.0));
    assert_shown(
        &kpi(summary, "active customers (bought in the last 365 days)"),
        now,
        "active now",
    );
    assert_shown(&kpi(summary, "a year before"), before, "active a year before");
    assert!(summary.contains(&format!(
        "8,332 active customers, {:+.1}% against a year before.",
        100.0 * (now / before - 1.0)
    )));
    // Revenue of the last 12 complete months (June 1998 is complete: the data end on its last day).
    let last12 = one("SELECT sum(amount) AS v FROM raw WHERE order_date >= DATE '1997-07-01'".into()).await;
    assert_shown(
        &kpi(summary, "revenue, last 12 complete months"),
        last12,
        "revenue, last 12 months",
    );
    // Customers and revenue by month, bar by bar; no month is flagged partial.
    let monthly = sql(
        &raw,
        "SELECT CAST(date_trunc('month', CAST(order_date AS TIMESTAMP)) AS DATE) AS m, CAST(count(DISTINCT customer_id) AS DOUBLE) AS n, sum(amount) AS r FROM raw GROUP BY 1 ORDER BY 1",
    )
    .await;
    let (months, n, r) = (strings(&monthly, "m"), f64s(&monthly, "n"), f64s(&monthly, "r"));
    assert_eq!(months.len(), 18);
    for (label, values) in [("Active customers by month", &n), ("Revenue by month", &r)] {
        let c = chart(summary, label);
        let shown_bars = bars(c);
        assert_eq!(shown_bars.len(), 18, "{label}");
        for (i, (_, month, value)) in shown_bars.iter().enumerate() {
            assert_eq!(*month, months[i][..7], "{label}");
            assert_shown(value, values[i], &format!("{label}, {month}"));
        }
        assert!(!caption(c).contains("partial"), "{}", caption(c));
    }
    // The trend in the caption: the mean of April-June 1998 against January-March 1998.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let change = 100.0 * (mean(&n[15..18]) / mean(&n[12..15]) - 1.0);
    assert!(
        caption(chart(summary, "Active customers by month"))
            .contains(&format!("{change:+.1}% against the three before")),
        "{change:+.1}"
    );
    // Value concentration: the top 10 % (2,357 customers) and 20 % (4,714) of revenue to date.
    let top = |k: u32| {
        format!(
            "SELECT sum(CASE WHEN rn <= {k} THEN s ELSE 0 END) / sum(s) AS v FROM
             (SELECT s, row_number() OVER (ORDER BY s DESC, customer_id) AS rn
              FROM (SELECT customer_id, sum(amount) AS s FROM raw GROUP BY customer_id))"
        )
    };
    let (t10, t20) = (one(top(2_357)).await, one(top(4_714)).await);
    assert_eq!(
        kpi(summary, "revenue from the top 10% of customers"),
        format!("{:.1}%", 100.0 * t10)
    );
    assert_eq!(kpi(summary, "from the top 20%"), format!("{:.1}%", 100.0 * t20));
    // Value at risk: churn probability × expected value, added up over every customer of the
    // contact list at the last transaction date (90-day window), in the high tier and overall.
    let ctx = library();
    let risk = sql(
        &ctx,
        &format!(
            "SELECT sum(churn_probability * expected_value) AS v,
                    sum(CASE WHEN risk_tier = 'high' THEN 1 ELSE 0 END) AS high,
                    sum(CASE WHEN risk_tier = 'high' THEN churn_probability * expected_value ELSE 0 END) AS hv
             FROM churn_contacts('{CDNOW}', '1998-06-30', 90)"
        ),
    )
    .await;
    let (v, high) = (f64s(&risk, "v")[0], f64s(&risk, "high")[0]);
    assert_shown(&kpi(summary, "value at risk from churn"), v, "value at risk");
    assert!(summary.contains(&format!("customers in the high-risk tier hold {}", {
        let hv = f64s(&risk, "hv")[0];
        format!("{:.1}k", hv / 1e3)
    })));
    assert!(summary.contains(&format!(
        "{},{:03} customers in the high-risk tier",
        high as u64 / 1000,
        high as u64 % 1000
    )));
    // CLV of the base as of the report date: all history, 52 weeks, margin 1, no discount.
    let clv = sql(&ctx, &format!("SELECT sum(clv) AS v FROM clv_predict('{CDNOW}')")).await;
    assert_shown(&kpi(summary, "CLV of the base"), f64s(&clv, "v")[0], "CLV of the base");
    // Segments by revenue with the scheme's actions: revenue shares from plain SQL over the
    // segments of rfm().
    let rows = table_rows(
        summary,
        "Segments by revenue to date, with their value at risk from churn and the suggested action of the segment scheme.",
    );
    let seg = sql(
        &ctx,
        &format!(
            "SELECT CAST(segment AS VARCHAR) AS segment, sum(monetary) / (SELECT sum(monetary) FROM rfm('{CDNOW}')) AS v
             FROM rfm('{CDNOW}') GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
    )
    .await;
    let (names, shares) = (strings(&seg, "segment"), f64s(&seg, "v"));
    assert_eq!(rows.len(), names.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], names[i]);
        assert_eq!(row[2], format!("{:.1}%", 100.0 * shares[i]), "{}", names[i]);
        assert!(row[4].len() > 10, "no action for {}", names[i]);
    }
}

/// Whether fontconfig has a font for Chinese (`.ci/run` installs fonts-wqy-zenhei): without
/// one, CJK labels render as boxes of another width and the measurement means nothing.
fn has_cjk_font() -> bool {
    Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .is_ok_and(|o| !o.stdout.trim_ascii().is_empty())
}

/// Renders a copy of `file` with the measuring script at 1280 px and returns the number of SVG
/// text elements and every text that leaves its chart (or widens the page).
fn overflowing_text(browser: &Path, file: &Path) -> (u64, Vec<String>) {
    let script = include_str!("report/measure.js");
    let html = std::fs::read_to_string(file).unwrap();
    let copy = file.with_extension("measured.html");
    std::fs::write(
        &copy,
        html.replace("</body>", &format!("<script>{script}</script></body>")),
    )
    .unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", copy.with_extension("profile").display()))
        .args(["--dump-dom", &format!("file://{}", copy.display())])
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let json = between(&dom, "<pre id=\"overflow\">", "</pre>")
        .last()
        .map(|j| unescape(j))
        .unwrap_or_else(|| {
            panic!(
                "the measuring script did not run: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let bad = v["overflowing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    (v["texts"].as_u64().unwrap(), bad)
}

#[test]
fn no_text_leaves_its_chart_in_chromium_with_chinese_and_long_labels() {
    let Some(browser) = chromium() else {
        return;
    };
    if !has_cjk_font() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no CJK font: .ci/run installs one (apt-get install fonts-wqy-zenhei)"
        );
        eprintln!("skipped: no CJK font (apt-get install fonts-wqy-zenhei)");
        return;
    }
    let dir = temp_dir("fit");
    // The check itself sees a label that leaves its chart.
    let clipped = dir.join("clipped.html");
    std::fs::write(
        &clipped,
        "<html><body><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 50\" width=\"100\" aria-label=\"c\"><text x=\"60\" y=\"20\">重要挽留客户</text></svg></body></html>",
    )
    .unwrap();
    let (texts, bad) = overflowing_text(&browser, &clipped);
    assert_eq!((texts, bad.len()), (1, 1), "{bad:?}");
    assert!(bad[0].starts_with("c: \"重要挽留客户\""), "{bad:?}");

    // The CDNOW report as written, then the sample with the two-level Chinese scheme and with a
    // user scheme of 40-character labels (one Chinese), calibration and holdout given so that
    // every chart is drawn.
    let (file, _) = cdnow_report();
    let mut reports = vec![("default".to_string(), file.clone())];
    let scheme_file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/long_labels_scheme.toml");
    for (name, extra) in [
        ("cn8", vec!["--scheme", "cn8"]),
        // As of mid-June: the last month is partial.
        (
            "long_labels",
            vec![
                "--scheme-file",
                scheme_file,
                "--scheme",
                "long_labels",
                "--as-of",
                "1998-06-15",
            ],
        ),
    ] {
        let out = dir.join(format!("{name}.html"));
        // cn8: a file given no split gets the default validation cut (the last 38 whole weeks).
        let mut args = vec!["report", SAMPLE, "--out", out.to_str().unwrap()];
        if name != "cn8" {
            args.extend(["--calibration-end", "1997-09-30", "--holdout-end", "1998-06-14"]);
        }
        args.extend(extra);
        let run = clv(&args);
        run.ok();
        if name == "cn8" {
            assert!(
                run.stderr
                    .contains("Validation cut: calibration to 1997-10-07, holdout to 1998-06-30"),
                "{}",
                run.stderr
            );
            let html = std::fs::read_to_string(&out).unwrap();
            assert!(
                html.contains("Fitted on the purchases up to 1997-10-07")
                    && html.contains("judged on the holdout to 1998-06-30"),
                "the validation section of a file given no split"
            );
        }
        reports.push((name.to_string(), out));
    }
    let html = std::fs::read_to_string(&reports[2].1).unwrap();
    assert!(html.contains("Customers who bought recently and often!") && html.contains("近期频繁购买且消费金额很高"));
    assert!(html.contains("<h1>Customer value report: cdnow_sample.parquet</h1>"));
    // The partial June 1998 (data to the 14th): starred in the monthly charts, outlined in each
    // cohort triangle (the sample's three cohorts, January to March 1997, each have a June cell).
    for label in ["Active customers by month", "Revenue by month"] {
        let c = chart(&html, label);
        assert!(c.contains(">1998-06*</text>"), "{label}");
        assert!(
            caption(c).contains("The last month (1998-06*) is partial: the data end on 1998-06-14."),
            "{}",
            caption(c)
        );
    }
    for label in ["Cohort retention triangle", "Revenue retention"] {
        let partial: Vec<String> = tooltips(chart(&html, label))
            .into_iter()
            .filter(|t| t.ends_with(" (partial period)"))
            .collect();
        assert_eq!(partial.len(), 3, "{label}: {partial:?}");
        for (cohort, offset) in [("1997-01-01", 17), ("1997-02-01", 16), ("1997-03-01", 15)] {
            assert!(
                partial
                    .iter()
                    .any(|t| t.starts_with(&format!("{cohort} (")) && t.contains(&format!(" × {offset}: "))),
                "{label}: {cohort} {partial:?}"
            );
        }
    }
    let cn8 = std::fs::read_to_string(&reports[1].1).unwrap();
    assert!(cn8.contains("一般挽留客户") && cn8.contains("Scores 1 (worst) to 2 (best)"));
    for (name, file) in &reports {
        let (texts, bad) = overflowing_text(&browser, file);
        assert!(texts > 500, "{name}: {texts} text elements measured");
        assert!(bad.is_empty(), "{name}: text leaves its chart: {bad:#?}");
    }
}
