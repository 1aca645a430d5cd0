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
    /// Clear each step's line when it ends (the shell), instead of leaving it as a log.
    transient: bool,
}

impl Progress {
    /// Draws when standard error is a terminal and not `quiet`.
    pub fn new(quiet: bool, total_rows: Option<u64>) -> Self {
        Self {
            draw: !quiet && std::io::stderr().is_terminal(),
            total_rows,
            transient: false,
        }
    }

    /// Clears each step's line when the step ends.
    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    /// Never draws.
    pub fn hidden() -> Self {
        Self {
            draw: false,
            total_rows: None,
            transient: false,
        }
    }

    /// Runs `df` to completion as the step `step`. An empty result is one batch with no rows,
    /// so that it still carries its schema (an empty result is written with its columns).
    pub async fn collect(&self, step: &str, df: DataFrame) -> Result<Vec<RecordBatch>> {
        Ok(self.collect_plan(step, df).await?.0)
    }

    /// [`Progress::collect`], also returning the executed plan (whose operators hold their
    /// metrics and, for the fused `rfm()`, its policy counts).
    pub async fn collect_plan(&self, step: &str, df: DataFrame) -> Result<(Vec<RecordBatch>, Arc<dyn ExecutionPlan>)> {
        let schema = Arc::new(df.schema().as_arrow().clone());
        let (mut batches, plan) = self.run(step, df).await?;
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(schema));
        }
        Ok((batches, plan))
    }

    async fn run(&self, step: &str, df: DataFrame) -> Result<(Vec<RecordBatch>, Arc<dyn ExecutionPlan>)> {
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        if !self.draw {
            let batches = datafusion::physical_plan::collect(Arc::clone(&plan), task).await?;
            return Ok((batches, plan));
        }
        let bar = self.bar(step);
        let ticker = {
            let (bar, plan, this) = (bar.clone(), Arc::clone(&plan), self.clone());
            tokio::spawn(async move {
                loop {
                    this.update(&bar, plan.as_ref());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let result = datafusion::physical_plan::collect(Arc::clone(&plan), task).await;
        ticker.abort();
        self.update(&bar, plan.as_ref());
        self.finish(&bar);
        Ok((result?, plan))
    }

    /// Runs a step that is not a DataFusion plan (e.g. rendering), showing its name and time.
    pub fn step<T>(&self, step: &str, f: impl FnOnce() -> T) -> T {
        if !self.draw {
            return f();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template(STEP).expect("valid template"));
        bar.set_message(step.to_string());
        let out = f();
        self.finish(&bar);
        out
    }

    fn finish(&self, bar: &ProgressBar) {
        if self.transient {
            bar.finish_and_clear();
        } else {
            bar.finish();
        }
    }

    /// A bar showing the step and the time; rows appear once a scan reports them.
    fn bar(&self, step: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(self.total_rows, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template(STEP).expect("valid template"));
        bar.set_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    fn update(&self, bar: &ProgressBar, plan: &dyn ExecutionPlan) {
        // In-memory tables report no scan metrics: their steps show only the name and time.
        let Some(scanned) = scanned_rows(plan) else {
            return;
        };
        let template = if self.total_rows.is_some() { ROWS_OF_TOTAL } else { ROWS };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        if let Some(total) = self.total_rows.filter(|t| *t > 0) {
            let passes = scanned.div_ceil(total).max(1);
            bar.set_length(total * passes);
        }
        bar.set_position(scanned);
    }
}

const STEP: &str = "{spinner} {msg:<34} [{elapsed_precise}]";
const ROWS: &str = "{spinner} {msg:<34} [{elapsed_precise}] {human_pos} rows scanned";
const ROWS_OF_TOTAL: &str = "{spinner} {msg:<34} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows scanned";

/// Rows produced so far by the plan's leaves (its scans); `None` while no scan reports any.
pub fn scanned_rows(plan: &dyn ExecutionPlan) -> Option<u64> {
    let children = plan.children();
    if children.is_empty() {
        return plan.metrics().and_then(|m| m.output_rows()).map(|n| n as u64);
    }
    children
        .iter()
        .filter_map(|c| scanned_rows(c.as_ref()))
        .reduce(|a, b| a + b)
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
            .aggregate(
                vec![],
                vec![datafusion::functions_aggregate::expr_fn::sum(datafusion::prelude::col(
                    "amount",
                ))],
            )
            .unwrap();
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await.unwrap();
        assert_eq!(scanned_rows(plan.as_ref()), None);
        datafusion::physical_plan::collect(Arc::clone(&plan), task)
            .await
            .unwrap();
        assert_eq!(scanned_rows(plan.as_ref()), Some(69_659));
    }
}
