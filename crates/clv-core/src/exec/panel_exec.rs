//! The panel operator: one pass over the prepared transactions into a
//! [`PurchasePanel`], from which a [`PanelJob`] computes a small result (segment evaluations,
//! tuning grids, transitions, series, clusters, value concentration).
//!
//! The data policies stay ordinary DataFusion filters and projections over the scan (as for
//! the fused `rfm()` operator, [`super::rfm_exec`]: float amounts under
//! `invalid_amounts = 'exclude'` are checked here in one vectorised pass instead of by a filter
//! that copies every row). Each input partition is folded into a [`PanelBuilder`] by its own
//! task; the builders merge, the panel is laid out in customer-id order, and the job runs on a
//! blocking thread. The operator has one output partition.
//!
//! On a Ballista cluster the table and the operator travel as their [`PanelCall`] (the table
//! function, its options, arguments and registered schemes) next to the source plan: a
//! scheduler or executor rebuilds them with [`PanelTable::from_call`], so the job runs with
//! exactly the client's settings.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int32Type, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, internal_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::rfm_rows::{checked_exact_amounts, valid_amount_rows};
use crate::config::{ClvOptions, Collapse, IdType, InvalidAmounts};
use crate::plan::rfm::RfmFunctions;
use crate::plan::transactions::columns::{AMOUNT, CUSTOMER, DAY, PURCHASE};
use crate::plan::transactions::{Amounts, check_contract, exact_amount_type, prepare_amounts};
use crate::rfm::customers::is_supported_id_type;
use crate::rfm::{SchemeDefinition, SchemeRegistry};
use crate::segment::panel::{OrderCount, PanelBuilder, PurchasePanel};

/// What a panel table computes from the panel.
pub(crate) trait PanelJob: fmt::Debug + Send + Sync + 'static {
    /// The SQL function's name (for plans and messages).
    fn name(&self) -> &'static str;
    /// The result's schema.
    fn schema(&self) -> SchemaRef;
    /// The result (CPU work; runs on a blocking thread).
    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch>;
}

/// How orders are counted under `o`: rows, or days with `collapse = 'day'`. An order column and
/// the week and month grains are planning errors naming `function`.
pub(crate) fn order_count(o: &ClvOptions, function: &str) -> Result<OrderCount> {
    if o.order_column.is_some() {
        return plan_err!(
            "{function} counts orders as rows (or days with collapse = 'day'); order_column is not supported: \
             aggregate the rows to one per order first"
        );
    }
    match o.collapse.unwrap_or(Collapse::None) {
        Collapse::None => Ok(OrderCount::Rows),
        Collapse::Day => Ok(OrderCount::Days),
        other => plan_err!("{function} supports collapse = 'none' or 'day', not '{other}'"),
    }
}

/// The customer id type of the panel of `source` under `o`: the source's, with
/// dictionary-encoded ids decoded, as `id_type` asks (text ids as integers with `integer`,
/// integer ids as text with `string`; the prepared plan converts and checks them).
pub(crate) fn panel_id_type(source: &LogicalPlan, o: &ClvOptions, function: &str) -> Result<DataType> {
    let t = match check_contract(source.schema(), o)?.customer {
        DataType::Dictionary(_, v) => *v,
        t => t,
    };
    let text = matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let t = match o.id_type {
        IdType::String if !text => DataType::Utf8,
        IdType::Integer if text => DataType::Int64,
        _ => t,
    };
    if is_supported_id_type(&t) {
        Ok(t)
    } else {
        plan_err!("{function}: customer id type {t} is not supported")
    }
}

/// A panel table function's call as data: what rebuilds its table and operator on another node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PanelCall {
    /// The table function (`segment_evaluate`, `segment_tune`, `rfm_clusters`, ...).
    pub function: String,
    /// Every `clv.` option as text (`None`: unset).
    pub options: Vec<(String, Option<String>)>,
    /// The function's own arguments (`rfm_transitions`' dates, `segment_tune`'s grid lists).
    pub args: Vec<(String, String)>,
    /// The segment schemes registered beyond the built-in ones.
    pub schemes: Vec<SchemeDefinition>,
}

impl PanelCall {
    /// The call of `function` under `o`, with the schemes `fns` knows.
    pub(crate) fn new(function: &str, o: &ClvOptions, fns: Option<&RfmFunctions>) -> Self {
        Self {
            function: function.to_string(),
            options: o.values().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            args: vec![],
            schemes: fns.map(|f| f.schemes().added()).unwrap_or_default(),
        }
    }

    /// With the argument `key` = `value`.
    pub(crate) fn arg(mut self, key: &str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.args.push((key.to_string(), v.to_string()));
        }
        self
    }

    /// The argument `key`, if given.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether the call may run on a cluster (`clv.cluster.panel`, see its documentation).
    pub fn allowed_on_cluster(&self) -> Result<bool> {
        Ok(self.clv_options()?.cluster_panel)
    }

    fn clv_options(&self) -> Result<ClvOptions> {
        let mut o = ClvOptions::default();
        for (key, value) in &self.options {
            if let Some(value) = value {
                o.set_option(key, value)?;
            }
        }
        Ok(o)
    }

    fn functions(&self) -> Result<RfmFunctions> {
        let schemes = SchemeRegistry::with_added(self.schemes.clone())?;
        Ok(RfmFunctions {
            segment: Arc::new(datafusion::logical_expr::ScalarUDF::from(
                crate::udf::rfm_segment::RfmSegment::new(schemes),
            )),
            ..RfmFunctions::default()
        })
    }
}

/// How the prepared rows reach the operator.
#[derive(Debug)]
struct PanelInput {
    id_type: DataType,
    /// `Decimal128(38, s)`: the exact amount type.
    amount_type: DataType,
    /// The amount column's name, for errors.
    amount_column: String,
    drop_invalid_amounts: bool,
}

/// A table whose scan is a [`PanelExec`] over the prepared transactions of a source.
#[derive(Debug, Clone)]
pub struct PanelTable {
    source: LogicalPlan,
    call: Arc<PanelCall>,
    prepared: LogicalPlan,
    input: Arc<PanelInput>,
    job: Arc<dyn PanelJob>,
}

impl PanelTable {
    /// Rebuilds the table of `call` over `source` (the transactions the client's call read).
    pub fn from_call(source: LogicalPlan, call: &PanelCall) -> Result<Self> {
        use super::{rfm_clusters, segment_eval, segment_moves, value_concentration};
        let o = &call.clv_options()?;
        let fns = &call.functions()?;
        let day = |key: &str| -> Result<i32> {
            match call.get(key).map(str::parse::<i32>) {
                Some(Ok(d)) => Ok(d),
                _ => plan_err!("{}: the call has no day '{key}'", call.function),
            }
        };
        match call.function.as_str() {
            "segment_evaluate" => {
                segment_eval::evaluate_table(source, o, fns, segment_eval::EvaluationOutput::Segments)
            }
            "segment_metrics" => segment_eval::evaluate_table(source, o, fns, segment_eval::EvaluationOutput::Metrics),
            "segment_outcomes" => segment_eval::outcomes_table(source, o),
            "segment_tune" => segment_eval::tune_table(source, o, fns, &segment_eval::GridArgs::from_call(call)),
            "rfm_transitions" => segment_moves::transitions_table(source, o, fns, day("from")?, day("to")?),
            "segment_series" => segment_moves::series_table(source, o, fns),
            "rfm_clusters" => rfm_clusters::clusters_table(source, o, rfm_clusters::ClustersOutput::Customers),
            "rfm_cluster_profiles" => rfm_clusters::clusters_table(source, o, rfm_clusters::ClustersOutput::Profiles),
            "value_concentration" => value_concentration::concentration_table(source, o),
            other => plan_err!("'{other}' is not a purchase-panel table function"),
        }
    }

    /// The call that made this table.
    pub fn call(&self) -> &PanelCall {
        &self.call
    }

    /// The transactions it reads, before the data policies.
    pub fn source(&self) -> &LogicalPlan {
        &self.source
    }

    /// The operator of this table over `input` (the prepared transactions' physical plan).
    pub fn exec(&self, input: Arc<dyn ExecutionPlan>, projection: Option<Vec<usize>>) -> Result<PanelExec> {
        PanelExec::try_new(input, self.clone(), projection)
    }

    /// The panel table of `source` under the data policies of `o`, made by `call`.
    pub(crate) fn try_new(
        source: LogicalPlan,
        call: PanelCall,
        o: &ClvOptions,
        job: Arc<dyn PanelJob>,
    ) -> Result<Self> {
        order_count(o, job.name())?;
        let types = check_contract(source.schema(), o)?;
        let drop_invalid_amounts = o.invalid_amounts == InvalidAmounts::Exclude
            && matches!(types.amount, DataType::Float32 | DataType::Float64);
        let amounts = if drop_invalid_amounts {
            Amounts::Unchecked
        } else {
            Amounts::AsInSource
        };
        // Dictionary-encoded integer ids are decoded to their integers.
        let id_type = panel_id_type(&source, o, job.name())?;
        let customer: Expr = if id_type == types.customer {
            ident(CUSTOMER)
        } else {
            cast(ident(CUSTOMER), id_type.clone()).alias(CUSTOMER)
        };
        let prepared = LogicalPlanBuilder::from(prepare_amounts(source.clone(), o, amounts)?)
            .project(vec![customer, ident(DAY), ident(AMOUNT), ident(PURCHASE)])?
            .build()?;
        Ok(Self {
            source,
            call: Arc::new(call),
            prepared,
            input: Arc::new(PanelInput {
                id_type,
                amount_type: exact_amount_type(&types.amount),
                amount_column: o.amount_column.clone(),
                drop_invalid_amounts,
            }),
            job,
        })
    }
}

#[async_trait]
impl TableProvider for PanelTable {
    fn schema(&self) -> SchemaRef {
        self.job.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = state.create_physical_plan(&self.prepared).await?;
        Ok(Arc::new(self.exec(input, projection.cloned())?))
    }
}

/// The panel operator; see the module documentation.
#[derive(Debug)]
pub struct PanelExec {
    input: Arc<dyn ExecutionPlan>,
    table: PanelTable,
    projection: Option<Vec<usize>>,
    cache: Arc<PlanProperties>,
}

impl PanelExec {
    fn try_new(input: Arc<dyn ExecutionPlan>, table: PanelTable, projection: Option<Vec<usize>>) -> Result<Self> {
        let schema = match &projection {
            Some(p) => Arc::new(table.job.schema().project(p)?),
            None => table.job.schema(),
        };
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            table,
            projection,
            cache,
        })
    }

    /// The table whose operator this is (its call and source).
    pub fn table(&self) -> &PanelTable {
        &self.table
    }

    /// The output columns of the job's result, if not all.
    pub fn projection(&self) -> Option<&[usize]> {
        self.projection.as_deref()
    }
}

impl DisplayAs for PanelExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PanelExec: {}", self.table.job.name())
    }
}

impl ExecutionPlan for PanelExec {
    fn name(&self) -> &str {
        "PanelExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match <[_; 1]>::try_from(children) {
            Ok([input]) => Ok(Arc::new(Self::try_new(
                input,
                self.table.clone(),
                self.projection.clone(),
            )?)),
            Err(_) => internal_err!("PanelExec has one child"),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("PanelExec has one output partition, asked for {partition}");
        }
        let mut tasks = vec![];
        for p in 0..self.input.properties().output_partitioning().partition_count() {
            let stream = self.input.execute(p, Arc::clone(&context))?;
            let input = Arc::clone(&self.table.input);
            let reservation = MemoryConsumer::new(format!("PanelExec[{p}]")).register(context.memory_pool());
            tasks.push(SpawnedTask::spawn(async move {
                let builder = fold(stream, &input).await?;
                reservation.try_resize(builder.memory_size())?;
                Ok::<_, DataFusionError>((builder, reservation))
            }));
        }
        let (input, job, projection) = (
            Arc::clone(&self.table.input),
            Arc::clone(&self.table.job),
            self.projection.clone(),
        );
        let schema = self.schema();
        let result = futures::stream::once(async move {
            let mut parts = vec![];
            for task in tasks {
                parts.push(
                    task.join_unwind()
                        .await
                        .map_err(|e| DataFusionError::External(Box::new(e)))??,
                );
            }
            // The largest absorbs the others (a stable sort: ties keep partition order).
            parts.sort_by_key(|(b, _)| std::cmp::Reverse(b.memory_size()));
            let mut parts = parts.into_iter();
            let (mut panel, kept) = match parts.next() {
                Some(p) => p,
                None => (
                    PanelBuilder::new(&input.id_type)?,
                    MemoryConsumer::new("PanelExec").register(context.memory_pool()),
                ),
            };
            for (other, released) in parts {
                panel.merge(other)?;
                drop(released);
                kept.try_resize(panel.memory_size())?;
            }
            let DataType::Decimal128(_, scale) = input.amount_type else {
                return internal_err!("PanelExec: amount type {}", input.amount_type);
            };
            let batch = SpawnedTask::spawn_blocking(move || {
                let panel = panel.finish(scale)?;
                let _kept = kept;
                job.run(&panel)
            })
            .join_unwind()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
            match projection {
                Some(p) => Ok(batch.project(&p)?),
                None => Ok(batch),
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, result)))
    }
}

/// One input partition's rows into a builder.
async fn fold(mut input: SendableRecordBatchStream, panel: &PanelInput) -> Result<PanelBuilder> {
    let mut builder = PanelBuilder::new(&panel.id_type)?;
    let mut amounts = vec![];
    while let Some(batch) = input.next().await {
        let mut batch = batch?;
        if panel.drop_invalid_amounts {
            batch = valid_amount_rows(batch, 2)?;
        }
        let valid = checked_exact_amounts(batch.column(2), &panel.amount_type, &panel.amount_column, &mut amounts)?;
        builder.update(
            batch.column(0),
            batch.column(1).as_primitive::<Int32Type>(),
            &amounts,
            valid.as_ref(),
            batch.column(3).as_boolean(),
        )?;
    }
    Ok(builder)
}
