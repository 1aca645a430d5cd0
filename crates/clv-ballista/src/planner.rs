//! Client side: clear errors when the cluster lacks clv.
//!
//! A scheduler or executor started without clv cannot decode a plan calling a clv function.
//! Ballista then reports a codec error (`LogicalExtensionCodec is not provided for scalar
//! function rfm_segment`), or, when the scheduler pushes tasks to executors (the default), only
//! `task could not be prepared or was rejected by executor`. [`ClvQueryPlanner`] wraps
//! Ballista's planner so that such an error, for a query calling clv functions, starts with what
//! is wrong and how to fix it:
//!
//! ```text
//! the Ballista scheduler does not have the clv function rfm_segment: start it with clv-scheduler ...
//! caused by
//! Execution error: ... LogicalExtensionCodec is not provided for scalar function rfm_segment ...
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use clv_core::RfmTable;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::datasource::source_as_provider;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::TryStreamExt;

/// Every clv scalar, aggregate and window function name.
static CLV_FUNCTIONS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    clv_core::registry::functions()
        .iter()
        .filter(|f| f.kind() != clv_core::FunctionKind::Table)
        .map(|f| f.name().to_string())
        .collect()
});

/// The clv functions `plan` calls, including those an [`RfmTable`] scan plans on the scheduler.
pub fn clv_calls(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && source_as_provider(&scan.source).is_ok_and(|p| p.is::<RfmTable>())
        {
            calls.extend(["rfm_score", "rfm_cell", "rfm_segment"].map(String::from));
        }
        node.apply_expressions(|e| {
            e.apply(|e| {
                let name = match e {
                    Expr::ScalarFunction(f) => f.name(),
                    Expr::AggregateFunction(f) => f.func.name(),
                    Expr::WindowFunction(f) => f.fun.name(),
                    _ => return Ok(TreeNodeRecursion::Continue),
                };
                if CLV_FUNCTIONS.contains(name) {
                    calls.insert(name.to_string());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    calls
}

/// The function a Ballista "... is not provided for <kind> function NAME" message names.
fn named_function(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("is not provided for ")?;
    let (_, rest) = rest.split_once("function ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Puts a clear first line on a cluster error caused by a node without clv, for a query that
/// calls the clv functions `calls`; other errors pass unchanged.
pub fn explain(e: DataFusionError, calls: &BTreeSet<String>) -> DataFusionError {
    let text = e.to_string();
    let functions = match named_function(&text) {
        Some(name) if CLV_FUNCTIONS.contains(name) => name.to_string(),
        Some(_) => return e,
        None if calls.is_empty() => return e,
        None => calls.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
    };
    let (problem, fix, config) = if text.contains("LogicalExtensionCodec is not provided") {
        (
            "the Ballista scheduler does not have",
            "start it with clv-scheduler",
            "scheduler_config",
        )
    } else if text.contains("PhysicalExtensionCodec is not provided") {
        (
            "a Ballista executor does not have",
            "start every executor with clv-executor",
            "executor_config",
        )
    } else if text.contains("rejected by executor") {
        (
            "a Ballista executor rejected this query, which calls",
            "an executor without clv does that; start every executor with clv-executor",
            "executor_config",
        )
    } else {
        return e;
    };
    let plural = if functions.contains(',') { "s" } else { "" };
    let explanation = format!(
        "{problem} the clv function{plural} {functions}: {fix} (or install clv_ballista::{config} in your own \
         binary), from the same clv version as this client ({}); see docs/distributed.md",
        env!("CARGO_PKG_VERSION")
    );
    // A usage error (the cluster was started without clv), with Ballista's error as its cause.
    let typed = clv_core::ClvError::usage(explanation.clone()).caused_by(e);
    DataFusionError::Context(explanation, Box::new(typed.into()))
}

/// Ballista's query planner with [`explain`]ed errors.
#[derive(Debug)]
pub struct ClvQueryPlanner {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
}

impl ClvQueryPlanner {
    /// Wraps the planner of a Ballista session.
    pub fn new(inner: Arc<dyn QueryPlanner + Send + Sync>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl QueryPlanner for ClvQueryPlanner {
    async fn create_physical_plan(&self, plan: &LogicalPlan, session: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        let calls = Arc::new(clv_calls(plan));
        let inner = (self.inner.create_physical_plan(plan, session).await).map_err(|e| explain(e, &calls))?;
        Ok(Arc::new(ExplainErrorsExec { inner, calls }))
    }
}

/// Runs `inner` (the distributed query) and [`explain`]s its errors.
#[derive(Debug)]
struct ExplainErrorsExec {
    inner: Arc<dyn ExecutionPlan>,
    calls: Arc<BTreeSet<String>>,
}

impl DisplayAs for ExplainErrorsExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ExplainErrorsExec")
    }
}

impl ExecutionPlan for ExplainErrorsExec {
    fn name(&self) -> &str {
        "ExplainErrorsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.inner]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([inner]) => Ok(Arc::new(Self {
                inner,
                calls: Arc::clone(&self.calls),
            })),
            Err(_) => internal_err!("ExplainErrorsExec has one child"),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let calls = Arc::clone(&self.calls);
        let stream = self.inner.execute(partition, context).map_err(|e| explain(e, &calls))?;
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.inner.schema(),
            stream.map_err(move |e| explain(e, &calls)),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_node_and_the_functions() {
        let calls: BTreeSet<String> = ["rfm_score", "rfm_segment"].map(String::from).into();
        let e = |s: &str, calls: &BTreeSet<String>| explain(DataFusionError::Execution(s.into()), calls).to_string();
        let scheduler = e(
            "Fail to execute query due to FailedJob { error: \"Could not parse plan: \
             NotImplemented(\\\"LogicalExtensionCodec is not provided for scalar function rfm_segment\\\")\" }",
            &calls,
        );
        assert!(scheduler.starts_with("the Ballista scheduler does not have the clv function rfm_segment: start it"));
        assert!(scheduler.contains("caused by") && scheduler.contains("for scalar function rfm_segment"));
        let executor = e(
            "Job x failed: PhysicalExtensionCodec is not provided for aggregate function bgnbd_fit",
            &calls,
        );
        assert!(executor.starts_with("a Ballista executor does not have the clv function bgnbd_fit: start every"));
        let pushed = e(
            "Job x failed: task could not be prepared or was rejected by executor",
            &calls,
        );
        assert!(pushed.starts_with(
            "a Ballista executor rejected this query, which calls the clv functions rfm_score, rfm_segment: an executor without clv"
        ));
        // Not about clv: unchanged.
        let none = BTreeSet::new();
        let other = "Job x failed: PhysicalExtensionCodec is not provided for scalar function my_udf";
        assert_eq!(e(other, &calls), format!("Execution error: {other}"));
        let rejected = "Job x failed: task could not be prepared or was rejected by executor";
        assert_eq!(e(rejected, &none), format!("Execution error: {rejected}"));
        assert_eq!(
            e("Job x failed: disk full", &calls),
            "Execution error: Job x failed: disk full"
        );
    }
}
