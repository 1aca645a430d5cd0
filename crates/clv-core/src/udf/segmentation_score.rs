//! `segmentation_score(segment, outcome)`: how well any grouping separates an outcome; an
//! aggregate over one row per customer (e.g. a hand-written segment column joined with
//! `segment_outcomes`).
//!
//! Returns a struct: `customers`, `segments`, `skipped_rows` (a null segment or outcome: left
//! out and counted), `mean` (ȳ), `eta2` (η² = Σ_g n_g (ȳ_g − ȳ)² / Σ_i (y_i − ȳ)², the share of
//! the outcome's variance between the groups; NULL when the outcome does not vary),
//! `best_segment` (the highest group mean; ties: the first label in text order), `best_mean`
//! and `lift` (`best_mean / mean`, NULL unless the mean is positive). With the outcome
//! `future_revenue` these are `segment_metrics`' `eta2_revenue` and `best_lift`; with
//! `CAST(repurchased AS DOUBLE)`, its `eta2_repurchase`.
//!
//! The rows are kept per group and summed exactly ([`ExactSum`]) at the end, so the result does
//! not depend on partitioning or row order.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use crate::common::doc::{SEGMENTATION, doc};
use crate::rfm::exact_sum::ExactSum;

/// The `segmentation_score` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentationScore {
    signature: Signature,
}

impl Default for SegmentationScore {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The `segmentation_score` aggregate function.
pub fn segmentation_score_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(SegmentationScore::default()))
}

/// The result struct's fields.
pub fn segmentation_score_fields() -> Fields {
    Fields::from(vec![
        Field::new("customers", DataType::Int64, false),
        Field::new("segments", DataType::Int64, false),
        Field::new("skipped_rows", DataType::Int64, false),
        Field::new("mean", DataType::Float64, true),
        Field::new("eta2", DataType::Float64, true),
        Field::new("best_segment", DataType::Utf8, true),
        Field::new("best_mean", DataType::Float64, true),
        Field::new("lift", DataType::Float64, true),
    ])
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SEGMENTATION,
        "Scores any grouping against an outcome: a struct of customers, segments, skipped_rows (a NULL segment or outcome), mean, eta2 (the share of the outcome's variance between segments), best_segment, best_mean and lift (best_mean / mean), summed exactly whatever the partitioning.",
        "segmentation_score(segment, outcome)",
        &[
            ("segment", "the segment column (any type)"),
            (
                "outcome",
                "the outcome per row, e.g. future_revenue or repurchased (numeric or boolean)",
            ),
        ],
    )
});

impl AggregateUDFImpl for SegmentationScore {
    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
    fn name(&self) -> &str {
        "segmentation_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_, y] if y.is_numeric() || y.is_null() || *y == DataType::Boolean => {
                Ok(vec![DataType::Utf8, DataType::Float64])
            }
            [_, y] => plan_err!("segmentation_score: the outcome must be numeric or boolean, got {y}"),
            _ => plan_err!(
                "segmentation_score(segment, outcome) takes 2 arguments, got {}",
                arg_types.len()
            ),
        }
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(segmentation_score_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "segments"),
                list(DataType::Utf8),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                list(DataType::Float64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "skipped"),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<ScoreAccumulator>::default())
    }
}

#[derive(Debug, Default)]
struct ScoreAccumulator {
    groups: BTreeMap<String, Vec<f64>>,
    skipped: i64,
}

impl Accumulator for ScoreAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let segment = values[0].as_string::<i32>();
        let y = values[1].as_primitive::<Float64Type>();
        for i in 0..segment.len() {
            if segment.is_null(i) || y.is_null(i) || !y.value(i).is_finite() {
                self.skipped += 1;
                continue;
            }
            self.groups
                .entry(segment.value(i).to_string())
                .or_default()
                .push(y.value(i));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n: usize = self.groups.values().map(Vec::len).sum();
        let mut total = ExactSum::new();
        let mut means = vec![];
        for (label, v) in &self.groups {
            let mut s = ExactSum::new();
            for y in v {
                s.add(*y);
                total.add(*y);
            }
            means.push((label, v.len() as f64, s.value() / v.len() as f64));
        }
        let mean = (n > 0).then(|| total.value() / n as f64);
        let (mut between, mut within) = (ExactSum::new(), ExactSum::new());
        if let Some(mu) = mean {
            for ((_, v), (_, ng, mg)) in self.groups.iter().zip(&means) {
                between.add(ng * (mg - mu) * (mg - mu));
                for y in v {
                    within.add((y - mg) * (y - mg));
                }
            }
        }
        let ss_total = between.value() + within.value();
        let eta2 = (ss_total > 0.0).then(|| between.value() / ss_total);
        let best = means.iter().fold(None::<&(&String, f64, f64)>, |b, m| match b {
            Some(b) if b.2 >= m.2 => Some(b),
            _ => Some(m),
        });
        let lift = match (best, mean) {
            (Some(b), Some(mu)) if mu > 0.0 => Some(b.2 / mu),
            _ => None,
        };
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![n as i64])),
            Arc::new(Int64Array::from(vec![self.groups.len() as i64])),
            Arc::new(Int64Array::from(vec![self.skipped])),
            Arc::new(Float64Array::from(vec![mean])),
            Arc::new(Float64Array::from(vec![eta2])),
            Arc::new(StringArray::from(vec![best.map(|b| b.0.clone())])),
            Arc::new(Float64Array::from(vec![best.map(|b| b.2)])),
            Arc::new(Float64Array::from(vec![lift])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            segmentation_score_fields(),
            arrays,
            None,
        )?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .groups
                .iter()
                .map(|(k, v)| k.len() + 8 * v.capacity() + 48)
                .sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let labels: Vec<Option<&str>> = self
            .groups
            .iter()
            .flat_map(|(k, v)| std::iter::repeat_n(Some(k.as_str()), v.len()))
            .collect();
        let values: Vec<Option<f64>> = self.groups.values().flatten().map(|v| Some(*v)).collect();
        let labels = StringArray::from(labels);
        Ok(vec![
            ScalarValue::List(Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::Utf8, true)),
                datafusion::arrow::buffer::OffsetBuffer::from_lengths([labels.len()]),
                Arc::new(labels),
                None,
            ))),
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                values,
            )]))),
            ScalarValue::Int64(Some(self.skipped)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (labels, values) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        let skipped = states[2].as_primitive::<Int64Type>();
        for row in 0..labels.len() {
            if labels.is_null(row) {
                continue;
            }
            let l = labels.value(row);
            let l = l.as_string::<i32>();
            let v = values.value(row);
            let v = v.as_primitive::<Float64Type>();
            for i in 0..l.len() {
                self.groups.entry(l.value(i).to_string()).or_default().push(v.value(i));
            }
            if skipped.is_valid(row) {
                self.skipped += skipped.value(row);
            }
        }
        Ok(())
    }
}
