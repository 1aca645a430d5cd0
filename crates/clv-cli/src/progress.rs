//! Progress on standard error while a step runs: the step's name, the elapsed time and the rows
//! scanned out of the input's total (from Parquet metadata). Drawn only when standard error is
//! a terminal and `--quiet` is off.
//!
//! Rows scanned are read live from the `output_rows` metrics of the plan's scans, so nothing
//! is inserted into the plan. A step may scan its input more than once (the policy report
//! compares the rows with their distinct set, a fit reads the summary twice): the total then
//! grows by whole passes over the input.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::physical_plan::ExecutionPlan;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Result;

/// Reports the steps of one command.
#[derive(Debug, Clone)]
pub struct Progress {
    draw: bool,
    total_rows: Option<u64>,
}

impl Progress {
    /// Draws when standard error is a terminal and not `quiet`.
    pub fn new(quiet: bool, total_rows: Option<u64>) -> Self {
        Self {
            draw: !quiet && std::io::stderr().is_terminal(),
            total_rows,
        }
    }

    /// Never draws.
    pub fn hidden() -> Self {
        Self {
            draw: false,
            total_rows: None,
        }
    }

    /// Runs `df` to completion as the step `step`.
    pub async fn collect(&self, step: &str, df: DataFrame) -> Result<Vec<RecordBatch>> {
        if !self.draw {
            return Ok(df.collect().await?);
        }
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let bar = self.bar(step);
        let ticker = {
            let (bar, plan, total) = (bar.clone(), Arc::clone(&plan), self.total_rows);
            tokio::spawn(async move {
                loop {
                    update(&bar, plan.as_ref(), total);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let result = datafusion::physical_plan::collect(Arc::clone(&plan), task).await;
        ticker.abort();
        update(&bar, plan.as_ref(), self.total_rows);
        bar.finish();
        Ok(result?)
    }

    /// Runs a step that is not a DataFusion plan (e.g. rendering), showing its name and time.
    pub fn step<T>(&self, step: &str, f: impl FnOnce() -> T) -> T {
        if !self.draw {
            return f();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg:<34} [{elapsed_precise}]").expect("valid template"));
        bar.set_message(step.to_string());
        let out = f();
        bar.finish();
        out
    }

    fn bar(&self, step: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(self.total_rows, ProgressDrawTarget::stderr());
        let template = if self.total_rows.is_some() {
            "{spinner} {msg:<34} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows scanned"
        } else {
            "{spinner} {msg:<34} [{elapsed_precise}] {human_pos} rows scanned"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar.set_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

fn update(bar: &ProgressBar, plan: &dyn ExecutionPlan, total: Option<u64>) {
    let scanned = scanned_rows(plan);
    if let Some(total) = total.filter(|t| *t > 0) {
        let passes = scanned.div_ceil(total).max(1);
        bar.set_length(total * passes);
    }
    bar.set_position(scanned);
}

/// Rows produced so far by the plan's leaves (its scans).
pub fn scanned_rows(plan: &dyn ExecutionPlan) -> u64 {
    let children = plan.children();
    if children.is_empty() {
        return plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0) as u64;
    }
    children.iter().map(|c| scanned_rows(c.as_ref())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn scanned_rows_count_a_parquet_scan() {
        let ctx = datafusion::prelude::SessionContext::new();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_master.parquet");
        let df = ctx
            .read_parquet(path, Default::default())
            .await
            .unwrap()
            .aggregate(vec![], vec![datafusion::functions_aggregate::expr_fn::sum(datafusion::prelude::col("amount"))])
            .unwrap();
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await.unwrap();
        assert_eq!(scanned_rows(plan.as_ref()), 0);
        datafusion::physical_plan::collect(Arc::clone(&plan), task).await.unwrap();
        assert_eq!(scanned_rows(plan.as_ref()), 69_659);
    }
}
