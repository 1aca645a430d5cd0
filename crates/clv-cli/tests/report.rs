//! `clv report`: the page's content checked against the library, and rendered in a real browser
//! (Debian's chromium, which `.ci/run` installs).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

const SECTIONS: [(&str, &str); 7] = [
    ("overview", "Data overview"),
    ("rfm", "RFM segments"),
    ("cohorts", "Cohort retention"),
    ("lifecycle", "Lifecycle"),
    ("bgnbd", "BG/NBD model"),
    ("clv", "Customer lifetime value"),
    ("churn", "Churn"),
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

/// A figure's caption.
fn caption(figure: &str) -> String {
    unescape(between(figure, "<figcaption>", "</figcaption>")[0])
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
    for (id, heading) in SECTIONS {
        let open = format!("<section id=\"{id}\"><h2>{heading}</h2>");
        assert!(html.contains(&open), "no section {open}");
    }
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
        let caption = f
            .split("<figcaption>")
            .nth(1)
            .and_then(|c| c.split("</figcaption>").next())
            .unwrap_or("");
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

    // CLV: the library's clv_predict over the same calibration period (52 weeks, no discount),
    // which also scores the one CDNOW customer whose repeat purchases were all free.
    let lib = sql(
        &library(),
        &format!(
            "SELECT customer_id, x, monetary, p_alive, expected_purchases, expected_spend, clv
             FROM clv_predict('{CDNOW}', '1997-09-30')
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
    let top = table_rows(html, "The 20 customers with the highest predicted CLV.");
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
    for (i, row) in top.iter().enumerate() {
        assert_eq!(row[0], ids[i], "rank {}", i + 1);
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

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
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
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed: .ci/run installs it (apt-get install chromium)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
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
