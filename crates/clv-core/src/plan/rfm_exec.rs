//! The fused `rfm()` operator: per-customer aggregation, scoring and segments in one operator.
//!
//! The ordinary plan ([`super::rfm::rfm_plan`]) is a hash aggregate with five accumulators,
//! a repartition between its partial and final phases, three window functions that each sort
//! or buffer the customer table, and projections. [`RfmExec`] computes the same rows in two
//! steps:
//!
//! 1. it reads the prepared transactions (the data policies stay ordinary DataFusion filters
//!    and projections, so pushdown into the Parquet scan is unchanged), one task per input
//!    partition, each folding its rows into customer totals in one pass
//!    ([`CustomerAggregator`]: direct-address tables for dense integer ids, an arena hash for
//!    strings, dictionary values resolved once per batch); the largest partition's totals
//!    then absorb the others';
//! 2. it fits the cut points of the three dimensions by selection (no sort, except for
//!    `ntile`, which ranks), then emits the output in batches, scoring and labelling each
//!    customer from its totals (segment labels and cell codes come from a table of at most
//!    1,000 score cells).
//!
//! Nothing between the two steps is materialised but the totals (40 bytes per customer per
//! partition until they are merged) and,
//! for `ntile`, one score byte per customer and dimension. The results equal the ordinary
//! plan's exactly: the same exact Decimal128 sums, the same casts (through arrow's kernels),
//! the same scoring kernels; `tests/rfm_fused.rs` compares the two on every option. The
//! operator is used by `rfm()` when `clv.rfm.fused` is on (the default) and the options allow
//! it ([`fused_rfm_supported`]); Ballista sessions turn it off, so clusters keep partial
//! aggregates on the executors.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::common::runtime::SpawnedTask;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::{StreamExt, TryStreamExt};

use super::rfm::{RfmFunctions, RfmSpecs, resolve_specs, rfm_plan};
use super::transactions::columns::{AMOUNT, CUSTOMER, DAY, PURCHASE, TIME};
use super::transactions::{check_contract, exact_amount_type, prepare};
use crate::config::{ClvOptions, Collapse, Monetary};
use crate::rfm::customers::{CustomerAggregator, CustomerTotals, is_supported_id_type};
use crate::rfm::{CutPoints, ScoreMethod, ScoreSpec, cell_code, score_population};

/// Whether `rfm()` over `source` with options `o` can use the fused operator: it is on, orders
/// are rows (no order column, no collapse) and the customer id type is supported.
pub fn fused_rfm_supported(source: &LogicalPlan, o: &ClvOptions) -> Result<bool> {
    if !o.rfm_fused || o.order_column.is_some() || o.collapse.is_some_and(|c| c != Collapse::None) {
        return Ok(false);
    }
    Ok(is_supported_id_type(&check_contract(source.schema(), o)?.customer))
}

/// What the operator computes, resolved at planning time.
#[derive(Debug)]
struct FusedRfm {
    specs: RfmSpecs,
    as_of: Option<i32>,
    monetary: Monetary,
    /// The `rfm()` schema (all columns), as the ordinary plan has it.
    schema: SchemaRef,
    id_type: DataType,
    time_type: DataType,
    amount_type: DataType,
}

/// `rfm()` as a table whose scan is an [`RfmExec`] over the prepared transactions.
#[derive(Debug)]
pub struct FusedRfmTable {
    prepared: LogicalPlan,
    fused: Arc<FusedRfm>,
}

impl FusedRfmTable {
    /// The fused `rfm()` of `source` (check [`fused_rfm_supported`] first).
    pub fn try_new(source: LogicalPlan, o: &ClvOptions, fns: &RfmFunctions) -> Result<Self> {
        let types = check_contract(source.schema(), o)?;
        let schema = Arc::new(rfm_plan(source.clone(), o, fns)?.schema().as_arrow().clone());
        let specs = resolve_specs(o, &fns.schemes())?;
        Ok(Self {
            prepared: prepare(source, o)?,
            fused: Arc::new(FusedRfm {
                specs,
                as_of: o.as_of,
                monetary: o.rfm_monetary,
                schema,
                id_type: types.customer,
                time_type: types.time,
                amount_type: exact_amount_type(&types.amount),
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
        let input = state.create_physical_plan(&self.prepared).await?;
        Ok(Arc::new(RfmExec::try_new(
            input,
            Arc::clone(&self.fused),
            projection.cloned(),
        )?))
    }
}

/// The fused RFM operator; see the module documentation.
#[derive(Debug)]
pub struct RfmExec {
    input: Arc<dyn ExecutionPlan>,
    fused: Arc<FusedRfm>,
    projection: Option<Vec<usize>>,
    cache: Arc<PlanProperties>,
}

impl RfmExec {
    fn try_new(input: Arc<dyn ExecutionPlan>, fused: Arc<FusedRfm>, projection: Option<Vec<usize>>) -> Result<Self> {
        let schema = match &projection {
            Some(p) => Arc::new(fused.schema.project(p)?),
            None => Arc::clone(&fused.schema),
        };
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Ok(Self {
            input,
            fused,
            projection,
            cache,
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
        if partition != 0 {
            return internal_err!("RfmExec has one output partition, asked for {partition}");
        }
        // One task per input partition folds its rows into its own totals (the decoding,
        // policies and aggregation run on every core); the totals are merged at the end.
        let partitions = self.input.properties().output_partitioning().partition_count();
        let mut tasks = vec![];
        for p in 0..partitions {
            let input = self.input.execute(p, Arc::clone(&context))?;
            let reservation = MemoryConsumer::new(format!("RfmExec[{p}]")).register(context.memory_pool());
            let fused = Arc::clone(&self.fused);
            tasks.push(SpawnedTask::spawn(async move { aggregate(input, &fused, reservation).await }));
        }
        let (fused, projection) = (Arc::clone(&self.fused), self.projection.clone());
        let batch_size = context.session_config().batch_size();
        let batches = futures::stream::once(async move {
            let mut parts = vec![];
            for task in tasks {
                parts.push(
                    task.join_unwind()
                        .await
                        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??,
                );
            }
            // The largest absorbs the others (a stable sort: ties keep partition order).
            parts.sort_by_key(|(agg, _)| std::cmp::Reverse(agg.keys.len()));
            let mut parts = parts.into_iter();
            let (mut into, kept) = match parts.next() {
                Some(part) => part,
                None => (
                    CustomerAggregator::new(&fused.id_type)?,
                    MemoryConsumer::new("RfmExec").register(context.memory_pool()),
                ),
            };
            for (other, released) in parts {
                into.merge(other)?;
                drop(released);
                kept.try_resize(into.memory_size())?;
            }
            let merged = (into, kept);
            let output = Output::new(merged, fused, projection, batch_size)?;
            Ok::<_, datafusion::error::DataFusionError>(futures::stream::iter(output))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), batches)))
    }
}

/// Step 1: the rows of one input partition into customer totals.
async fn aggregate(
    mut input: SendableRecordBatchStream,
    fused: &FusedRfm,
    reservation: MemoryReservation,
) -> Result<(CustomerAggregator, MemoryReservation)> {
    let mut agg = CustomerAggregator::new(&fused.id_type)?;
    let schema = input.schema();
    let column = |name: &str| schema.index_of(name);
    let (c, t, d, a, p) = (
        column(CUSTOMER)?,
        column(TIME)?,
        column(DAY)?,
        column(AMOUNT)?,
        column(PURCHASE)?,
    );
    while let Some(batch) = input.next().await {
        let batch = batch?;
        let time = cast(batch.column(t), &DataType::Int64)?;
        let amount = batch.column(a);
        if amount.data_type() != &fused.amount_type {
            return internal_err!("RfmExec: amounts of type {}", amount.data_type());
        }
        agg.update(
            batch.column(c),
            time.as_primitive::<Int64Type>(),
            batch.column(d).as_primitive::<Int32Type>(),
            amount.as_primitive(),
            batch.column(p).as_boolean(),
        )?;
        reservation.try_resize(agg.memory_size())?;
    }
    Ok((agg, reservation))
}

/// The per-customer values of a run of customers, computed from their totals exactly as the
/// ordinary plan computes them.
struct Values {
    first: ArrayRef,
    last: ArrayRef,
    recency_days: Vec<i64>,
    tenure_days: Vec<i64>,
    frequency: Vec<i64>,
    monetary: Vec<f64>,
}

impl FusedRfm {
    fn values(&self, totals: &[CustomerTotals], slots: &[u32], as_of: i64) -> Result<Values> {
        let pick = |f: fn(&CustomerTotals) -> i64| -> Int64Array {
            Int64Array::from_iter_values(slots.iter().map(|s| f(&totals[*s as usize])))
        };
        let first = cast(&pick(|c| c.first), &self.time_type)?;
        let last = cast(&pick(|c| c.last), &self.time_type)?;
        let day = |times: &ArrayRef| -> Result<Vec<i64>> {
            let days = cast(times, &DataType::Date32)?;
            Ok(days
                .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                .values()
                .iter()
                .map(|d| as_of - i64::from(*d))
                .collect())
        };
        let DataType::Decimal128(precision, scale) = self.amount_type else {
            return internal_err!("RfmExec: amount type {}", self.amount_type);
        };
        let sums = Decimal128Array::from_iter_values(slots.iter().map(|s| totals[*s as usize].sum()))
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
            tenure_days: day(&first)?,
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

/// Step 2: the output batches, computed lazily from the totals.
struct Output {
    agg: CustomerAggregator,
    _reservation: MemoryReservation,
    fused: Arc<FusedRfm>,
    projection: Option<Vec<usize>>,
    /// Customers with a purchase, in output order.
    live: Vec<u32>,
    as_of: i64,
    scorers: [Scorer; 3],
    /// Cell code and segment of each score cell seen so far, at `(r·11 + f)·11 + m`.
    cells: Vec<Option<(String, Option<String>)>>,
    next: usize,
    batch_size: usize,
}

impl Output {
    fn new(
        (agg, reservation): (CustomerAggregator, MemoryReservation),
        fused: Arc<FusedRfm>,
        projection: Option<Vec<usize>>,
        batch_size: usize,
    ) -> Result<Self> {
        let with_purchase: Vec<u32> = (0..agg.totals.len() as u32)
            .filter(|s| agg.totals[*s as usize].purchases > 0)
            .collect();
        // Dense integer ids come out in id order at no cost; other ids in first-seen order.
        let live = agg.keys.key_order_if_free(&with_purchase).unwrap_or(with_purchase);
        // The default as-of date is the day after the last kept row of any customer.
        let as_of = match fused.as_of {
            Some(d) => i64::from(d),
            None => agg.totals.iter().map(|c| i64::from(c.last_day)).max().unwrap_or(0) + 1,
        };
        let specs = &fused.specs;
        let mut scorers = vec![];
        for (k, spec) in [&specs.r, &specs.f, &specs.m].into_iter().enumerate() {
            scorers.push(scorer(&agg, &fused, &live, as_of, spec, k)?);
        }
        let Ok(scorers) = <[Scorer; 3]>::try_from(scorers) else {
            return internal_err!("three scorers");
        };
        Ok(Self {
            agg,
            _reservation: reservation,
            fused,
            projection,
            live,
            as_of,
            scorers,
            cells: vec![None; 11 * 11 * 11],
            next: 0,
            batch_size: batch_size.max(1),
        })
    }

    fn batch(&mut self, slots: &[u32]) -> Result<RecordBatch> {
        let v = self.fused.values(&self.agg.totals, slots, self.as_of)?;
        let n = slots.len();
        let (mut r, mut f, mut m) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let mut cell = StringBuilder::with_capacity(n, n * 3);
        let mut segment = StringBuilder::with_capacity(n, n * 16);
        for (i, slot) in slots.iter().enumerate() {
            let scores = (
                self.scorers[0].score(*slot, v.recency_days[i] as f64),
                self.scorers[1].score(*slot, v.frequency[i] as f64),
                self.scorers[2].score(*slot, v.monetary[i]),
            );
            let at = ((scores.0 * 11 + scores.1) * 11 + scores.2) as usize;
            let Some(entry) = self.cells.get_mut(at) else {
                return internal_err!("RfmExec: scores {scores:?} outside 1..10");
            };
            if entry.is_none() {
                let label = match &self.fused.specs.scheme {
                    Some(s) => Some(
                        s.assign(i64::from(scores.0), i64::from(scores.1), i64::from(scores.2))?
                            .to_string(),
                    ),
                    None => None,
                };
                *entry = Some((cell_code(scores.0 as u8, scores.1 as u8, scores.2 as u8), label));
            }
            let Some((code, label)) = entry.as_ref() else {
                return internal_err!("RfmExec: cell cache");
            };
            cell.append_value(code);
            segment.append_option(label.as_deref());
            r.push(scores.0);
            f.push(scores.1);
            m.push(scores.2);
        }
        let total: Vec<i32> = (0..n).map(|i| r[i] + f[i] + m[i]).collect();
        let columns: Vec<ArrayRef> = vec![
            self.agg.keys.ids(slots)?,
            Arc::new(Int64Array::from(v.recency_days)),
            Arc::new(Int64Array::from(v.frequency)),
            Arc::new(Float64Array::from(v.monetary)),
            Arc::new(Int32Array::from(r)),
            Arc::new(Int32Array::from(f)),
            Arc::new(Int32Array::from(m)),
            Arc::new(cell.finish()),
            Arc::new(Int32Array::from(total)),
            Arc::new(segment.finish()),
            v.first,
            v.last,
            Arc::new(Int64Array::from(v.tenure_days)),
        ];
        let schema = &self.fused.schema;
        let columns = columns
            .into_iter()
            .zip(schema.fields())
            .map(|(c, field)| {
                if c.data_type() == field.data_type() {
                    Ok(c)
                } else {
                    Ok(cast(&c, field.data_type())?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(schema), columns)?;
        Ok(match &self.projection {
            Some(p) => batch.project(p)?,
            None => batch,
        })
    }
}

impl Iterator for Output {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.live.len() {
            return None;
        }
        let end = (self.next + self.batch_size).min(self.live.len());
        let slots = self.live[self.next..end].to_vec();
        self.next = end;
        Some(self.batch(&slots))
    }
}

/// The scorer of dimension `k` (0 = recency, 1 = frequency, 2 = monetary) over the `live`
/// customers.
fn scorer(
    agg: &CustomerAggregator,
    fused: &FusedRfm,
    live: &[u32],
    as_of: i64,
    spec: &ScoreSpec,
    k: usize,
) -> Result<Scorer> {
    let values_of = |slots: &[u32]| -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(slots.len());
        for chunk in slots.chunks(CHUNK) {
            let v = fused.values(&agg.totals, chunk, as_of)?;
            match k {
                0 => out.extend(v.recency_days.iter().map(|d| *d as f64)),
                1 => out.extend(v.frequency.iter().map(|n| *n as f64)),
                _ => out.extend(v.monetary),
            }
        }
        Ok(out)
    };
    if spec.method != ScoreMethod::Ntile {
        return Ok(Scorer::Cuts(CutPoints::fit(spec, &values_of(live)?)?));
    }
    // ntile ranks customers; equal values keep customer-id order (as ORDER BY customer_id).
    let ordered = agg.keys.key_order(live);
    let values: Vec<Option<f64>> = values_of(&ordered)?.into_iter().map(Some).collect();
    let mut by_slot = vec![0u8; agg.totals.len()];
    for (slot, score) in ordered.iter().zip(score_population(spec, &values)?) {
        by_slot[*slot as usize] = score.unwrap_or(0);
    }
    Ok(Scorer::Ranked(by_slot))
}
