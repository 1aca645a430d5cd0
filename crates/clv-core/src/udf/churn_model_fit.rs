//! `churn_model_fit(churned, feature1, feature2, ... [, 'lambda=0.01'] [, 'max_iterations=100'])`:
//! the trained churn model, L2-regularised logistic regression of the label on standardised
//! features ([`crate::ltv::logistic`]: mean log-loss + (λ/2)·Σβ², intercept not penalised).
//!
//! `churned` is a boolean (true = churned), each feature a number; the features are named after
//! their argument columns (compute them in a subquery and pass columns: the names are how
//! `churn_model_score` checks the order). Rows with a NULL label or feature are left out and
//! counted in `skipped_rows`. Options are trailing texts: `lambda` (≥ 0, default 0.01) and
//! `max_iterations` (default 100).
//!
//! Returns one struct: `model` (`'logistic_regression'`), `lambda`, `intercept` and
//! `se_intercept` (standardised scale), `features` (a list of `{name, coefficient,
//! standard_error, mean, scale, coefficient_original, standard_error_original}`: the
//! coefficients on the standardised and the original scale with their standard errors, and the
//! training mean and standard deviation used to standardise), `log_likelihood`, `iterations`,
//! `converged`, `rows`, `positive_rate`, `skipped_rows` and `json` (the serialized model, which
//! `churn_model_score`, `clv churn` and `FittedLogistic`'s serde read). A fit that does not
//! converge is returned with `converged = false`; no rows give NULL; labels of one class only,
//! and NaN or infinite features, are errors naming the problem.
//!
//! Deterministic: the partial state is the rows themselves, and the fit puts them in a canonical
//! order before any sum, so grouped, partitioned and distributed fits are identical bit for bit.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;

use crate::common::doc::{AGGREGATE, doc};
use crate::ltv::logistic::DEFAULT_LAMBDA;
use crate::ltv::{FittedLogistic, LogisticRegression};

const NAME: &str = "churn_model_fit";
const USAGE: &str = "churn_model_fit(churned, feature1, ... [, 'lambda=0.01'] [, 'max_iterations=100'])";

/// The `churn_model_fit` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnModelFit {
    signature: Signature,
}

impl Default for ChurnModelFit {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDAF: std::sync::LazyLock<Arc<AggregateUDF>> =
    std::sync::LazyLock::new(|| Arc::new(AggregateUDF::from(ChurnModelFit::default())));

/// The shared `churn_model_fit` UDAF.
pub fn churn_model_fit_udaf() -> Arc<AggregateUDF> {
    Arc::clone(&UDAF)
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// The number of feature arguments: the arguments after the label up to the trailing texts.
fn feature_count(arg_types: &[DataType]) -> usize {
    let options = arg_types.iter().rev().take_while(|t| is_text(t)).count();
    arg_types.len().saturating_sub(1 + options)
}

/// The fields of one feature of the result's `features` list.
pub fn model_feature_fields() -> Fields {
    let f = |n: &str, null: bool| Field::new(n, DataType::Float64, null);
    Fields::from(vec![
        Field::new("name", DataType::Utf8, false),
        f("coefficient", false),
        f("standard_error", true),
        f("mean", false),
        f("scale", false),
        f("coefficient_original", false),
        f("standard_error_original", true),
    ])
}

/// The fields of the result struct.
pub fn model_fields() -> Fields {
    let f = |n: &str, null: bool| Field::new(n, DataType::Float64, null);
    Fields::from(vec![
        Field::new("model", DataType::Utf8, false),
        f("lambda", false),
        f("intercept", false),
        f("se_intercept", true),
        Field::new(
            "features",
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(model_feature_fields()),
                true,
            ))),
            false,
        ),
        f("log_likelihood", false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("converged", DataType::Boolean, false),
        Field::new("rows", DataType::Int64, false),
        f("positive_rate", false),
        Field::new("skipped_rows", DataType::Int64, false),
        Field::new("json", DataType::Utf8, false),
    ])
}

/// A fitted model as the one-row struct `churn_model_fit` returns.
pub fn model_struct(model: &FittedLogistic, skipped: i64) -> Result<StructArray> {
    let report = model.fit_report();
    let features = model.features();
    let f64s = |v: Vec<Option<f64>>| Arc::new(Float64Array::from(v)) as ArrayRef;
    let list_values = StructArray::try_new(
        model_feature_fields(),
        vec![
            Arc::new(StringArray::from_iter_values(features.iter().map(|f| f.name.as_str()))),
            f64s(features.iter().map(|f| Some(f.coefficient)).collect()),
            f64s(features.iter().map(|f| f.standard_error).collect()),
            f64s(features.iter().map(|f| Some(f.mean)).collect()),
            f64s(features.iter().map(|f| Some(f.scale)).collect()),
            f64s(features.iter().map(|f| Some(f.coefficient_original)).collect()),
            f64s(features.iter().map(|f| f.standard_error_original).collect()),
        ],
        None,
    )?;
    let list = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Struct(model_feature_fields()), true)),
        OffsetBuffer::from_lengths([features.len()]),
        Arc::new(list_values),
        None,
    )?;
    let json =
        serde_json::to_string(model).map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
    let (intercept, se) = model.intercept();
    Ok(StructArray::try_new(
        model_fields(),
        vec![
            Arc::new(StringArray::from(vec![model.kind().name()])),
            f64s(vec![Some(model.lambda())]),
            f64s(vec![Some(intercept)]),
            f64s(vec![se]),
            Arc::new(list),
            f64s(vec![Some(report.map_or(f64::NAN, |r| r.log_likelihood))]),
            Arc::new(Int64Array::from(vec![report.map_or(0, |r| r.iterations as i64)])),
            Arc::new(BooleanArray::from(vec![report.is_some_and(|r| r.converged)])),
            Arc::new(Int64Array::from(vec![report.map_or(0, |r| r.n_rows as i64)])),
            f64s(vec![Some(report.map_or(f64::NAN, |r| r.positive_rate))]),
            Arc::new(Int64Array::from(vec![skipped])),
            Arc::new(StringArray::from(vec![json])),
        ],
        None,
    )?)
}

/// The options of a call: λ and the iteration cap, from the trailing `'name=value'` texts.
fn options(exprs: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>], first: usize) -> Result<LogisticRegression> {
    let mut fitter = LogisticRegression::new()
        .lambda(DEFAULT_LAMBDA)
        .require_convergence(false);
    for e in &exprs[first..] {
        let text = match e.downcast_ref::<Literal>().map(|l| l.value()) {
            Some(ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)) | ScalarValue::LargeUtf8(Some(t))) => t,
            _ => return plan_err!("{NAME}: options must be constant texts 'name=value'; usage: {USAGE}"),
        };
        let Some((name, value)) = text.split_once('=') else {
            return plan_err!("{NAME}: option '{text}' is not 'name=value'; usage: {USAGE}");
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "lambda" => match value.parse::<f64>() {
                Ok(l) if l.is_finite() && l >= 0.0 => fitter = fitter.lambda(l),
                _ => return plan_err!("{NAME}: lambda must be a number >= 0, got '{value}'"),
            },
            "max_iterations" => match value.parse::<usize>() {
                Ok(n) if n > 0 => fitter = fitter.max_iterations(n),
                _ => return plan_err!("{NAME}: max_iterations must be a whole number > 0, got '{value}'"),
            },
            other => return plan_err!("{NAME}: unknown option '{other}'; the options are lambda and max_iterations"),
        }
    }
    Ok(fitter)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        AGGREGATE,
        "The trained churn model: L2-regularised logistic regression of the label on standardised features (Newton, deterministic whatever the partitioning), with coefficients, standard errors, convergence and its JSON.",
        "churn_model_fit(churned, feature1, feature2, ... [, 'lambda=0.01'] [, 'max_iterations=100'])",
        &[
            ("churned", "the label (boolean)"),
            (
                "feature1, feature2, ...",
                "numeric feature columns, named after their argument columns",
            ),
            (
                "'lambda=...'",
                "the ridge penalty on the standardised coefficients (default 0.01)",
            ),
            ("'max_iterations=...'", "Newton iterations at most (default 100)"),
        ],
    )
});

impl AggregateUDFImpl for ChurnModelFit {
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
        let k = feature_count(arg_types);
        if k == 0 {
            return plan_err!("{NAME} needs a label and at least one feature; usage: {USAGE}");
        }
        if !matches!(arg_types[0], DataType::Boolean | DataType::Null) {
            return plan_err!("{NAME}: churned (argument 1) must be boolean, got {}", arg_types[0]);
        }
        let mut out = vec![DataType::Boolean];
        for (i, t) in arg_types[1..=k].iter().enumerate() {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!(
                    "{NAME}: feature {} (argument {}) must be numeric, got {t}",
                    i + 1,
                    i + 2
                );
            }
            out.push(DataType::Float64);
        }
        out.extend(arg_types[k + 1..].iter().map(|_| DataType::Utf8));
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(model_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args.input_fields.iter().map(|f| f.data_type().clone()).collect();
        let k = feature_count(&types);
        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        let mut fields = vec![Arc::new(Field::new(
            format_state_name(args.name, "churned"),
            list(DataType::Boolean),
            true,
        ))];
        for j in 0..k {
            fields.push(Arc::new(Field::new(
                format_state_name(args.name, &format!("f{j}")),
                list(DataType::Float64),
                true,
            )));
        }
        fields.push(Arc::new(Field::new(
            format_state_name(args.name, "skipped"),
            DataType::Int64,
            true,
        )));
        Ok(fields)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args.expr_fields.iter().map(|f| f.data_type().clone()).collect();
        let k = feature_count(&types);
        let fitter = options(args.exprs, k + 1)?;
        let names = args.expr_fields[1..=k].iter().map(|f| f.name().to_string()).collect();
        Ok(Box::new(FitAccumulator {
            fitter,
            names,
            labels: vec![],
            columns: vec![vec![]; k],
            skipped: 0,
        }))
    }
}

#[derive(Debug)]
struct FitAccumulator {
    fitter: LogisticRegression,
    names: Vec<String>,
    labels: Vec<bool>,
    columns: Vec<Vec<f64>>,
    skipped: i64,
}

impl FitAccumulator {
    fn add(&mut self, label: &BooleanArray, features: &[&Float64Array]) {
        for i in 0..label.len() {
            if label.is_null(i) || features.iter().any(|f| f.is_null(i)) {
                self.skipped += 1;
                continue;
            }
            self.labels.push(label.value(i));
            for (c, f) in self.columns.iter_mut().zip(features) {
                c.push(f.value(i));
            }
        }
    }
}

impl Accumulator for FitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let k = self.columns.len();
        let features: Vec<&Float64Array> = values[1..=k].iter().map(|v| v.as_primitive::<Float64Type>()).collect();
        self.add(values[0].as_boolean(), &features);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.labels.is_empty() {
            return ScalarValue::try_from(DataType::Struct(model_fields()));
        }
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let columns: Vec<&[f64]> = self.columns.iter().map(Vec::as_slice).collect();
        let model = self
            .fitter
            .fit(&names, &columns, &self.labels, None)
            .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}")))?;
        Ok(ScalarValue::Struct(Arc::new(model_struct(&model, self.skipped)?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.labels.capacity()
            + self.columns.iter().map(|c| c.capacity() * 8).sum::<usize>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut out = vec![ScalarValue::List(Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Boolean, true)),
            OffsetBuffer::from_lengths([self.labels.len()]),
            Arc::new(BooleanArray::from(self.labels.clone())),
            None,
        )))];
        for c in &self.columns {
            out.push(ScalarValue::List(Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::Float64, true)),
                OffsetBuffer::from_lengths([c.len()]),
                Arc::new(Float64Array::from(c.clone())),
                None,
            ))));
        }
        out.push(ScalarValue::Int64(Some(self.skipped)));
        Ok(out)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let k = self.columns.len();
        let lists: Vec<&ListArray> = states[..=k].iter().map(|s| s.as_list::<i32>()).collect();
        let skipped = states[k + 1].as_primitive::<Int64Type>();
        for row in 0..states[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            let label = lists[0].value(row);
            let features: Vec<ArrayRef> = lists[1..].iter().map(|l| l.value(row)).collect();
            let features: Vec<&Float64Array> = features.iter().map(|f| f.as_primitive::<Float64Type>()).collect();
            if features.iter().any(|f| f.len() != label.len()) {
                return exec_err!("{NAME}: a partial state has columns of different lengths");
            }
            self.add(label.as_boolean(), &features);
            if skipped.is_valid(row) {
                self.skipped += skipped.value(row);
            }
        }
        Ok(())
    }
}
