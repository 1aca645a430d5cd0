//! `rfm_segment(r, f, m [, scheme])`: the segment name of an (R, F, M) score cell.
//!
//! `scheme` defaults to the session option `clv.rfm.scheme` (`rf_grid`). Built-in schemes:
//! `rf_grid`, `rfm11`, `cn8`, `cn8_en`; more are added with [`crate::register_scheme`].
//! A null score gives a null segment; a score outside the scheme's range is an error that names it.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::common::doc::{SCALAR, doc};
use crate::config::ClvOptions;
use crate::rfm::SchemeRegistry;

/// The `rfm_segment` function, carrying the schemes it knows.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmSegment {
    signature: Signature,
    schemes: SchemeRegistry,
}

impl Default for RfmSegment {
    fn default() -> Self {
        Self::new(SchemeRegistry::default())
    }
}

impl RfmSegment {
    /// `rfm_segment` over the given schemes.
    pub fn new(schemes: SchemeRegistry) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            schemes,
        }
    }

    /// The schemes this instance knows.
    pub fn schemes(&self) -> &SchemeRegistry {
        &self.schemes
    }
}

/// An `rfm_segment` UDF over the built-in schemes.
pub fn rfm_segment_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(RfmSegment::default()))
}

pub(crate) fn coerce_scores(name: &str, arg_types: &[DataType], extra_text: usize) -> Result<Vec<DataType>> {
    let max = 3 + extra_text;
    if !(3..=max).contains(&arg_types.len()) {
        return plan_err!(
            "{name} takes {} arguments, got {}",
            if extra_text > 0 {
                "(r, f, m [, scheme])"
            } else {
                "(r, f, m)"
            },
            arg_types.len()
        );
    }
    let mut out = vec![];
    for (t, arg) in arg_types.iter().zip(["r", "f", "m"]) {
        if !(t.is_integer() || t.is_null()) {
            return plan_err!("{name}: {arg} must be an integer score, got {t}");
        }
        out.push(DataType::Int64);
    }
    for t in &arg_types[3..] {
        if !(matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) || t.is_null()) {
            return plan_err!("{name}: scheme must be text, got {t}");
        }
        out.push(DataType::Utf8);
    }
    Ok(out)
}

/// Maps each (r, f, m) row of the first three arguments to a label: null scores give null, and
/// an all-constant call returns a constant.
pub(crate) fn map_score_cells(
    args: &ScalarFunctionArgs,
    bytes_per_row: usize,
    mut label: impl FnMut(i64, i64, i64) -> Result<String>,
) -> Result<ColumnarValue> {
    let n = args.number_rows;
    let arrays = ColumnarValue::values_to_arrays(&args.args[..3])?;
    let [r, f, m] = [0, 1, 2].map(|i| arrays[i].as_primitive::<Int64Type>());
    let mut out = StringBuilder::with_capacity(n, n * bytes_per_row);
    for i in 0..n {
        if r.is_null(i) || f.is_null(i) || m.is_null(i) {
            out.append_null();
        } else {
            out.append_value(label(r.value(i), f.value(i), m.value(i))?);
        }
    }
    let out = out.finish();
    if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
    }
    Ok(ColumnarValue::Array(Arc::new(out)))
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "The segment of a score cell under a named scheme (default clv.rfm.scheme): rf_grid, rfm11, cn8, cn8_en or a registered one. Null scores give null; a score outside the scheme's range is an error.",
        "rfm_segment(r, f, m [, scheme])",
        &[
            ("r, f, m", "the scores"),
            ("scheme", "the scheme's name (default clv.rfm.scheme, rf_grid)"),
        ],
    )
});

impl ScalarUDFImpl for RfmSegment {
    fn name(&self) -> &str {
        "rfm_segment"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_scores(self.name(), arg_types, 1)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scheme_name = match args.args.get(3) {
            None => ClvOptions::from_session_config(&args.config_options).rfm_scheme,
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(s)))) => s.clone(),
            Some(ColumnarValue::Scalar(_)) => {
                return crate::usage_err!("rfm_segment: scheme must not be null");
            }
            Some(ColumnarValue::Array(_)) => {
                return crate::usage_err!("rfm_segment: scheme must be a constant");
            }
        };
        let scheme = self.schemes.get(&scheme_name)?;
        map_score_cells(&args, 12, |r, f, m| scheme.assign(r, f, m).map(str::to_string))
    }
}
