//! `clv tune`, `clv segments …`, `clv schemes` and the segment sections of `clv report`
//! against the library's answers on the bundled CDNOW data.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn segments_commands_match_the_library() {
    let ctx = library();
    let lib = sql(
        &ctx,
        &format!(
            "SELECT * FROM segment_evaluate('{CDNOW}', '1997-09-30', 273, 'scheme=rfm11') ORDER BY cutoff, revenue_per_customer DESC, segment"
        ),
    )
    .await;
    let run = clv(&[
        "segments",
        "evaluate",
        CDNOW,
        "--cutoffs",
        "1997-09-30",
        "--window-days",
        "273",
        "--scheme",
        "rfm11",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok(), csv(&lib));
    // The terminal view shows the segmentation's metrics next to the recency baseline.
    let run = clv(&[
        "segments",
        "evaluate",
        "--cutoffs",
        "1997-09-30",
        "--window-days",
        "273",
    ]);
    let out = run.ok();
    assert!(out.contains("Segments against the future") && out.contains("Baseline: the recency score alone"));
    let metrics = sql(
        &ctx,
        &format!("SELECT round(eta2_revenue, 4) AS e FROM segment_metrics('{CDNOW}', '1997-09-30', 273)"),
    )
    .await;
    assert!(out.contains(&format!("| {} ", f64s(&metrics, "e")[0])), "{out}");
    // Without cutoffs: the last month end whose 90-day window is complete (data end 1998-06-30).
    let run = clv(&["segments", "evaluate", "--format", "csv"]);
    assert!(
        run.ok().lines().skip(1).all(|l| l.starts_with("1998-03-31,")),
        "{}",
        run.stdout
    );

    let lib = sql(
        &ctx,
        &format!(
            "SELECT * FROM rfm_transitions('{CDNOW}', '1997-09-30', '1998-03-31', 'scheme=tiers_en') ORDER BY from_segment NULLS LAST, customers DESC, to_segment"
        ),
    )
    .await;
    let run = clv(&[
        "segments",
        "transitions",
        CDNOW,
        "--from",
        "1997-09-30",
        "--to",
        "1998-03-31",
        "--scheme",
        "tiers_en",
        "--format",
        "csv",
    ]);
    assert_eq!(run.ok(), csv(&lib));

    let lib = sql(
        &ctx,
        &format!("SELECT * FROM segment_series('{CDNOW}', 'every=quarter') ORDER BY cutoff, segment"),
    )
    .await;
    let run = clv(&["segments", "series", CDNOW, "--every", "quarter", "--format", "csv"]);
    assert_eq!(run.ok(), csv(&lib));

    let dir = temp_dir("clusters");
    let customers = dir.join("clusters.csv");
    let run = clv_in(
        &dir,
        &[
            "segments",
            "clusters",
            "--k",
            "4",
            "--customers",
            customers.to_str().unwrap(),
        ],
        None,
    );
    let out = run.ok();
    let lib = sql(
        &ctx,
        &format!("SELECT * FROM rfm_clusters('{CDNOW}', 'k=4') ORDER BY customer_id"),
    )
    .await;
    assert_eq!(std::fs::read_to_string(&customers).unwrap(), csv(&lib));
    let profiles = sql(
        &ctx,
        &format!("SELECT segment FROM rfm_cluster_profiles('{CDNOW}', 'k=4')"),
    )
    .await;
    for b in &profiles {
        use datafusion::arrow::array::AsArray;
        for name in b.column(0).as_string::<i32>().iter().flatten() {
            assert!(out.contains(name), "{name}\n{out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tune_prints_the_ranking_and_writes_a_chart() {
    let ctx = library();
    let dir = temp_dir("tune");
    let args = [
        "tune",
        "--cutoffs",
        "1997-06-30,1997-09-30",
        "--window-days",
        "273",
        "--schemes",
        "rf_grid,rfm11,cell",
        "--bins-list",
        "3,4",
        "--lookbacks",
        "all",
    ];
    let run = clv_in(&dir, &args, None);
    let out = run.ok();
    assert!(run.stderr.contains("Tuned 5 configurations"), "{}", run.stderr);
    let html = std::fs::read_to_string(dir.join("clv-tune.html")).unwrap();
    assert!(html.contains("aria-label=\"Segmentations ranked\"") && !html.to_ascii_lowercase().contains("<script"));
    let lib = sql(
        &ctx,
        &format!(
            "SELECT segmentation, round(eta2_revenue, 4) AS e FROM segment_tune('{CDNOW}', '1997-06-30,1997-09-30', 273, 'schemes=rf_grid,rfm11,cell', 'bins=3,4', 'lookback_days=all', 'k=4,6,8') ORDER BY rank"
        ),
    )
    .await;
    let e = f64s(&lib, "e");
    // Rows in rank order, each with its eta2, the baseline marked.
    let mut at = 0;
    for (i, b) in lib
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| (b, i)))
        .enumerate()
    {
        use datafusion::arrow::array::AsArray;
        let name = b.0.column(0).as_string::<i32>().value(b.1).to_string();
        let row = format!("| {:<4} | {name}", i + 1);
        let found = out[at..].find(&row).unwrap_or_else(|| panic!("{row}\n{out}"));
        at += found;
        assert!(out[at..].lines().next().unwrap().contains(&e[i].to_string()), "{row}");
    }
    assert!(out.contains("recency, quantile x5, all history") && out.contains("| true "));
    // Machine output is the full table.
    let run = clv_in(&dir, &[&args[..], &["--format", "csv"]].concat(), None);
    assert_eq!(run.ok().lines().count(), e.len() + 1);
}

#[test]
fn schemes_lists_and_prints_rules_with_actions() {
    let run = clv(&["schemes"]);
    let out = run.ok();
    for name in [
        "rf_grid", "rfm11", "cn8", "cn8_en", "rfm3", "rfm3_en", "tiers", "tiers_en",
    ] {
        assert!(out.contains(&format!("| {name} ")), "{name}\n{out}");
    }
    let run = clv(&["schemes", "tiers_en"]);
    let out = run.ok();
    assert!(out.contains("0.4,0.3,0.3"), "{out}");
    assert!(
        out.contains("| 1    | core ") && out.contains("Protect: VIP care"),
        "{out}"
    );
    assert!(out.contains("|      | dormant "), "{out}");
    let dir = temp_dir("schemes");
    std::fs::write(
        dir.join("mine.toml"),
        "name = \"mine\"\nlevels = 2\ndefault = \"rest\"\n[[rule]]\nlabel = \"best\"\ntotal = [6, 6]\naction = \"call them\"\n",
    )
    .unwrap();
    let run = clv_in(&dir, &["schemes", "mine", "--scheme-file", "mine.toml"], None);
    assert!(run.ok().contains("call them"), "{}", run.stdout);
    let run = clv(&["schemes", "nope"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown segment scheme 'nope'"), "{}", run.stderr);
}

#[test]
fn rfm_shows_actions_concentration_and_takes_a_lookback() {
    let run = clv(&["rfm", "--scheme", "tiers_en", "--lookback-days", "180"]);
    let out = run.ok();
    assert!(
        out.contains("Reactivate cheaply (automated reminders) or let go"),
        "{out}"
    );
    assert!(out.contains("Value concentration") && out.contains("Gini"), "{out}");
    assert!(run.stderr.contains("over the last 180 days"), "{}", run.stderr);
    let run = clv(&["rfm", "--scheme", "kmeans", "--format", "csv"]);
    assert!(
        run.ok()
            .starts_with("customer_id,recency_days,frequency,monetary,cluster_id,segment,segment_zh")
    );
}

/// The report's segment sections show the library's numbers.
#[tokio::test(flavor = "multi_thread")]
async fn report_segment_sections_show_the_library_numbers() {
    let ctx = library();
    let dir = temp_dir("report");
    let run = clv_in(&dir, &["report", "--out", "r.html"], None);
    run.ok();
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    for (id, heading) in [
        ("concentration", "Value concentration"),
        ("segment-evaluation", "Segments against the future"),
        ("migration", "Segment migration"),
        ("clusters", "Clusters"),
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\"><div class=\"lead\"><h2>{heading}</h2>")),
            "{id}"
        );
    }
    let gini = f64s(
        &sql(
            &ctx,
            &format!("SELECT gini FROM value_concentration('{CDNOW}') LIMIT 1"),
        )
        .await,
        "gini",
    )[0];
    assert!(html.contains(&format!("<b>{gini:.3}</b><span>Gini coefficient</span>")));
    let eta = f64s(
        &sql(
            &ctx,
            &format!("SELECT eta2_revenue FROM segment_metrics('{CDNOW}', '1997-09-30', 273)"),
        )
        .await,
        "eta2_revenue",
    )[0];
    assert!(
        html.contains(&format!("<b>{eta:.3}</b><span>η² of future revenue</span>")),
        "{eta}"
    );
    let both = f64s(
        &sql(
            &ctx,
            &format!("SELECT sum(customers) AS n FROM rfm_transitions('{CDNOW}', '1997-09-30', '1998-06-30') WHERE from_segment IS NOT NULL"),
        )
        .await,
        "n",
    )[0];
    assert!(html.contains(&format!(
        "<b>{}</b><span>customers at both dates</span>",
        fmt_int(both as u64)
    )));
    assert!(html.contains("aria-label=\"Segment transition matrix\""));
    assert!(html.contains("aria-label=\"Segment sizes by month\""));
    let inertia = f64s(
        &sql(
            &ctx,
            &format!("SELECT inertia FROM rfm_cluster_profiles('{CDNOW}') LIMIT 1"),
        )
        .await,
        "inertia",
    )[0];
    assert!(html.contains(&format!("<b>{inertia:.0}</b><span>inertia</span>")));
}

fn fmt_int(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
