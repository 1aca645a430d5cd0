//! `churn_metrics(score, churned)`: how well any score (higher = more likely to churn) predicts
//! churn labels, in one struct: `customers`, `churned`, `churn_rate`, `probability` (every score
//! in [0, 1]), `auc`, `brier`, `log_loss` and `max_decile_gap` (the last three for probability
//! scores only, else NULL), `lift_10`, `gain_10`, `lift_20`, `gain_20` (the top 10 % and 20 % of
//! the ranking) and `deciles`, a list of `{decile, customers, mean_score, observed_churn}`
//! (decile 10 = the highest scores). Definitions, including how tied scores are shared across
//! deciles: [`crate::churn::metrics`].
//!
//! Like `churn_auc` (whose partial state it shares: the count of churned and retained customers
//! per distinct score), the result does not depend on row order or partitioning. Rows where
//! either argument is NULL are ignored (censored `churn_labels` rows have a NULL label); no rows
//! give NULL; a NaN or infinite score is an error.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use super::churn_auc::{AucAccumulator, ChurnAuc, score_counts_state_fields};
use crate::churn::{ChurnMetrics, churn_metrics};
use crate::common::doc::{AGGREGATE, doc};

/// The `churn_metrics` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnMetricsFunction {
    signature: Signature,
}

impl Default for ChurnMetricsFunction {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDAF: LazyLock<Arc<AggregateUDF>> =
    LazyLock::new(|| Arc::new(AggregateUDF::from(ChurnMetricsFunction::default())));

/// The shared `churn_metrics` UDAF.
pub fn churn_metrics_udaf() -> Arc<AggregateUDF> {
    Arc::clone(&UDAF)
}

/// The fields of one decile.
pub fn decile_fields() -> Fields {
    Fields::from(vec![
        Field::new("decile", DataType::Int32, false),
        Field::new("customers", DataType::Int64, false),
        Field::new("mean_score", DataType::Float64, false),
        Field::new("observed_churn", DataType::Float64, false),
    ])
}

/// The names of the result's numeric fields after `probability`, in order.
pub const METRIC_FIELDS: [&str; 8] = [
    "auc",
    "brier",
    "log_loss",
    "max_decile_gap",
    "lift_10",
    "gain_10",
    "lift_20",
    "gain_20",
];

/// The fields of the result struct.
pub fn metrics_fields() -> Fields {
    let mut f = vec![
        Field::new("customers", DataType::Int64, false),
        Field::new("churned", DataType::Int64, false),
        Field::new("churn_rate", DataType::Float64, false),
        Field::new("probability", DataType::Boolean, false),
    ];
    f.extend(METRIC_FIELDS.iter().map(|n| Field::new(*n, DataType::Float64, true)));
    f.push(Field::new(
        "deciles",
        DataType::List(Arc::new(Field::new_list_field(DataType::Struct(decile_fields()), true))),
        false,
    ));
    Fields::from(f)
}

/// The metrics as the one-row struct `churn_metrics` returns.
pub fn metrics_struct(m: &ChurnMetrics) -> Result<StructArray> {
    let d = &m.deciles;
    let deciles = StructArray::try_new(
        decile_fields(),
        vec![
            Arc::new(Int32Array::from_iter_values(d.iter().map(|d| d.decile as i32))),
            Arc::new(Int64Array::from_iter_values(d.iter().map(|d| d.customers as i64))),
            Arc::new(Float64Array::from_iter_values(d.iter().map(|d| d.mean_score))),
            Arc::new(Float64Array::from_iter_values(d.iter().map(|d| d.observed_churn))),
        ],
        None,
    )?;
    let list = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Struct(decile_fields()), true)),
        OffsetBuffer::from_lengths([d.len()]),
        Arc::new(deciles),
        None,
    )?;
    let one = |v: Option<f64>| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![m.customers as i64])),
        Arc::new(Int64Array::from(vec![m.churned as i64])),
        one(Some(m.churn_rate)),
        Arc::new(BooleanArray::from(vec![m.probability])),
    ];
    columns.extend(
        [
            m.auc,
            m.brier,
            m.log_loss,
            m.max_decile_gap,
            m.lift_10,
            m.gain_10,
            m.lift_20,
            m.gain_20,
        ]
        .map(one),
    );
    columns.push(Arc::new(list));
    Ok(StructArray::try_new(metrics_fields(), columns, None)?)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        AGGREGATE,
        "How well any churn score predicts the labels, in one struct: customers, churned, churn_rate, AUC, Brier score, log loss and the largest decile gap (probabilities only), lift and gain at the top 10 % and 20 %, and the ten calibration deciles (tied scores shared across deciles); exact whatever the partitioning.",
        "churn_metrics(score, churned)",
        &[
            ("score", "the churn score, higher = more likely to churn"),
            (
                "churned",
                "the observed label (boolean); rows with a NULL argument are ignored",
            ),
        ],
    )
});

impl AggregateUDFImpl for ChurnMetricsFunction {
    fn name(&self) -> &str {
        "churn_metrics"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        ChurnAuc::default().coerce_types(arg_types).map_err(renamed)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(metrics_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        score_counts_state_fields(args)
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<MetricsAccumulator>::default())
    }
}

/// An error of the shared `churn_auc` code, naming `churn_metrics`.
fn renamed(e: DataFusionError) -> DataFusionError {
    match e {
        DataFusionError::Plan(m) => DataFusionError::Plan(m.replace("churn_auc", "churn_metrics")),
        DataFusionError::Execution(m) => DataFusionError::Execution(m.replace("churn_auc", "churn_metrics")),
        other => other,
    }
}

#[derive(Debug, Default)]
struct MetricsAccumulator {
    counts: AucAccumulator,
}

impl Accumulator for MetricsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.counts.update_batch(values).map_err(renamed)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match churn_metrics(&self.counts.counts) {
            None => Ok(ScalarValue::try_from(DataType::Struct(metrics_fields()))?),
            Some(m) => Ok(ScalarValue::Struct(Arc::new(metrics_struct(&m)?))),
        }
    }

    fn size(&self) -> usize {
        self.counts.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.counts.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.counts.merge_batch(states)
    }
}
