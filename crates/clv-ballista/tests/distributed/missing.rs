//! A scheduler or executor started without clv fails the query with a clear message.

use datafusion::common::Result;

use crate::common::*;

/// A clv scalar, aggregate and window function over columns (so none is constant-folded on the
/// client and every one must reach the cluster).
const SQL: &str = "SELECT customer_id, rfm_segment(r, f, m) AS segment FROM rfm('orders') ORDER BY customer_id";

async fn error_on(cluster: LocalCluster) -> Result<String> {
    let url = cluster.start().await?;
    let ctx = client(&url).await?;
    Ok(run(&ctx, &[], SQL)
        .await
        .expect_err("a cluster without clv must fail")
        .to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn scheduler_without_clv() -> Result<()> {
    let e = error_on(LocalCluster {
        clv_scheduler: false,
        executors: 1,
        ..clv_cluster()
    })
    .await?;
    let first = e.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("the Ballista scheduler does not have the clv function")
            && first.contains("start it with clv-scheduler")
            && first.contains("docs/distributed.md"),
        "{e}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn executor_without_clv() -> Result<()> {
    // Pulled tasks fail on the executor, which names the function; pushed tasks are rejected
    // and the scheduler reports only that, so the client names the query's clv functions.
    // Pulled tasks name the first clv function the executor meets: an rfm_ function, or
    // clv_check (the exact-amount guard of float amounts in the ordinary plan).
    for (pull, problem) in [
        (true, "a Ballista executor does not have the clv function "),
        (
            false,
            "a Ballista executor rejected this query, which calls the clv functions clv_check, rfm_score, rfm_segment: ",
        ),
    ] {
        let e = error_on(LocalCluster {
            clv_executors: false,
            pull,
            executors: 1,
            ..clv_cluster()
        })
        .await?;
        let first = e.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(problem) && first.contains("start every executor with clv-executor"),
            "{e}"
        );
        if pull {
            let named = &first[problem.len()..];
            assert!(named.starts_with("rfm_") || named.starts_with("clv_check"), "{e}");
        }
    }
    Ok(())
}
