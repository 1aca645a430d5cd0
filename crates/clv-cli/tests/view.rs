//! The terminal view for reading (issue 22): rounded floats (files exact), `--quiet`, and the
//! warnings for degenerate results.

mod common;

use common::{clv, clv_in, temp_dir};

/// Customer 3 of CDNOW has mean repeat spend 27.139999999999997 (= (sum of 5 repeat amounts)/5
/// in floating point): the preview reads 27.14, `--full-precision` and the files keep every digit.
#[test]
fn previews_round_and_files_keep_full_precision() {
    let dir = temp_dir("round");
    let view = clv_in(&dir, &["summary", "--preview", "3", "--out", "s.csv"], None);
    let text = view.ok();
    assert!(
        text.contains("| 3           | 5 | 73.0 | 77.7143 | 27.14    |"),
        "{text}"
    );
    assert!(!text.contains("27.139999999999997"), "{text}");
    let csv = std::fs::read_to_string(dir.join("s.csv")).unwrap();
    assert!(
        csv.contains("\n3,5,73.0,77.71428571428571,27.139999999999997,"),
        "{csv}"
    );
    let json = clv(&["summary", "--format", "json"]);
    assert!(json.ok().contains("\"monetary\":27.139999999999997"));
    let full = clv(&["summary", "--preview", "3", "--full-precision"]);
    assert!(full.ok().contains("| 27.139999999999997 |"), "{}", full.stdout);
}

/// `--quiet`: nothing but errors. With --out nothing at all; without, the full result only.
#[test]
fn quiet_prints_the_result_only() {
    let dir = temp_dir("quiet");
    let r = clv_in(&dir, &["-q", "rfm", "--out", "r.csv"], None);
    assert_eq!((r.ok(), r.stderr.as_str()), ("", ""));
    assert!(dir.join("r.csv").is_file());
    let r = clv_in(&dir, &["-q", "summary"], None);
    let text = r.ok();
    assert_eq!(r.stderr, "");
    // The full result as a table: a header, 23,570 rows, no titles, previews or notes.
    assert!(text.starts_with("+-------------+"), "{}", &text[..200]);
    assert_eq!(text.lines().filter(|l| l.starts_with("| ")).count(), 23_571);
    assert!(!text.contains("Overview") && !text.contains("more rows"));
    // Errors still print.
    let e = clv_in(&dir, &["-q", "rfm", "--bins", "1"], None);
    assert_eq!(e.code, 2);
    assert!(e.stderr.starts_with("error: "), "{}", e.stderr);
}

/// CDNOW's 11,908 one-time buyers share the lowest frequency score, so no customer has f = 2;
/// rfm11 puts 6,585 of 23,570 customers (27.9 %) in Loyal. Both are said, with what to do.
#[test]
fn rfm_warns_about_merged_levels_and_outsized_segments() {
    let r = clv(&["rfm", "--scheme", "rfm11", "--preview", "1"]);
    r.ok();
    assert!(
        r.stderr.contains(
            "warning: frequency score: no customer has f = 2 (11908 of 23570 customers, 51%, tie at f = 1 and quantile ties merged the levels); use --method fixed with --frequency-thresholds, --method ntile, or fewer --bins"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("warning: segment 'Loyal' holds 6585 of 23570 customers (27.9%, more than 25%)"),
        "{}",
        r.stderr
    );
    // ntile splits ties, so every level has customers: no level warning.
    let fixed = clv(&["rfm", "--method", "ntile", "--preview", "1"]);
    fixed.ok();
    assert!(!fixed.stderr.contains("no customer has"), "{}", fixed.stderr);
    // --quiet silences warnings.
    let quiet = clv(&["-q", "rfm", "--scheme", "rfm11", "--format", "csv"]);
    assert_eq!(quiet.stderr, "");
}
