//! `tracking_expected(model, t, calibration_end_day, end_day, period_days)`: the expected side
//! of `clv_tracking` (internal).
//!
//! An aggregate over the customers of a calibration summary: `t` is each customer's age at the
//! calibration end in the model's time unit, so their first purchase was on day
//! `calibration_end_day − round(t · days per unit)`. Periods are `period_days` long and end on
//! the days `calibration_end_day + j · period_days` (`j ≤ 0` the calibration, `j ≥ 1` the
//! holdout); the first is the one holding the earliest first purchase, the last ends at
//! `end_day` (and may be shorter). For each period it returns the model's expected repeat
//! transactions of these customers, `C(end) − C(start)` with `C(τ) = Σ_i E[X(τ − f_i)]` the
//! unconditional expectation of a customer since their first purchase
//! ([`crate::ltv::tracking::expected_tracking`]), and the cumulative sum from the first period:
//! a list of `(period, start_day, end_day, expected, expected_cumulative)` rows, `period` being
//! `j` and a period covering the days `start_day + 1 ..= end_day`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;

use super::ltv_args::{list_of_rows, list_type};
use super::model_arg::{check_model_type, read_models};
use crate::common::doc::{INTERNAL, doc};
use crate::ltv::TimeUnit;
use crate::ltv::tracking::{PeriodGrid, TrackingPeriod, expected_tracking};

const NAME: &str = "tracking_expected";

/// The `tracking_expected` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TrackingExpected {
    signature: Signature,
}

impl Default for TrackingExpected {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDAF: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| Arc::new(AggregateUDF::from(TrackingExpected::default())));

/// The shared `tracking_expected` UDAF.
pub fn tracking_expected_udaf() -> Arc<AggregateUDF> {
    Arc::clone(&UDAF)
}

/// The fields of a period row.
pub fn period_fields() -> Fields {
    vec![
        Field::new("period", DataType::Int64, false),
        Field::new("start_day", DataType::Int64, false),
        Field::new("end_day", DataType::Int64, false),
        Field::new("expected", DataType::Float64, false),
        Field::new("expected_cumulative", DataType::Float64, false),
    ]
    .into()
}

impl AggregateUDFImpl for TrackingExpected {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 5 {
            return plan_err!("{NAME} takes (model, t, calibration_end_day, end_day, period_days)");
        }
        check_model_type(NAME, &arg_types[0])?;
        Ok(vec![
            arg_types[0].clone(),
            DataType::Float64,
            DataType::Int64,
            DataType::Int64,
            DataType::Int64,
        ])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(list_type(&period_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "model"),
                args.input_fields[0].data_type().clone(),
                true,
            )),
            Arc::new(Field::new(format_state_name(args.name, "t"), list.clone(), true)),
            Arc::new(Field::new(format_state_name(args.name, "w"), list, true)),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let constant = |i: usize, what: &str| -> Result<i64> {
            match args.exprs[i].downcast_ref::<Literal>().map(|l| l.value()) {
                Some(ScalarValue::Int64(Some(v))) => Ok(*v),
                _ => plan_err!("{NAME}: {what} must be a constant whole number of days"),
            }
        };
        let cut = constant(2, "calibration_end_day")?;
        let end = constant(3, "end_day")?;
        let length = constant(4, "period_days")?;
        if length < 1 || end < cut {
            return plan_err!("{NAME}: period_days must be >= 1 and end_day >= calibration_end_day");
        }
        Ok(Box::new(TrackingAccumulator {
            model_type: args.expr_fields[0].data_type().clone(),
            cut,
            end,
            length,
            model: None,
            ages: std::collections::HashMap::new(),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                INTERNAL,
                "The expected side of clv_tracking: a fitted model's expected repeat transactions of a population per period.",
                "tracking_expected(model, t, calibration_end_day, end_day, period_days)",
                &[],
            )
        });
        Some(&DOC)
    }
}

#[derive(Debug)]
struct TrackingAccumulator {
    model_type: DataType,
    cut: i64,
    end: i64,
    length: i64,
    /// The model struct (one row), when a row has been seen.
    model: Option<ScalarValue>,
    /// Customers by the bits of their age `t`.
    ages: std::collections::HashMap<u64, f64>,
}

impl TrackingAccumulator {
    fn keep_model(&mut self, models: &ArrayRef, row: usize) -> Result<()> {
        if models.is_null(row) {
            return Ok(());
        }
        let m = ScalarValue::try_from_array(models, row)?;
        match &self.model {
            None => self.model = Some(m),
            Some(kept) if *kept != m => {
                return exec_err!("{NAME}: every row must carry the same model");
            }
            Some(_) => {}
        }
        Ok(())
    }
}

fn periods(
    model: &dyn crate::ltv::TransactionModel,
    first: &[f64],
    weights: &[f64],
    cut: i64,
    end: i64,
    length: i64,
) -> Result<Vec<Vec<ScalarValue>>> {
    let e = |e: crate::ltv::ModelError| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"));
    let earliest = first.iter().copied().fold(f64::INFINITY, f64::min) as i64;
    // The first period ends at the first boundary cut + j·L at or after the earliest first
    // purchase: j_min = ceil((earliest − cut)/L).
    let j_min = (earliest - cut).div_euclid(length) + i64::from((earliest - cut).rem_euclid(length) != 0);
    let origin = cut + (j_min - 1) * length;
    let full = ((end - origin) / length) as usize;
    let mut rows: Vec<TrackingPeriod> = vec![];
    if full > 0 {
        let grid = PeriodGrid {
            origin: origin as f64,
            length: length as f64,
            unit: TimeUnit::Day,
            periods: full,
        };
        rows = expected_tracking(model, first, Some(weights), &grid).map_err(e)?;
    }
    let last_end = origin + full as i64 * length;
    if last_end < end {
        // The last, shorter period up to the end day.
        let grid = PeriodGrid {
            origin: last_end as f64,
            length: (end - last_end) as f64,
            unit: TimeUnit::Day,
            periods: 1,
        };
        let tail = expected_tracking(model, first, Some(weights), &grid).map_err(e)?;
        let before = rows.last().map_or(0.0, |r| r.expected_cumulative);
        rows.push(TrackingPeriod {
            period: full,
            start: tail[0].start,
            end: tail[0].end,
            expected: tail[0].expected,
            expected_cumulative: before + tail[0].expected_cumulative,
        });
    }
    Ok(rows
        .iter()
        .map(|r| {
            vec![
                ScalarValue::Int64(Some(j_min + r.period as i64)),
                ScalarValue::Int64(Some(r.start as i64)),
                ScalarValue::Int64(Some(r.end as i64)),
                ScalarValue::from(r.expected),
                ScalarValue::from(r.expected_cumulative),
            ]
        })
        .collect())
}

impl Accumulator for TrackingAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let t = values[1].as_primitive::<Float64Type>();
        for i in 0..t.len() {
            if t.is_null(i) || values[0].is_null(i) {
                continue;
            }
            if self.model.is_none() {
                self.keep_model(&values[0], i)?;
            }
            *self.ages.entry((t.value(i) + 0.0).to_bits()).or_insert(0.0) += 1.0;
        }
        if !values[0].is_empty() {
            let last = values[0].len() - 1;
            self.keep_model(&values[0], last)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(ScalarValue::Struct(m)) = &self.model else {
            return exec_err!("{NAME}: no customers");
        };
        let models = read_models(NAME, m.as_ref())?;
        let Some(model) = models.iter().next().flatten().and_then(|m| m.transaction_model()) else {
            let names =
                crate::ltv::registry::names_phrase(crate::ltv::registry::models_with(crate::ltv::Role::Transactions));
            return crate::model_err!("{NAME}: needs {names} model");
        };
        let days = model.time_unit().days();
        let mut ages: Vec<(u64, f64)> = self.ages.iter().map(|(k, w)| (*k, *w)).collect();
        ages.sort_by(|a, b| f64::from_bits(a.0).total_cmp(&f64::from_bits(b.0)));
        // Days of first purchase: the calibration end less the age (whole days).
        let first: Vec<f64> = ages
            .iter()
            .map(|(t, _)| self.cut as f64 - (f64::from_bits(*t) * days).round())
            .collect();
        let weights: Vec<f64> = ages.iter().map(|a| a.1).collect();
        let rows = periods(model, &first, &weights, self.cut, self.end, self.length)?;
        list_of_rows(&period_fields(), rows)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.ages.capacity() * 24
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut ages: Vec<(u64, f64)> = self.ages.iter().map(|(k, w)| (*k, *w)).collect();
        ages.sort_by_key(|a| a.0);
        let list = |v: Vec<f64>| {
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                v.into_iter().map(Some),
            )])))
        };
        let model = match &self.model {
            Some(m) => m.clone(),
            None => ScalarValue::try_from(&self.model_type)?,
        };
        Ok(vec![
            model,
            list(ages.iter().map(|a| f64::from_bits(a.0)).collect()),
            list(ages.iter().map(|a| a.1).collect()),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (t, w) = (states[1].as_list::<i32>(), states[2].as_list::<i32>());
        for row in 0..states[0].len() {
            self.keep_model(&states[0], row)?;
            if t.is_null(row) {
                continue;
            }
            let (tv, wv) = (t.value(row), w.value(row));
            let (tv, wv) = (tv.as_primitive::<Float64Type>(), wv.as_primitive::<Float64Type>());
            for i in 0..tv.len() {
                *self.ages.entry((tv.value(i) + 0.0).to_bits()).or_insert(0.0) += wv.value(i);
            }
        }
        Ok(())
    }
}
