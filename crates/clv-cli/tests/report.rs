//! `clv report`: the page's content checked against the library, and rendered in a real browser
//! (Debian's chromium, which `.ci/run` installs).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const SECTIONS: [&str; 7] = ["overview", "rfm", "cohorts", "lifecycle", "bgnbd", "clv", "churn"];

fn report(dir: &Path) -> (PathBuf, String) {
    let out = dir.join("report.html");
    let run = clv(&["report", "--out", out.to_str().unwrap()]);
    run.ok();
    assert!(run.stderr.contains("Wrote the report to"), "{}", run.stderr);
    let html = std::fs::read_to_string(&out).unwrap();
    (out, html)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cdnow_report_has_every_section_and_the_library_numbers() {
    use clv::ltv::BgNbd;
    use clv::prelude::*;
    let dir = temp_dir("report");
    let (_, html) = report(&dir);
    for id in SECTIONS {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "no section {id}");
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
    // The BG/NBD parameters are the library's fit on the 1997-09-30 calibration period.
    let data = BtydSummary::new()
        .calibration_end("1997-09-30")
        .collect(&library(), CDNOW)
        .await
        .unwrap();
    let p = BgNbd::new().fit(&data).unwrap().params();
    for (name, value) in [("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)] {
        let cell = format!("<td>{name}</td><td class=\"num\">{value:.4}</td>");
        assert!(html.contains(&cell), "missing {cell}");
    }
    // Churn over the holdout: the labels and the AUC are the library's.
    let ctx = library();
    let labels = sql(
        &ctx,
        &format!(
            "SELECT sum(CASE WHEN churned THEN 1 ELSE 0 END) AS churned,
                    churn_auc(churn_probability, churned) AS auc
             FROM churn_labels('{CDNOW}', '1997-09-30', 273, 'btyd=true')"
        ),
    )
    .await;
    let churned = f64s(&labels, "churned")[0] as u64;
    let auc = f64s(&labels, "auc")[0];
    assert!(
        html.contains(&format!("<b>{auc:.3}</b><span>AUC of 1 − P(alive)</span>")),
        "AUC {auc:.3}"
    );
    let thousands = format!("{},{:03}", churned / 1000, churned % 1000);
    assert!(
        churned >= 1000 && html.contains(&format!("<td class=\"num\">{thousands}</td>")),
        "{thousands}"
    );
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

    let (file, _) = report(&dir);
    let png = dir.join("report.png");
    let (dom, console) = render(&browser, &file, &png);
    assert!(console.is_empty(), "console messages: {console:?}");
    for id in SECTIONS {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "the rendered page has no section {id}"
        );
    }
    assert_eq!(
        dom.matches("<svg").count(),
        std::fs::read_to_string(&file).unwrap().matches("<svg").count()
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 100_000,
        "screenshot of {} bytes",
        bytes.len()
    );
}
