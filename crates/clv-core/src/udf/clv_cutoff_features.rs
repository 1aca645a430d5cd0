//! `clv_cutoff_features(history, cutoffs, window_days)` (internal): a customer's churn features
//! at several cutoffs from their activity days, the building block of `churn_features`,
//! `churn_risk` and `churn_evaluate`.
//!
//! `history` is a list of `{day: Int32 (days since 1970-01-01), amount: Decimal128, purchase:
//! Boolean}`, one element per distinct day (an `array_agg` of the per-day rows; any order),
//! `cutoffs` a constant text `'YYYY-MM-DD,...'` and `window_days` a constant integer. The result is
//! a list with one struct per cutoff at which the customer has a purchase day on or before it:
//! `cutoff, purchase_days, monetary, first_purchase, last_purchase, recency_days, tenure_days,
//! p30, p90, p180, s30, s90, s180, median_gap, repeat_spend_sum, window_purchases`, the amounts
//! exact in the input's decimal type. Definitions: [`crate::churn::features`].

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Float64Array, Int64Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Fields, Int32Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::churn::features::{ActivityDay, CutoffFeatures, cutoff_features};
use crate::churn::parse_cutoffs;
use crate::common::doc::{INTERNAL, doc};

/// The `clv_cutoff_features` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvCutoffFeatures {
    signature: Signature,
}

impl Default for ClvCutoffFeatures {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(ClvCutoffFeatures::default())));

/// The shared `clv_cutoff_features` UDF.
pub fn clv_cutoff_features_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

const NAME: &str = "clv_cutoff_features";

/// The decimal type of the history's `amount` field.
fn amount_type(history: &DataType) -> Result<DataType> {
    let item = match history {
        DataType::List(f) | DataType::LargeList(f) => f.data_type(),
        other => return plan_err!("{NAME}: history must be a list of structs, got {other}"),
    };
    let DataType::Struct(fields) = item else {
        return plan_err!("{NAME}: history must be a list of structs, got a list of {item}");
    };
    let field = |name: &str, ok: fn(&DataType) -> bool, want: &str| -> Result<DataType> {
        match fields.iter().find(|f| f.name() == name) {
            Some(f) if ok(f.data_type()) => Ok(f.data_type().clone()),
            Some(f) => plan_err!("{NAME}: history field '{name}' must be {want}, got {}", f.data_type()),
            None => plan_err!("{NAME}: history has no field '{name}'"),
        }
    };
    field("day", |t| t == &DataType::Int32, "Int32")?;
    field("purchase", |t| t == &DataType::Boolean, "Boolean")?;
    field(
        "amount",
        |t| matches!(t, DataType::Decimal128(38, _)),
        "Decimal128(38, s)",
    )
}

/// The fields of one result struct.
pub fn cutoff_feature_fields(amount: &DataType) -> Fields {
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    let dec = |n: &str| Field::new(n, amount.clone(), false);
    let date = |n: &str| Field::new(n, DataType::Date32, false);
    Fields::from(vec![
        date("cutoff"),
        int("purchase_days"),
        dec("monetary"),
        date("first_purchase"),
        date("last_purchase"),
        int("recency_days"),
        int("tenure_days"),
        int("p30"),
        int("p90"),
        int("p180"),
        dec("s30"),
        dec("s90"),
        dec("s180"),
        Field::new("median_gap", DataType::Float64, true),
        dec("repeat_spend_sum"),
        int("window_purchases"),
    ])
}

fn constant<'a>(args: &'a ScalarFunctionArgs, i: usize, what: &str) -> Result<&'a ScalarValue> {
    match &args.args[i] {
        ColumnarValue::Scalar(s) if !s.is_null() => Ok(s),
        _ => exec_err!("{NAME}: {what} must be a constant"),
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        INTERNAL,
        "The per-customer kernel of churn_features: from a customer's activity days and constant cutoffs, one struct of activity features per cutoff at which the customer has a purchase.",
        "clv_cutoff_features(history, cutoffs, window_days)",
        &[
            (
                "history",
                "a list of {day, amount, purchase}, one per distinct activity day",
            ),
            ("cutoffs", "constant text 'YYYY-MM-DD,...'"),
            ("window_days", "the churn window in days"),
        ],
    )
});

impl ScalarUDFImpl for ClvCutoffFeatures {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [history, cutoffs, window] = arg_types else {
            return plan_err!(
                "{NAME} takes (history, cutoffs, window_days), got {} arguments",
                arg_types.len()
            );
        };
        amount_type(history)?;
        if !matches!(cutoffs, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) {
            return plan_err!("{NAME}: cutoffs must be text 'YYYY-MM-DD,...', got {cutoffs}");
        }
        if !window.is_integer() {
            return plan_err!("{NAME}: window_days must be an integer, got {window}");
        }
        Ok(vec![history.clone(), DataType::Utf8, DataType::Int64])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let amount = amount_type(&arg_types[0])?;
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Struct(cutoff_feature_fields(&amount)),
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let amount_type = amount_type(args.arg_fields[0].data_type())?;
        let ScalarValue::Utf8(Some(text)) = constant(&args, 1, "cutoffs")? else {
            return exec_err!("{NAME}: cutoffs must be text");
        };
        let cutoffs = parse_cutoffs(text, crate::churn::Period::Month)?;
        let window = match constant(&args, 2, "window_days")? {
            ScalarValue::Int64(Some(w)) if (1..=i64::from(i32::MAX / 2)).contains(w) => *w as i32,
            other => return exec_err!("{NAME}: window_days must be a positive number of days, got {other}"),
        };
        let history = args.args[0].to_array(args.number_rows)?;
        let lists = history.as_list::<i32>();
        let items = lists.values().as_struct();
        let day = items.column_by_name("day").map(|c| c.as_primitive::<Int32Type>());
        let amount = items
            .column_by_name("amount")
            .map(|c| c.as_primitive::<Decimal128Type>());
        let purchase = items.column_by_name("purchase").map(|c| c.as_boolean());
        let (Some(day), Some(amount), Some(purchase)) = (day, amount, purchase) else {
            return exec_err!("{NAME}: history needs the fields day, amount and purchase");
        };
        let mut rows: Vec<CutoffFeatures> = Vec::new();
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0i32);
        let mut days: Vec<ActivityDay> = Vec::new();
        for row in 0..lists.len() {
            if lists.is_valid(row) {
                let (start, end) = (
                    lists.value_offsets()[row] as usize,
                    lists.value_offsets()[row + 1] as usize,
                );
                days.clear();
                for i in start..end {
                    if day.is_null(i) || amount.is_null(i) || purchase.is_null(i) {
                        return exec_err!("{NAME}: history element {} of row {row} has a null field", i - start);
                    }
                    days.push(ActivityDay {
                        day: day.value(i),
                        amount: amount.value(i),
                        purchase: purchase.value(i),
                    });
                }
                days.sort_unstable_by_key(|d| d.day);
                if let Some(w) = days.windows(2).find(|w| w[0].day == w[1].day) {
                    return exec_err!(
                        "{NAME}: history of row {row} has day {} twice; aggregate it to one element per day first",
                        w[0].day
                    );
                }
                rows.extend(cutoff_features(&days, &cutoffs, window));
            }
            let len = i32::try_from(rows.len())
                .map_err(|_| datafusion::error::DataFusionError::Execution(format!("{NAME}: too many rows")))?;
            offsets.push(len);
        }
        let fields = cutoff_feature_fields(&amount_type);
        let DataType::Decimal128(precision, scale) = amount_type else {
            unreachable!("checked by amount_type")
        };
        let dec = |f: &dyn Fn(&CutoffFeatures) -> i128| -> Result<ArrayRef> {
            Ok(Arc::new(
                Decimal128Array::from_iter_values(rows.iter().map(f)).with_precision_and_scale(precision, scale)?,
            ))
        };
        let int = |f: &dyn Fn(&CutoffFeatures) -> i64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
        };
        let date = |f: &dyn Fn(&CutoffFeatures) -> i32| -> ArrayRef {
            Arc::new(Date32Array::from_iter_values(rows.iter().map(f)))
        };
        let columns: Vec<ArrayRef> = vec![
            date(&|r| r.cutoff),
            int(&|r| i64::from(r.purchase_days)),
            dec(&|r| r.monetary)?,
            date(&|r| r.first_purchase),
            date(&|r| r.last_purchase),
            int(&|r| i64::from(r.recency_days())),
            int(&|r| i64::from(r.tenure_days())),
            int(&|r| i64::from(r.purchases[0])),
            int(&|r| i64::from(r.purchases[1])),
            int(&|r| i64::from(r.purchases[2])),
            dec(&|r| r.spend[0])?,
            dec(&|r| r.spend[1])?,
            dec(&|r| r.spend[2])?,
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.median_gap))),
            dec(&|r| r.repeat_spend_sum)?,
            int(&|r| i64::from(r.window_purchases)),
        ];
        let structs = StructArray::try_new(fields.clone(), columns, None)?;
        let nulls = lists.nulls().cloned();
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Struct(fields), true)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(structs),
            nulls,
        )?;
        if matches!(args.args[0], ColumnarValue::Scalar(_)) {
            return Ok(ColumnarValue::Scalar(ScalarValue::List(Arc::new(list))));
        }
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}
