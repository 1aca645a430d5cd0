//! Reading a fitted model from a struct argument: the result of a `*_fit` aggregate, or any
//! struct with the same fields (`named_struct('model', 'bg_nbd', 'r', 0.24, 'alpha', 4.41,
//! 'a', 0.79, 'b', 2.43, 'time_unit', 'week')`). Only `model`, the parameters and `time_unit`
//! (for the continuous-time models; default week) are read.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, internal_err, plan_err};
use datafusion::logical_expr::ColumnarValue;

use crate::ltv::{FittedModel, MODELS, TimeUnit};

/// A fitted model of any kind in the registry.
pub type Fitted = dyn FittedModel;

/// Checks that a model argument is a struct with a `model` field.
pub fn check_model_type(function: &str, t: &DataType) -> Result<()> {
    match t {
        DataType::Struct(fields) if fields.iter().any(|f| f.name() == "model") => Ok(()),
        DataType::Struct(_) => {
            plan_err!("{function}: the model struct has no 'model' field; pass the result of a *_fit aggregate")
        }
        other => plan_err!("{function}: model must be the struct returned by a *_fit aggregate, got {other}"),
    }
}

/// The models of a batch's rows, stored as runs of consecutive rows that share one model: a
/// literal struct, a scalar subquery or a one-row fit joined in is one run, and no model is
/// cloned per row (two partitions cloning one `Arc` per row contend for its counter).
#[derive(Default)]
pub struct ModelRows {
    runs: Vec<(Option<Arc<Fitted>>, usize)>,
}

impl ModelRows {
    /// Appends `rows` rows of `model` (`None`: null rows).
    fn push(&mut self, model: Option<Arc<Fitted>>, rows: usize) {
        if let Some((last, n)) = self.runs.last_mut() {
            let same = match (&*last, &model) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            };
            if same {
                *n += rows;
                return;
            }
        }
        self.runs.push((model, rows));
    }

    /// Appends a row of `model`, cloning it only when it starts a run.
    fn push_shared(&mut self, model: &Arc<Fitted>) {
        match self.runs.last_mut() {
            Some((Some(last), n)) if Arc::ptr_eq(last, model) => *n += 1,
            _ => self.runs.push((Some(Arc::clone(model)), 1)),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|(_, n)| n).sum()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One model per row (`None` for a null row).
    pub fn iter(&self) -> impl Iterator<Item = Option<&Fitted>> + '_ {
        self.runs
            .iter()
            .flat_map(|(m, n)| std::iter::repeat_n(m.as_deref(), *n))
    }

    /// The models of the runs, in row order (a model shared by two runs is listed twice).
    pub fn models(&self) -> impl Iterator<Item = &Fitted> + '_ {
        self.runs.iter().filter_map(|(m, _)| m.as_deref())
    }

    /// The model of every one of the first `rows` rows, when they all have the same one.
    pub fn single(&self, rows: usize) -> Option<&Fitted> {
        match self.runs.first() {
            Some((Some(m), n)) if *n >= rows => Some(m.as_ref()),
            _ => None,
        }
    }
}

/// The models of a model argument, one per row of the batch: a scalar (a literal struct or a
/// scalar subquery) is read once, not copied to every row.
pub fn model_rows(function: &str, model: &ColumnarValue, rows: usize) -> Result<ModelRows> {
    match model {
        ColumnarValue::Array(a) => {
            let models = read_models(function, a.as_struct())?;
            if models.len() != rows {
                return internal_err!("{function}: {} model rows for a batch of {rows}", models.len());
            }
            Ok(models)
        }
        ColumnarValue::Scalar(s) => {
            let one = s.to_array_of_size(1)?;
            let m = read_models(function, one.as_struct())?.runs.pop().and_then(|(m, _)| m);
            let mut out = ModelRows::default();
            out.push(m, rows);
            Ok(out)
        }
    }
}

/// Every parameter name of every model in the registry, each once.
fn parameter_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec![];
    for p in MODELS.iter().flat_map(|m| m.params) {
        if !names.contains(p) {
            names.push(p);
        }
    }
    names
}

/// Reads the models of a struct column, one per row (`None` for a null row). A row whose
/// fields equal the previous row's shares its model: a fitted model is usually one row,
/// broadcast or joined in, so the fields are compared, not parsed, on every other row.
pub fn read_models(function: &str, models: &StructArray) -> Result<ModelRows> {
    let field = |name: &str| models.column_by_name(name);
    let Some(kind) = field("model") else {
        return crate::model_err!("{function}: the model struct has no 'model' field");
    };
    let kind = datafusion::arrow::compute::cast(kind, &DataType::Utf8)?;
    let kind = kind.as_string::<i32>();
    let unit = field("time_unit")
        .map(|u| datafusion::arrow::compute::cast(u, &DataType::Utf8))
        .transpose()?;
    let unit = unit.as_ref().map(|u| u.as_string::<i32>());
    // Each parameter column present, cast once per batch.
    let mut columns: Vec<(&'static str, datafusion::arrow::array::ArrayRef)> = vec![];
    for name in parameter_names() {
        if let Some(c) = field(name) {
            columns.push((name, datafusion::arrow::compute::cast(c, &DataType::Float64)?));
        }
    }
    let columns: Vec<(&'static str, &datafusion::arrow::array::Float64Array)> = columns
        .iter()
        .map(|(n, c)| (*n, c.as_primitive::<Float64Type>()))
        .collect();
    let text_equal = |a: &datafusion::arrow::array::StringArray, i: usize, j: usize| {
        a.is_valid(i) == a.is_valid(j) && (a.is_null(i) || a.value(i) == a.value(j))
    };
    let same_fields = |i: usize, j: usize| {
        text_equal(kind, i, j)
            && unit.is_none_or(|u| text_equal(u, i, j))
            && columns
                .iter()
                .all(|(_, c)| c.is_valid(i) == c.is_valid(j) && c.value(i).to_bits() == c.value(j).to_bits())
    };
    let mut out = ModelRows::default();
    let mut previous: Option<(usize, Arc<Fitted>)> = None;
    for row in 0..models.len() {
        if models.is_null(row) || kind.is_null(row) {
            out.push(None, 1);
            continue;
        }
        if let Some((at, m)) = &previous
            && same_fields(*at, row)
        {
            out.push_shared(m);
            continue;
        }
        let name = kind.value(row);
        let Some(spec) = crate::ltv::registry::model(name) else {
            return crate::model_err!("{function}: unknown model '{name}'");
        };
        let mut p = Vec::with_capacity(spec.params.len());
        for n in spec.params {
            let Some((_, c)) = columns.iter().find(|(c, _)| c == n) else {
                return crate::model_err!("{function}: the {name} model struct has no '{n}' field");
            };
            if c.is_null(row) {
                return crate::model_err!("{function}: parameter '{n}' of the {name} model is null");
            }
            p.push(c.value(row));
        }
        let time_unit = match unit {
            Some(u) if u.is_valid(row) => crate::config::parse_time_unit(u.value(row))?,
            _ => TimeUnit::Week,
        };
        let model: Arc<Fitted> = spec
            .from_params(&p, time_unit)
            .map_err(|e| -> datafusion::error::DataFusionError {
                crate::error::ClvError::from_model(function, &e, |_| String::new()).into()
            })?
            .into();
        previous = Some((row, Arc::clone(&model)));
        out.push(Some(model), 1);
    }
    Ok(out)
}
