//! `clv --cluster df://host:port`: every command runs on a Ballista cluster (a scheduler and two
//! executors in this test process, on loopback) and prints what it prints locally.
#![cfg(feature = "cluster")]

mod common;

use clv_ballista::LocalCluster;
use common::*;

/// Runs `clv` with `args` locally and on the cluster at `url` (off the runtime's workers, which
/// serve the cluster meanwhile).
async fn local_and_cluster(url: &str, args: &[&str]) -> (Run, Run) {
    let local: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut cluster = vec!["--cluster".to_string(), url.to_string()];
    cluster.extend(local.iter().cloned());
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || clv(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    (run(local).await.unwrap(), run(cluster).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_command_on_a_cluster_prints_what_it_prints_locally() {
    let url = LocalCluster::new(2).start().await.unwrap();
    for args in [
        vec!["rfm", SAMPLE, "--customer-col", "master_customer_id", "--format", "csv"],
        vec!["summary", SAMPLE, "--calibration-end", "1997-09-30", "--format", "csv"],
        vec!["cohorts", SAMPLE, "--period", "quarter", "--format", "csv"],
        vec!["churn", "stages", SAMPLE, "--as-of", "1998-01-01", "--format", "csv"],
        vec![
            "churn",
            "labels",
            SAMPLE,
            "--cutoffs",
            "1997-09-30",
            "--window-days",
            "90",
            "--format",
            "csv",
        ],
        vec!["fit", SAMPLE, "--calibration-end", "1997-09-30"],
        vec![
            "sql",
            "SELECT segment, count(*) AS customers FROM rfm('orders') GROUP BY segment",
            "--table",
            &format!("orders={SAMPLE}"),
            "--format",
            "csv",
        ],
    ] {
        let (local, cluster) = local_and_cluster(&url, &args).await;
        assert!(local.ok().lines().count() > 1, "{args:?}: {}", local.stdout);
        assert_eq!(
            sorted_lines(local.ok()),
            sorted_lines(cluster.ok()),
            "{args:?} on the cluster\nstderr: {}",
            cluster.stderr
        );
    }
    // The terminal views summarise the collected result on this machine.
    let (local, cluster) = local_and_cluster(&url, &["rfm", SAMPLE, "--customer-col", "master_customer_id"]).await;
    assert_eq!(local.ok(), cluster.ok());
    assert!(cluster.stdout.contains("Segments"), "{}", cluster.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_mistakes_are_usage_errors_with_the_fix() {
    // No input path: the bundled sample exists only in this process.
    let run = clv(&["--cluster", "df://127.0.0.1:1", "rfm"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--cluster needs an input PATH"), "{}", run.stderr);
    // Not a scheduler address.
    let run = clv(&["--cluster", "localhost:50050", "rfm", SAMPLE]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("expected df://host:port"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    // Nothing listens there.
    let run = clv(&["--cluster", "df://127.0.0.1:1", "rfm", SAMPLE]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: --cluster: cannot connect to the Ballista scheduler at df://127.0.0.1:1"),
        "{}",
        run.stderr
    );
    // A scheduler without clv: the one line names it and the fix.
    let url = LocalCluster {
        clv_scheduler: false,
        ..LocalCluster::new(1)
    }
    .start()
    .await
    .unwrap();
    let (_, run) = local_and_cluster(&url, &["rfm", SAMPLE, "--customer-col", "master_customer_id"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: the Ballista scheduler does not have the clv function")
            && run.stderr.contains("start it with clv-scheduler")
            && run.stderr.lines().count() == 1,
        "{}",
        run.stderr
    );
}
