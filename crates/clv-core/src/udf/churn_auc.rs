//! `churn_auc(score, churned)`: the area under the ROC curve of a churn score (e.g.
//! `churn_probability`) against observed churn labels; ties count one half.
//!
//! Exact and order-independent: the partial states are counts per distinct score, merged and
//! summed in integers (see [`crate::churn::ScoreCounts::auc`]), so a grouped or distributed
//! AUC equals the single-partition one bit for bit. Rows where either argument is NULL are
//! ignored, like every SQL aggregate (a censored `churn_labels` row has a NULL label). NULL
//! when there are no churned or no retained customers. A NaN or infinite score is an error.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};

use crate::churn::ScoreCounts;
use crate::common::doc::{AGGREGATE, doc};

/// The `churn_auc` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnAuc {
    signature: Signature,
}

impl Default for ChurnAuc {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDAF: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| Arc::new(AggregateUDF::from(ChurnAuc::default())));

/// The shared `churn_auc` UDAF.
pub fn churn_auc_udaf() -> Arc<AggregateUDF> {
    Arc::clone(&UDAF)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        AGGREGATE,
        "The area under the ROC curve of a churn score against observed labels (Mann-Whitney U / (P N), ties count one half), exact whatever the partitioning; NULL without a churned or a retained customer.",
        "churn_auc(score, churned)",
        &[
            ("score", "the churn score, higher = more likely to churn"),
            (
                "churned",
                "the observed label (boolean); rows with a NULL argument are ignored",
            ),
        ],
    )
});

impl AggregateUDFImpl for ChurnAuc {
    fn name(&self) -> &str {
        "churn_auc"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [score, label] = arg_types else {
            return plan_err!("churn_auc takes (score, churned), got {} arguments", arg_types.len());
        };
        if !(score.is_numeric() || score.is_null()) {
            return plan_err!("churn_auc: score must be numeric, got {score}");
        }
        if !matches!(label, DataType::Boolean | DataType::Null) {
            return plan_err!("churn_auc: churned must be boolean, got {label}");
        }
        Ok(vec![DataType::Float64, DataType::Boolean])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        score_counts_state_fields(args)
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<AucAccumulator>::default())
    }
}

/// The partial state of an aggregate over [`ScoreCounts`] (`churn_auc`, `churn_metrics`): the
/// distinct scores with their churned and retained counts.
pub(crate) fn score_counts_state_fields(args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
    let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
    let field = |name: &str, t: DataType| Arc::new(Field::new(format_state_name(args.name, name), list(t), true));
    Ok(vec![
        field("score", DataType::Float64),
        field("churned", DataType::UInt64),
        field("retained", DataType::UInt64),
    ])
}

/// Counts scores per distinct value (the `churn_auc` accumulator; `churn_metrics` reads the
/// same counts).
#[derive(Debug, Default)]
pub(crate) struct AucAccumulator {
    pub(crate) counts: ScoreCounts,
}

impl Accumulator for AucAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let score = values[0].as_primitive::<Float64Type>();
        let churned = values[1].as_boolean();
        for i in 0..score.len() {
            if score.is_null(i) || churned.is_null(i) {
                continue;
            }
            let s = score.value(i);
            if !s.is_finite() {
                return exec_err!("churn_auc: score must be finite, got {s}");
            }
            let c = churned.value(i);
            self.counts.add(s, u64::from(c), u64::from(!c));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.counts.auc()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.sorted().len() * 40
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let sorted = self.counts.sorted();
        let floats = ListArray::from_iter_primitive::<Float64Type, _, _>([Some(sorted.iter().map(|r| Some(r.0)))]);
        let ints = |f: fn(&(f64, u64, u64)) -> u64| {
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<UInt64Type, _, _>([Some(
                sorted.iter().map(|r| Some(f(r))),
            )])))
        };
        Ok(vec![ScalarValue::List(Arc::new(floats)), ints(|r| r.1), ints(|r| r.2)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states.iter().map(|s| s.as_list::<i32>()).collect();
        for row in 0..lists[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            let scores = lists[0].value(row);
            let (churned, retained) = (lists[1].value(row), lists[2].value(row));
            let scores = scores.as_primitive::<Float64Type>();
            let churned: &UInt64Array = churned.as_primitive::<UInt64Type>();
            let retained: &UInt64Array = retained.as_primitive::<UInt64Type>();
            for i in 0..scores.len() {
                self.counts.add(scores.value(i), churned.value(i), retained.value(i));
            }
        }
        Ok(())
    }
}
