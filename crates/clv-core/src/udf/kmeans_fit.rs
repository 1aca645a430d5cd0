//! `kmeans_fit(k, x1 [, x2 ...])`: an aggregate that fits k-means clusters on one row per
//! customer, over any numeric feature columns.
//!
//! Each argument after `k` (a constant from 1 to 100) is a feature named after its column. The
//! RFM columns get the default transforms of the kernel ([`crate::ltv::kmeans::Feature::rfm`]):
//! `recency_days` → `log1p`, `frequency` → `ln` (frequency must be ≥ 1), `monetary` →
//! `log1p(max(·, 0))`; any other column is used as it is. Every feature is standardised (mean
//! 0, population standard deviation 1). Seed: the session's `clv.seed` (default 0);
//! 10 k-means++ starts, the lowest inertia kept.
//!
//! The rows reach the kernel sorted by their feature values, so the fit does not depend on
//! partitioning or row order. Rows with a null feature are left out and counted
//! (`skipped_rows`); a value outside its transform's domain is an error naming the feature.
//!
//! Returns a struct: `model` (`'kmeans'`), `k`, `rows`, `skipped_rows`, `inertia`,
//! `iterations`, `converged`, `names` and `names_zh` (each cluster's automatic name, cluster 0
//! the most valuable) and `json` (the fitted model, for `kmeans_assign`).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, ListBuilder, StringArray,
    StringBuilder, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility, lit,
};
use datafusion::physical_expr::expressions::Literal;

use crate::common::doc::{SEGMENTATION, doc};
use crate::config::ClvOptions;
use crate::ltv::kmeans::{Feature, FeatureMatrix, FeatureRole, FeatureTransform, KMeans};

/// Marks the seed argument that `simplify` adds after `k`.
const SEED_PREFIX: &str = "seed=";

/// The `kmeans_fit` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansFit {
    signature: Signature,
}

impl Default for KMeansFit {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The `kmeans_fit` aggregate function.
pub fn kmeans_fit_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(KMeansFit::default()))
}

/// The result struct's fields.
pub fn kmeans_fit_fields() -> Fields {
    let names = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    Fields::from(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("k", DataType::Int64, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("skipped_rows", DataType::Int64, false),
        Field::new("inertia", DataType::Float64, false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("converged", DataType::Boolean, false),
        Field::new("names", names.clone(), false),
        Field::new("names_zh", names, false),
        Field::new("json", DataType::Utf8, false),
    ])
}

/// The feature of a column named `name`: the RFM columns with their default transforms, any
/// other as it is.
pub fn feature_of_column(name: &str) -> Feature {
    let short = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    match short.as_str() {
        "recency_days" => Feature::new(short, FeatureRole::Recency, FeatureTransform::Log1p),
        "frequency" => Feature::new(short, FeatureRole::Frequency, FeatureTransform::Ln),
        "monetary" => Feature::new(short, FeatureRole::Monetary, FeatureTransform::Log1pClamped),
        _ => Feature::new(short, FeatureRole::Other, FeatureTransform::Identity),
    }
}

const USAGE: &str = "kmeans_fit(k, x1 [, x2 ...]): k a constant number of clusters, then numeric feature columns";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SEGMENTATION,
        "Fits k-means on any feature columns, one row per customer: columns named recency_days, frequency and monetary get the default transforms (log1p, ln, log1p of max(x, 0)), every column is standardised; 10 k-means++ starts with the session's seed, the lowest inertia kept; rows sorted by value first, so the result does not depend on partitioning or row order. Returns a struct: model, k, rows, skipped_rows, inertia, iterations, converged, names, names_zh, json.",
        "kmeans_fit(k, x1 [, x2 ...])",
        &[
            ("k", "clusters, a constant 1..100"),
            (
                "x1, x2, ...",
                "the feature columns; rows with a NULL are skipped and counted",
            ),
        ],
    )
});

impl AggregateUDFImpl for KMeansFit {
    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
    fn name(&self) -> &str {
        "kmeans_fit"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 {
            return plan_err!("{USAGE}; got {} arguments", arg_types.len());
        }
        let mut out = vec![DataType::Int64];
        if !arg_types[0].is_integer() {
            return plan_err!("kmeans_fit: k must be an integer constant, got {}", arg_types[0]);
        }
        for (i, t) in arg_types.iter().enumerate().skip(1) {
            match t {
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 if i == 1 => out.push(DataType::Utf8),
                t if t.is_numeric() || t.is_null() => out.push(DataType::Float64),
                t => return plan_err!("kmeans_fit: feature {i} must be numeric, got {t}"),
            }
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(kmeans_fit_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        let features = args.input_fields.len().saturating_sub(2);
        let mut f: Vec<FieldRef> = (0..features)
            .map(|i| {
                Arc::new(Field::new(
                    format_state_name(args.name, &format!("x{i}")),
                    list.clone(),
                    true,
                ))
            })
            .collect();
        f.push(Arc::new(Field::new(
            format_state_name(args.name, "skipped"),
            DataType::Int64,
            true,
        )));
        Ok(f)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let literal = |i: usize| {
            args.exprs
                .get(i)
                .and_then(|e| e.downcast_ref::<Literal>())
                .map(|l| l.value().clone())
        };
        let k = match literal(0) {
            Some(ScalarValue::Int64(Some(k))) if (1..=100).contains(&k) => k as usize,
            other => {
                return plan_err!(
                    "kmeans_fit: k must be a constant between 1 and 100, got {}",
                    other.map_or("an expression".to_string(), |v| v.to_string())
                );
            }
        };
        let seed = match literal(1) {
            Some(ScalarValue::Utf8(Some(text))) => {
                let v = text.strip_prefix(SEED_PREFIX).unwrap_or(&text);
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| datafusion::common::plan_datafusion_err!("kmeans_fit: bad seed '{text}'"))?
            }
            _ => return plan_err!("{USAGE}"),
        };
        let features = args.expr_fields[2..]
            .iter()
            .map(|f| feature_of_column(f.name()))
            .collect::<Vec<_>>();
        if features.is_empty() {
            return plan_err!("{USAGE}");
        }
        Ok(Box::new(KMeansAccumulator {
            k,
            seed,
            features,
            values: vec![],
            skipped: 0,
        }))
    }

    /// Puts the session's seed (`clv.kmeans.seed`) after `k`.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|f: AggregateFunction, info| {
            let mut f = f;
            let has_seed = matches!(
                f.params.args.get(1),
                Some(Expr::Literal(ScalarValue::Utf8(Some(t)), _)) if t.starts_with(SEED_PREFIX)
            );
            if !has_seed {
                let o = ClvOptions::from_session_config(info.config_options());
                f.params.args.insert(1, lit(format!("{SEED_PREFIX}{}", o.seed)));
            }
            Ok(Expr::AggregateFunction(f))
        }))
    }
}

#[derive(Debug)]
struct KMeansAccumulator {
    k: usize,
    seed: u64,
    features: Vec<Feature>,
    /// Row-major values of the rows without nulls.
    values: Vec<f64>,
    skipped: i64,
}

impl KMeansAccumulator {
    fn d(&self) -> usize {
        self.features.len()
    }

    /// The rows sorted by their values (total order), so the fit sees the same rows in the
    /// same order whatever the partitioning.
    fn sorted_columns(&self) -> Vec<Vec<f64>> {
        let d = self.d();
        let mut rows: Vec<&[f64]> = self.values.chunks_exact(d).collect();
        rows.sort_by(|a, b| {
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        (0..d).map(|j| rows.iter().map(|r| r[j]).collect()).collect()
    }
}

fn exec(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("kmeans_fit: {e}"))
}

impl Accumulator for KMeansAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let features: Vec<&Float64Array> = values[2..].iter().map(|v| v.as_primitive::<Float64Type>()).collect();
        for i in 0..values[0].len() {
            if features.iter().any(|f| f.is_null(i)) {
                self.skipped += 1;
                continue;
            }
            self.values.extend(features.iter().map(|f| f.value(i)));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let columns = self.sorted_columns();
        let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let x = FeatureMatrix::from_columns(self.features.clone(), &refs).map_err(exec)?;
        let model = KMeans::new(self.k).seed(self.seed).fit(&x).map_err(exec)?;
        let report = model.report().cloned().ok_or_else(|| exec("no fit report"))?;
        let names = |zh: bool| -> Result<ArrayRef> {
            let mut b = ListBuilder::new(StringBuilder::new());
            for c in model.clusters() {
                b.values().append_value(if zh { &c.name_zh } else { &c.name });
            }
            b.append(true);
            let list: ListArray = b.finish();
            Ok(Arc::new(list))
        };
        let json = serde_json::to_string(&model).map_err(exec)?;
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["kmeans"])),
            Arc::new(Int64Array::from(vec![model.k() as i64])),
            Arc::new(Int64Array::from(vec![report.rows as i64])),
            Arc::new(Int64Array::from(vec![self.skipped])),
            Arc::new(Float64Array::from(vec![report.inertia])),
            Arc::new(Int64Array::from(vec![report.iterations as i64])),
            Arc::new(BooleanArray::from(vec![report.converged])),
            names(false)?,
            names(true)?,
            Arc::new(StringArray::from(vec![json])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            kmeans_fit_fields(),
            arrays,
            None,
        )?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let d = self.d();
        let mut out: Vec<ScalarValue> = (0..d)
            .map(|j| {
                let column = self.values.iter().skip(j).step_by(d).map(|v| Some(*v));
                ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                    column.collect::<Vec<_>>(),
                )])))
            })
            .collect();
        out.push(ScalarValue::Int64(Some(self.skipped)));
        Ok(out)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let d = self.d();
        let lists: Vec<&ListArray> = states[..d].iter().map(|s| s.as_list::<i32>()).collect();
        let skipped = states[d].as_primitive::<Int64Type>();
        for row in 0..states[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            let cols: Vec<ArrayRef> = lists.iter().map(|l| l.value(row)).collect();
            let cols: Vec<&Float64Array> = cols.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
            for i in 0..cols[0].len() {
                self.values.extend(cols.iter().map(|c| c.value(i)));
            }
            if skipped.is_valid(row) {
                self.skipped += skipped.value(row);
            }
        }
        Ok(())
    }
}
