//! The fused `rfm()` operator: per-customer aggregation, scoring and segments in one operator.
//!
//! The ordinary plan ([`super::rfm::rfm_plan`]) is a hash aggregate with five accumulators,
//! a repartition between its partial and final phases, three window functions that each sort
//! or buffer the customer table, and projections. [`RfmExec`] computes the same rows in two
//! steps:
//!
//! 1. it reads the source's customer, time and amount columns as they are (no filter, no
//!    cast in the plan), one task per input partition, each applying the data policies and
//!    the as-of date to its batches where they are, computing each row's day once from any
//!    time type ([`DayNumbers`], local days for zoned timestamps), counting every policy as
//!    `clv_policy_report` does ([`super::rfm_rows`]) and folding the rows kept into customer
//!    totals in one pass ([`CustomerAggregator`]: direct-address tables for dense integer
//!    ids, an arena hash for strings, dictionary values resolved once per batch); the
//!    largest partition's totals then absorb the others';
//! 2. it fits the cut points of the three dimensions by selection (no sort, except for
//!    `ntile`, which ranks), computing the customers' values on every core, then emits the
//!    output in as many partitions as it read, each scoring and labelling its share of the
//!    customers from their totals (segment labels and cell codes are looked up in a table of
//!    the at most 1,000 score cells).
//!
//! Nothing between the two steps is materialised but the totals (32 bytes per customer and
//! input partition until they are merged) and,
//! for `ntile`, one score byte per customer and dimension. The large tables are
//! [`MappedVec`]s, returned to the operating system when the query ends. The results equal the ordinary
//! plan's exactly: the same exact Decimal128 sums, the same days and casts as arrow's kernels,
//! the same scoring kernels; `tests/rfm_fused.rs` compares the two on every option. With
//! `clv.rfm.policy_counts` on (the CLI's `clv rfm`), the same scan also counts duplicate rows
//! and the whole policy report is read from the executed plan ([`policy_report_of`]). The
//! operator is used by `rfm()` when `clv.rfm.fused` is on (the default) and the options allow
//! it ([`fused_rfm_supported`]); Ballista sessions turn it off, so clusters keep partial
//! aggregates on the executors.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, AsArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, internal_err};
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ident};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};

use super::customer_state::{STATE_COLUMNS, StateShape, fold_state_rows};
use super::rfm_rows::{Fingerprints, PartitionRows, RowPolicies, add_row_counts};
use crate::common::dates::{DayNumbers, format_date};
use crate::config::{ClvOptions, Collapse, Monetary};
use crate::plan::report::PolicyReport;
use crate::plan::rfm::{RfmFunctions, RfmSpecs, resolve_specs, rfm_plan};
use crate::plan::transactions::{check_contract, exact_amount_type};
use crate::rfm::customers::{CustomerAggregator, CustomerTotals, is_supported_id_type};
use crate::rfm::mapped::MappedVec;
use crate::rfm::{CutPoints, ScoreMethod, cell_code, score_population};

/// Whether `rfm()` over `source` with options `o` can use the fused operator: it is on, orders
/// are rows (no order column, no collapse), ids are taken as they are (`id_type = auto`) and the
/// customer id type is supported.
pub fn fused_rfm_supported(source: &LogicalPlan, o: &ClvOptions) -> Result<bool> {
    if !o.rfm_fused
        || o.order_column.is_some()
        || o.collapse.is_some_and(|c| c != Collapse::None)
        || o.rfm_lookback_days.is_some()
        || o.id_type != crate::config::IdType::Auto
    {
        return Ok(false);
    }
    Ok(is_supported_id_type(&check_contract(source.schema(), o)?.customer))
}

/// The data-policy report of the fused `rfm()` operator in the executed plan `plan`, counted in
/// the same scan as the scores: `Some` once the operator has run with `clv.rfm.policy_counts`
/// on and `dedupe` off (with `dedupe` on, the operator never sees the duplicates it would
/// count). Equal to `clv_policy_report`'s for the same options.
pub fn policy_report_of(plan: &Arc<dyn ExecutionPlan>) -> Option<PolicyReport> {
    if let Some(exec) = plan.downcast_ref::<RfmExec>() {
        return exec.report.get().cloned();
    }
    plan.children().into_iter().find_map(policy_report_of)
}

/// What the operator computes, resolved at planning time.
#[derive(Debug)]
struct FusedRfm {
    specs: RfmSpecs,
    rows: RowPolicies,
    monetary: Monetary,
    /// Whether the report is complete (duplicates counted, as `clv_policy_report` does).
    report: bool,
    /// The `rfm()` schema (all columns), as the ordinary plan has it.
    schema: SchemaRef,
    id_type: DataType,
    time_type: DataType,
    amount_type: DataType,
    /// The input is a customer state's rows ([`super::customer_state`]), not transactions.
    state_rows: bool,
}

/// `rfm()` as a table whose scan is an [`RfmExec`] over the source's columns.
#[derive(Debug)]
pub struct FusedRfmTable {
    input: LogicalPlan,
    fused: Arc<FusedRfm>,
}

impl FusedRfmTable {
    /// The fused `rfm()` of `source` (check [`fused_rfm_supported`] first).
    pub fn try_new(source: LogicalPlan, o: &ClvOptions, fns: &RfmFunctions) -> Result<Self> {
        let types = check_contract(source.schema(), o)?;
        let schema = Arc::new(rfm_plan(source.clone(), o, fns)?.schema().as_arrow().clone());
        let specs = resolve_specs(o, &fns.schemes())?;
        // Duplicates are counted over every column of the source; otherwise the operator reads
        // the three it needs.
        let fingerprints = o.rfm_policy_counts && !o.dedupe;
        let mut input = LogicalPlanBuilder::from(source);
        if o.dedupe {
            input = input.distinct()?;
        }
        if !fingerprints {
            let mut columns: Vec<&String> = vec![];
            for c in [&o.customer_column, &o.time_column, &o.amount_column] {
                if !columns.contains(&c) {
                    columns.push(c);
                }
            }
            input = input.project(columns.into_iter().map(ident))?;
        }
        let amount_type = exact_amount_type(&types.amount);
        Ok(Self {
            input: input.build()?,
            fused: Arc::new(FusedRfm {
                specs,
                rows: RowPolicies {
                    customer: o.customer_column.clone(),
                    time: o.time_column.clone(),
                    amount: o.amount_column.clone(),
                    time_type: types.time.clone(),
                    exact_amount: amount_type.clone(),
                    as_of: o.as_of,
                    invalid_amounts: o.invalid_amounts,
                    negative_amounts: o.negative_amounts,
                    fingerprints,
                },
                monetary: o.rfm_monetary,
                report: fingerprints,
                schema,
                id_type: types.customer,
                time_type: types.time,
                amount_type,
                state_rows: false,
            }),
        })
    }

    /// The fused `rfm()` of a customer state: `rows` reads the state's rows (shape `shape`);
    /// the scores are those of the transactions the state was built from, under the scoring
    /// options of `o` (its as-of date must not be before the state's last day).
    pub fn from_state(rows: LogicalPlan, shape: &StateShape, o: &ClvOptions, fns: &RfmFunctions) -> Result<Self> {
        use datafusion::common::ScalarValue;
        use datafusion::logical_expr::lit;
        // The schema `rfm()` has over a source of the state's types.
        let typed = |t: &DataType, name: &str| -> Result<Expr> { Ok(lit(ScalarValue::try_from(t)?).alias(name)) };
        let source = LogicalPlanBuilder::empty(false)
            .project(vec![
                typed(&shape.id_type, &o.customer_column)?,
                typed(&shape.time_type, &o.time_column)?,
                typed(&shape.amount_type, &o.amount_column)?,
            ])?
            .build()?;
        let schema = Arc::new(rfm_plan(source, o, fns)?.schema().as_arrow().clone());
        Ok(Self {
            input: rows,
            fused: Arc::new(FusedRfm {
                specs: resolve_specs(o, &fns.schemes())?,
                rows: RowPolicies {
                    customer: STATE_COLUMNS[0].to_string(),
                    time: STATE_COLUMNS[1].to_string(),
                    amount: STATE_COLUMNS[3].to_string(),
                    time_type: shape.time_type.clone(),
                    exact_amount: shape.amount_type.clone(),
                    as_of: o.as_of,
                    invalid_amounts: shape.invalid_amounts,
                    negative_amounts: shape.negative_amounts,
                    fingerprints: false,
                },
                monetary: o.rfm_monetary,
                report: false,
                schema,
                id_type: shape.id_type.clone(),
                time_type: shape.time_type.clone(),
                amount_type: shape.amount_type.clone(),
                state_rows: true,
            }),
        })
    }
}

#[async_trait]
impl TableProvider for FusedRfmTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.fused.schema)
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
        let input = state.create_physical_plan(&self.input).await?;
        Ok(Arc::new(RfmExec::try_new(
            input,
            Arc::clone(&self.fused),
            projection.cloned(),
        )?))
    }
}

/// The aggregation shared by the output partitions: started by the first to execute.
type SharedTotals = Shared<BoxFuture<'static, std::result::Result<Arc<Scored>, Arc<DataFusionError>>>>;

/// The fused RFM operator; see the module documentation.
#[derive(Debug)]
pub struct RfmExec {
    input: Arc<dyn ExecutionPlan>,
    fused: Arc<FusedRfm>,
    projection: Option<Vec<usize>>,
    cache: Arc<PlanProperties>,
    /// The scored customers, once the first output partition has started them.
    scored: Arc<Mutex<Option<SharedTotals>>>,
    /// The policy report, once the rows are aggregated (when it is complete).
    report: Arc<OnceLock<PolicyReport>>,
}

impl RfmExec {
    fn try_new(input: Arc<dyn ExecutionPlan>, fused: Arc<FusedRfm>, projection: Option<Vec<usize>>) -> Result<Self> {
        let schema = match &projection {
            Some(p) => Arc::new(fused.schema.project(p)?),
            None => Arc::clone(&fused.schema),
        };
        // As many output partitions as input ones: each emits a share of the customers.
        let partitions = input.properties().output_partitioning().partition_count().max(1);
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            fused,
            projection,
            cache,
            scored: Arc::new(Mutex::new(None)),
            report: Arc::new(OnceLock::new()),
        })
    }
}

impl DisplayAs for RfmExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let s = &self.fused.specs;
        write!(
            f,
            "RfmExec: r={} f={} m={} bins={}, scheme={}",
            s.r.method,
            s.f.method,
            s.m.method,
            s.r.bins,
            s.scheme.as_ref().map_or("none", |s| s.name())
        )
    }
}

impl ExecutionPlan for RfmExec {
    fn name(&self) -> &str {
        "RfmExec"
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
                Arc::clone(&self.fused),
                self.projection.clone(),
            )?)),
            Err(_) => internal_err!("RfmExec has one child"),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let partitions = self.cache.output_partitioning().partition_count();
        if partition >= partitions {
            return internal_err!("RfmExec has {partitions} output partitions, asked for {partition}");
        }
        let scored = {
            let mut slot = self
                .scored
                .lock()
                .map_err(|_| DataFusionError::Internal("RfmExec lock".into()))?;
            match &*slot {
                Some(shared) => shared.clone(),
                None => {
                    let shared = self.score(&context)?.boxed().shared();
                    *slot = Some(shared.clone());
                    shared
                }
            }
        };
        let (fused, projection) = (Arc::clone(&self.fused), self.projection.clone());
        let batch_size = context.session_config().batch_size().max(1);
        let batches = futures::stream::once(async move {
            let scored = scored.await.map_err(DataFusionError::Shared)?;
            // This partition's share of the customers, in batches.
            let n = scored.live.len();
            let (start, end) = (n * partition / partitions, n * (partition + 1) / partitions);
            let batches = (start..end).step_by(batch_size).map(move |from| {
                let slots = &scored.live[from..(from + batch_size).min(end)];
                scored.batch(&fused, projection.as_deref(), slots)
            });
            Ok::<_, DataFusionError>(futures::stream::iter(batches))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), batches)))
    }
}

impl RfmExec {
    /// Starts the aggregation of every input partition, each in its own task (the decoding,
    /// policies and aggregation run on every core); the future merges their totals and scores
    /// the customers.
    fn score(
        &self,
        context: &Arc<TaskContext>,
    ) -> Result<
        impl std::future::Future<Output = std::result::Result<Arc<Scored>, Arc<DataFusionError>>> + Send + 'static,
    > {
        let mut tasks = vec![];
        for p in 0..self.input.properties().output_partitioning().partition_count() {
            let input = self.input.execute(p, Arc::clone(context))?;
            let reservation = MemoryConsumer::new(format!("RfmExec[{p}]")).register(context.memory_pool());
            let fused = Arc::clone(&self.fused);
            tasks.push(SpawnedTask::spawn(async move {
                aggregate(input, &fused, reservation).await
            }));
        }
        let (fused, pool) = (Arc::clone(&self.fused), Arc::clone(context.memory_pool()));
        let report = Arc::clone(&self.report);
        Ok(async move {
            let mut parts = vec![];
            for task in tasks {
                parts.push(
                    task.join_unwind()
                        .await
                        .map_err(|e| DataFusionError::External(Box::new(e)))??,
                );
            }
            // The duplicates, then the totals: the largest absorbs the others (a stable sort:
            // ties keep partition order).
            let mut counts = PolicyReport::default();
            let mut fingerprints = vec![];
            let mut parts: Vec<(CustomerAggregator, MemoryReservation)> = parts
                .into_iter()
                .map(|(rows, reservation): (PartitionRows, MemoryReservation)| {
                    add_row_counts(&mut counts, &rows.counts);
                    fingerprints.push(rows.fingerprints);
                    (rows.agg, reservation)
                })
                .collect();
            let duplicates = if fused.report {
                Fingerprints::duplicates(fingerprints, crate::ltv::cores())?
            } else {
                drop(fingerprints);
                0
            };
            parts.sort_by_key(|(agg, _)| std::cmp::Reverse(agg.keys.len()));
            let mut parts = parts.into_iter();
            let (mut into, kept) = match parts.next() {
                Some(part) => part,
                None => (
                    CustomerAggregator::new(&fused.id_type)?,
                    MemoryConsumer::new("RfmExec").register(&pool),
                ),
            };
            for (other, released) in parts {
                into.merge(other)?;
                drop(released);
                kept.try_resize(into.memory_size())?;
            }
            let scored = Scored::new(into, kept, &fused)?;
            if fused.report {
                let _ = report.set(scored.report(&fused, counts, duplicates));
            }
            Ok(Arc::new(scored))
        }
        .map_err(Arc::new))
    }
}

/// Step 1: the rows of one input partition into customer totals and policy counts.
async fn aggregate(
    mut input: SendableRecordBatchStream,
    fused: &FusedRfm,
    reservation: MemoryReservation,
) -> Result<(PartitionRows, MemoryReservation)> {
    let mut rows = PartitionRows::new(&fused.rows, &fused.id_type)?;
    while let Some(batch) = input.next().await {
        if fused.state_rows {
            fold_state_rows(&mut rows.agg, &batch?, fused.rows.as_of)?;
        } else {
            rows.add(&batch?, &fused.rows)?;
        }
        reservation.try_resize(rows.memory_size())?;
    }
    Ok((rows, reservation))
}

/// The per-customer values of a run of customers, computed from their totals exactly as the
/// ordinary plan computes them.
struct Values {
    /// With the tenure, only when asked for (the scores do not need them).
    first: Option<ArrayRef>,
    last: ArrayRef,
    recency_days: Vec<i64>,
    tenure_days: Option<Vec<i64>>,
    frequency: Vec<i64>,
    monetary: Vec<f64>,
}

impl FusedRfm {
    fn values(
        &self,
        agg: &CustomerAggregator,
        slots: &[u32],
        as_of: i64,
        with_first: bool,
        days: &mut DayNumbers,
    ) -> Result<Values> {
        let totals = &agg.totals;
        let pick = |f: fn(&CustomerTotals) -> i64| -> Int64Array {
            Int64Array::from_iter_values(slots.iter().map(|s| f(&totals[*s as usize])))
        };
        let first = with_first
            .then(|| cast(&pick(|c| c.first), &self.time_type))
            .transpose()?;
        let last = cast(&pick(|c| c.last), &self.time_type)?;
        let mut buf = vec![];
        let mut day = |times: &ArrayRef| -> Result<Vec<i64>> {
            days.compute(times.as_ref(), &mut buf)?;
            Ok(buf.iter().map(|d| as_of - i64::from(*d)).collect())
        };
        let DataType::Decimal128(precision, scale) = self.amount_type else {
            return internal_err!("RfmExec: amount type {}", self.amount_type);
        };
        let sums = Decimal128Array::from_iter_values(slots.iter().map(|s| agg.sum(*s)))
            .with_precision_and_scale(precision, scale)?;
        let sums = cast(&sums, &DataType::Float64)?;
        let frequency: Vec<i64> = slots.iter().map(|s| i64::from(totals[*s as usize].purchases)).collect();
        let monetary = sums
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .values()
            .iter()
            .zip(&frequency)
            .map(|(total, n)| match self.monetary {
                Monetary::Sum => *total,
                Monetary::Mean => *total / *n as f64,
            })
            .collect();
        Ok(Values {
            recency_days: day(&last)?,
            tenure_days: first.as_ref().map(&mut day).transpose()?,
            first,
            last,
            frequency,
            monetary,
        })
    }
}

/// How one dimension is scored: cut points, or (ntile) each customer's score by slot.
enum Scorer {
    Cuts(CutPoints),
    Ranked(Vec<u8>),
}

impl Scorer {
    fn score(&self, slot: u32, value: f64) -> i32 {
        match self {
            Scorer::Cuts(c) => i32::from(c.score(value)),
            Scorer::Ranked(s) => i32::from(s[slot as usize]),
        }
    }
}

/// Customers per internal chunk when computing values for the cut points.
const CHUNK: usize = 1 << 16;

/// Step 2: the customers with a purchase, their scorers and the labels of every score cell;
/// the output batches are computed from it on demand ([`Scored::batch`]).
struct Scored {
    agg: CustomerAggregator,
    _reservation: MemoryReservation,
    /// Customers with a purchase, in output order.
    live: Vec<u32>,
    as_of: i64,
    scorers: [Scorer; 3],
    /// Cell code and segment of every score cell, at `(r·11 + f)·11 + m`.
    cells: Vec<Option<(String, Option<String>)>>,
    /// The days of the customers' purchase times (the zone's offsets stay known between
    /// output batches).
    days: Mutex<DayNumbers>,
}

impl Scored {
    fn new(mut agg: CustomerAggregator, reservation: MemoryReservation, fused: &FusedRfm) -> Result<Self> {
        agg.keys.seal();
        reservation.try_resize(agg.memory_size())?;
        let with_purchase: Vec<u32> = (0..agg.totals.len() as u32)
            .filter(|s| agg.totals[*s as usize].purchases > 0)
            .collect();
        // Dense integer ids come out in id order at no cost; other ids in first-seen order.
        let (live, in_key_order) = match agg.keys.key_order_if_free(&with_purchase) {
            Some(ordered) => (ordered, true),
            None => (with_purchase, false),
        };
        // The default as-of date is the day after the last kept row of any customer.
        let as_of = match fused.rows.as_of {
            Some(d) => i64::from(d),
            None => agg.totals.iter().map(|c| i64::from(c.last_day)).max().unwrap_or(0) + 1,
        };
        let scorers = scorers(&agg, fused, &live, in_key_order, as_of)?;
        let specs = &fused.specs;
        let mut cells = vec![None; 11 * 11 * 11];
        for r in 1..=i32::from(specs.r.bins) {
            for f in 1..=i32::from(specs.f.bins) {
                for m in 1..=i32::from(specs.m.bins) {
                    let label = match &specs.scheme {
                        Some(s) => Some(s.assign(i64::from(r), i64::from(f), i64::from(m))?.to_string()),
                        None => None,
                    };
                    cells[((r * 11 + f) * 11 + m) as usize] = Some((cell_code(r as u8, f as u8, m as u8), label));
                }
            }
        }
        Ok(Self {
            agg,
            _reservation: reservation,
            live,
            as_of,
            scorers,
            cells,
            days: Mutex::new(DayNumbers::new(&fused.time_type)?),
        })
    }

    /// The policy report of rows counted `counts` with `duplicates` duplicate rows.
    fn report(&self, fused: &FusedRfm, counts: PolicyReport, duplicates: u64) -> PolicyReport {
        let customers = self.live.len() as u64;
        PolicyReport {
            // The default as-of date needs a row used (the report's query gives none without).
            as_of: (fused.rows.as_of.is_some() || counts.rows_used > 0).then(|| format_date(self.as_of as i32)),
            duplicate_rows: duplicates,
            customers,
            customers_without_purchases: self.agg.totals.len() as u64 - customers,
            null_order_id: 0,
            ..counts
        }
    }

    /// The output rows of the customers `slots`: only the columns of `projection` (all when
    /// `None`) are built; a query that selects the plain columns skips the score labels.
    fn batch(&self, fused: &FusedRfm, projection: Option<&[usize]>, slots: &[u32]) -> Result<RecordBatch> {
        let schema = &fused.schema;
        let all: Vec<usize>;
        let wanted = match projection {
            Some(p) => p,
            None => {
                all = (0..schema.fields().len()).collect();
                &all
            }
        };
        // Column numbers as in `RFM_COLUMNS`: 0 customer_id, 1 recency_days, 2 frequency,
        // 3 monetary, 4 r, 5 f, 6 m, 7 rfm_cell, 8 rfm_total, 9 segment, 10 first_purchase,
        // 11 last_purchase, 12 tenure_days.
        let needs = |columns: &[usize]| wanted.iter().any(|i| columns.contains(i));
        let n = slots.len();
        let v = {
            let mut days = self
                .days
                .lock()
                .map_err(|_| DataFusionError::Internal("RfmExec lock".into()))?;
            fused.values(&self.agg, slots, self.as_of, needs(&[10, 12]), &mut days)?
        };
        let mut columns: Vec<Option<ArrayRef>> = vec![None; schema.fields().len()];
        // The scores, and the cell code and segment label only when selected.
        if needs(&[4, 5, 6, 7, 8, 9]) {
            let (mut r, mut f, mut m) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let (cells, segments) = (needs(&[7]), needs(&[9]));
            let builder = |wanted: bool, bytes: usize| {
                if wanted {
                    StringBuilder::with_capacity(n, n * bytes)
                } else {
                    StringBuilder::new()
                }
            };
            let (mut cell, mut segment) = (builder(cells, 3), builder(segments, 12));
            for (i, slot) in slots.iter().enumerate() {
                let scores = (
                    self.scorers[0].score(*slot, v.recency_days[i] as f64),
                    self.scorers[1].score(*slot, v.frequency[i] as f64),
                    self.scorers[2].score(*slot, v.monetary[i]),
                );
                let at = ((scores.0 * 11 + scores.1) * 11 + scores.2) as usize;
                let Some(Some((code, label))) = self.cells.get(at) else {
                    return internal_err!("RfmExec: scores {scores:?} outside the scheme's cells");
                };
                if cells {
                    cell.append_value(code);
                }
                if segments {
                    segment.append_option(label.as_deref());
                }
                r.push(scores.0);
                f.push(scores.1);
                m.push(scores.2);
            }
            let total: Vec<i32> = (0..n).map(|i| r[i] + f[i] + m[i]).collect();
            columns[4] = Some(Arc::new(Int32Array::from(r)));
            columns[5] = Some(Arc::new(Int32Array::from(f)));
            columns[6] = Some(Arc::new(Int32Array::from(m)));
            columns[8] = Some(Arc::new(Int32Array::from(total)));
            if cells {
                columns[7] = Some(Arc::new(cell.finish()));
            }
            if segments {
                columns[9] = Some(Arc::new(segment.finish()));
            }
        }
        if needs(&[0]) {
            columns[0] = Some(self.agg.keys.ids(slots)?);
        }
        columns[1] = Some(Arc::new(Int64Array::from(v.recency_days)));
        columns[2] = Some(Arc::new(Int64Array::from(v.frequency)));
        columns[3] = Some(Arc::new(Float64Array::from(v.monetary)));
        columns[10] = v.first;
        columns[11] = Some(v.last);
        columns[12] = v.tenure_days.map(|d| Arc::new(Int64Array::from(d)) as ArrayRef);
        let columns = wanted
            .iter()
            .map(|&i| {
                let (Some(c), Some(field)) = (columns.get(i).cloned().flatten(), schema.fields().get(i)) else {
                    return internal_err!("RfmExec: output column {i} was not built");
                };
                Ok(if c.data_type() == field.data_type() {
                    c
                } else {
                    cast(&c, field.data_type())?
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = match projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => Arc::clone(schema),
        };
        // The row count is explicit: a projection may keep no column (count(*)).
        let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(schema, columns, &options)?)
    }
}

/// The recency, frequency and monetary values of `slots`, as the score windows see them,
/// computed by as many threads as there are cores for large populations, each writing its
/// share of the three arrays in place.
fn dimension_values(
    agg: &CustomerAggregator,
    fused: &FusedRfm,
    slots: &[u32],
    as_of: i64,
) -> Result<[MappedVec<f64>; 3]> {
    let n = slots.len();
    let mut out: [MappedVec<f64>; 3] = std::array::from_fn(|_| MappedVec::filled(n, 0.0));
    let part = |slots: &[u32], [r, f, m]: [&mut [f64]; 3]| -> Result<()> {
        let mut days = DayNumbers::new(&fused.time_type)?;
        for (k, chunk) in slots.chunks(CHUNK).enumerate() {
            let v = fused.values(agg, chunk, as_of, false, &mut days)?;
            let at = k * CHUNK..k * CHUNK + chunk.len();
            for (o, d) in r[at.clone()].iter_mut().zip(&v.recency_days) {
                *o = *d as f64;
            }
            for (o, x) in f[at.clone()].iter_mut().zip(&v.frequency) {
                *o = *x as f64;
            }
            m[at].copy_from_slice(&v.monetary);
        }
        Ok(())
    };
    let [r, f, m] = &mut out;
    if !on_every_core(n) {
        part(slots, [r, f, m])?;
        return Ok(out);
    }
    // Shares are whole chunks, so every thread's chunks line up with its share of `out`.
    let share = n.div_ceil(crate::ltv::cores()).next_multiple_of(CHUNK);
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = slots
            .chunks(share)
            .zip(r.chunks_mut(share).zip(f.chunks_mut(share)).zip(m.chunks_mut(share)))
            .map(|(s, ((r, f), m))| scope.spawn(move || part(s, [r, f, m])))
            .collect();
        handles.into_iter().map(joined).collect()
    });
    results.into_iter().collect::<Result<()>>()?;
    Ok(out)
}

/// Whether a population of `customers` is spread over the cores (values and cut points).
fn on_every_core(customers: usize) -> bool {
    crate::ltv::cores() >= 2 && customers >= 4 * CHUNK
}

/// The result of a scoped scoring thread; a panic in it becomes an internal error.
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    thread
        .join()
        .unwrap_or_else(|_| internal_err!("RfmExec: a scoring thread panicked"))
}

/// The scorers of recency, frequency and monetary over the `live` customers: cut points fitted
/// on all their values, or (ntile) each one's rank in value order, ties in customer-id order as
/// `ORDER BY customer_id` breaks them.
fn scorers(
    agg: &CustomerAggregator,
    fused: &FusedRfm,
    live: &[u32],
    in_key_order: bool,
    as_of: i64,
) -> Result<[Scorer; 3]> {
    let specs = [&fused.specs.r, &fused.specs.f, &fused.specs.m];
    let values = dimension_values(agg, fused, live, as_of)?;
    let ranked = specs.iter().any(|s| s.method == ScoreMethod::Ntile);
    let ordered = (ranked && !in_key_order).then(|| agg.keys.key_order(live));
    let ordered_values = match &ordered {
        Some(o) => Some(dimension_values(agg, fused, o, as_of)?),
        None => None,
    };
    let scorer = |k: usize| -> Result<Scorer> {
        let spec = specs[k];
        Ok(if spec.method == ScoreMethod::Ntile {
            let (slots, values) = match (&ordered, &ordered_values) {
                (Some(o), Some(v)) => (o.as_slice(), &v[k]),
                _ => (live, &values[k]),
            };
            let values: Vec<Option<f64>> = values.iter().map(|v| Some(*v)).collect();
            let mut by_slot = vec![0u8; agg.totals.len()];
            for (slot, score) in slots.iter().zip(score_population(spec, &values)?) {
                by_slot[*slot as usize] = score.unwrap_or(0);
            }
            Scorer::Ranked(by_slot)
        } else {
            Scorer::Cuts(CutPoints::fit(spec, &values[k])?)
        })
    };
    // The three dimensions are independent: large populations fit them on every core. Ranking
    // (`ntile`) holds a copy of the population per dimension, so it ranks one at a time.
    if !on_every_core(live.len()) || ranked {
        return Ok([scorer(0)?, scorer(1)?, scorer(2)?]);
    }
    let [r, f, m] = std::thread::scope(|scope| [0, 1, 2].map(|k| scope.spawn(move || scorer(k))).map(joined));
    Ok([r?, f?, m?])
}
