//! `kmeans_assign(model, x1 [, x2 ...])`: the cluster of one customer under a fitted k-means
//! model: the result of `kmeans_fit` (a struct with a `json` field) or the model JSON itself
//! (e.g. `rfm_cluster_profiles`' `json` column).
//!
//! The raw feature values are given in the model's feature order; the model applies its
//! transforms and standardisation and returns the nearest centroid (the first on ties), an
//! `Int32` from 0 (the most valuable cluster). A null feature gives null; a value outside its
//! transform's domain (e.g. frequency 0 under `ln`) or the wrong number of features is an
//! error naming the feature.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Builder, StringArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::common::doc::{SEGMENTATION, doc};
use crate::ltv::kmeans::FittedKMeans;

/// The `kmeans_assign` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KMeansAssign {
    signature: Signature,
}

impl Default for KMeansAssign {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The `kmeans_assign` function.
pub fn kmeans_assign_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(KMeansAssign::default()))
}

/// The model JSON texts of a model argument (struct with `json`, or text).
fn model_json(model: &ArrayRef) -> Result<StringArray> {
    let json = match model.data_type() {
        DataType::Struct(_) => match model.as_struct().column_by_name("json") {
            Some(j) => Arc::clone(j),
            None => return exec_err!("kmeans_assign: the model struct has no 'json' field; pass kmeans_fit(...)"),
        },
        _ => Arc::clone(model),
    };
    let json = datafusion::arrow::compute::cast(&json, &DataType::Utf8)?;
    Ok(json.as_string::<i32>().clone())
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SEGMENTATION,
        "The cluster (Int32) of raw feature values under a k-means model from kmeans_fit (its struct, or its json): the model's transforms and standardisation applied, then the nearest centroid.",
        "kmeans_assign(model, x1 [, x2 ...])",
        &[
            ("model", "the kmeans_fit struct or its json text"),
            ("x1, x2, ...", "the feature values, in the model's order"),
        ],
    )
});

impl ScalarUDFImpl for KMeansAssign {
    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
    fn name(&self) -> &str {
        "kmeans_assign"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 {
            return plan_err!("kmeans_assign(model, x1 [, x2 ...]) needs the model and at least one feature");
        }
        let model = match &arg_types[0] {
            DataType::Struct(f) if f.iter().any(|f| f.name() == "json") => arg_types[0].clone(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
            other => {
                return plan_err!(
                    "kmeans_assign: model must be the result of kmeans_fit or its JSON text, got {other}"
                );
            }
        };
        let mut out = vec![model];
        for (i, t) in arg_types.iter().enumerate().skip(1) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("kmeans_assign: feature {i} must be numeric, got {t}");
            }
            out.push(DataType::Float64);
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let json = model_json(&arrays[0])?;
        let features: Vec<_> = arrays[1..].iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let mut out = Int32Builder::with_capacity(n);
        // The model of the previous row, parsed again only when the text changes.
        let mut model: Option<(String, FittedKMeans)> = None;
        let mut raw = vec![0.0; features.len()];
        for i in 0..n {
            if json.is_null(i) || features.iter().any(|f| f.is_null(i)) {
                out.append_null();
                continue;
            }
            let text = json.value(i);
            if model.as_ref().is_none_or(|(t, _)| t != text) {
                let m: FittedKMeans = serde_json::from_str(text).map_err(|e| {
                    DataFusionError::Execution(format!("kmeans_assign: the model is not a k-means model: {e}"))
                })?;
                model = Some((text.to_string(), m));
            }
            let Some((_, m)) = &model else {
                return exec_err!("kmeans_assign: no model");
            };
            for (r, f) in raw.iter_mut().zip(&features) {
                *r = f.value(i);
            }
            let cluster = m
                .assign(&raw)
                .map_err(|e| DataFusionError::Execution(format!("kmeans_assign: {e}")))?;
            out.append_value(cluster as i32);
        }
        let out: ArrayRef = Arc::new(out.finish());
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(
                &out, 0,
            )?));
        }
        Ok(ColumnarValue::Array(out))
    }
}
