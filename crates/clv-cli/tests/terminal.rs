//! Progress on a terminal: drawn on stderr when it is a terminal (here a pseudo-terminal made by
//! util-linux's `script`), silent when piped or with `--quiet`.

mod common;

use std::process::Command;

use common::*;

fn on_a_terminal(args: &str) -> Option<String> {
    if !std::path::Path::new("/usr/bin/script").exists() {
        assert!(std::env::var_os("CI").is_none(), "util-linux's script is missing");
        eprintln!("skipped: no /usr/bin/script");
        return None;
    }
    let command = format!("{} {args} 2>&1 >/dev/null", env!("CARGO_BIN_EXE_clv"));
    let out = Command::new("/usr/bin/script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("TERM", "xterm")
        .current_dir(temp_dir("tty"))
        .output()
        .expect("run script");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    Some(String::from_utf8_lossy(&out.stdout).into())
}

#[test]
fn progress_shows_step_rows_and_time_on_a_terminal_only() {
    let Some(screen) = on_a_terminal(&format!("rfm {CDNOW} --format csv")) else {
        return;
    };
    // The step name, elapsed time and rows scanned out of the Parquet metadata's total.
    assert!(screen.contains("RFM scores"), "{screen}");
    assert!(screen.contains("69,659/69,659 rows scanned"), "{screen}");
    assert!(screen.contains("[00:00:0"), "{screen}");
    let Some(quiet) = on_a_terminal(&format!("rfm {CDNOW} --format csv --quiet")) else {
        return;
    };
    assert!(!quiet.contains("rows scanned"), "{quiet}");
    let piped = clv(&["rfm", CDNOW, "--format", "csv"]);
    assert!(!piped.stderr.contains("rows scanned"), "{}", piped.stderr);
}
