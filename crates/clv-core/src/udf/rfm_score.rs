//! `rfm_score(value, bins [, direction [, method [, thresholds]]]) OVER (...)`: scores 1..bins.
//!
//! A window function: each window partition is one population (`PARTITION BY country` scores
//! each country on its own). Higher scores are always better: pass `'lower'` as the direction
//! for recency in days. `method` is `quantile` (default, or the session's `clv.rfm.method`),
//! `ntile`, `fixed` (then `thresholds` is a text list such as `'30,90,180,365'`), `mean` or
//! `median`. Null values get a null score; NaN or infinite values are an error. Under `ntile`,
//! equal values are split in the window's `ORDER BY` order, so `ntile` needs an `ORDER BY` that
//! makes the order unique (`OVER (ORDER BY customer_id)`): without one the split of ties would
//! depend on the row order and partitioning of the input, and the call is refused at planning.
//! See [`crate::rfm::score`].

use std::sync::{Arc, LazyLock};

use crate::common::constant::constant;
use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowFunctionSimplification, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, Expr, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl, lit,
};
use datafusion::physical_plan::PhysicalExpr;

use crate::common::doc::{WINDOW, doc};
use crate::config::ClvOptions;
use crate::rfm::{Direction, ScoreMethod, ScoreSpec, score_population};

/// The `rfm_score` window function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmScore {
    signature: Signature,
}

impl Default for RfmScore {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDWF: LazyLock<Arc<WindowUDF>> = LazyLock::new(|| Arc::new(WindowUDF::from(RfmScore::default())));

/// The shared `rfm_score` UDWF.
pub fn rfm_score_udwf() -> Arc<WindowUDF> {
    Arc::clone(&UDWF)
}

fn literal(e: &Arc<dyn PhysicalExpr>, what: &str) -> Result<ScalarValue> {
    match constant(e) {
        Some(value) => Ok(value),
        None => plan_err!("rfm_score: {what} must be a constant, not a column or expression"),
    }
}

fn text(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

/// Builds the scoring spec from the constant arguments after the value.
pub fn spec_from_args(bins: &ScalarValue, rest: &[ScalarValue]) -> Result<ScoreSpec> {
    let bins = match bins {
        ScalarValue::Int64(Some(b)) if (1..=255).contains(b) => *b as u8,
        other => {
            return plan_err!("rfm_score: bins must be an integer between 2 and 10, got {other}");
        }
    };
    let direction = match rest.first() {
        Some(v) => text(v).map_or(Ok(Direction::Higher), |s| s.parse())?,
        None => Direction::Higher,
    };
    let method = match rest.get(1) {
        Some(v) => text(v).map_or(Ok(ScoreMethod::Quantile), |s| s.parse())?,
        None => ScoreMethod::Quantile,
    };
    let thresholds = match rest.get(2).and_then(text) {
        Some(t) => t
            .split(',')
            .map(|x| {
                x.trim().parse::<f64>().map_err(|_| {
                    datafusion::common::plan_datafusion_err!(
                        "rfm_score: threshold '{x}' is not a number; expected e.g. '30,90,180'"
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
        None => vec![],
    };
    let spec = ScoreSpec {
        bins,
        direction,
        method,
        thresholds,
    };
    spec.validate("rfm_score")?;
    Ok(spec)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        WINDOW,
        "Scores each window partition as its own population, 1..bins, higher is better: quantile (default, or clv.rfm.method) cut points, ntile buckets, fixed thresholds, or a mean or median split (bins = 2). Null values get null scores. ntile splits equal values in the window's ORDER BY order and needs an ORDER BY that makes it unique (e.g. ORDER BY customer_id); without ORDER BY it is refused.",
        "rfm_score(value, bins [, direction [, method [, thresholds]]]) OVER ([PARTITION BY ...] [ORDER BY ...])",
        &[
            ("value", "the numeric value to score"),
            ("bins", "score levels, a constant 2..10"),
            ("direction", "'higher' (default) or 'lower' (recency in days)"),
            (
                "method",
                "quantile, ntile, fixed, mean or median (default clv.rfm.method, else quantile)",
            ),
            (
                "thresholds",
                "method fixed: the cut points as text, e.g. '30,90,180,365'",
            ),
        ],
    )
});

impl WindowUDFImpl for RfmScore {
    fn name(&self) -> &str {
        "rfm_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=5).contains(&arg_types.len()) {
            return plan_err!(
                "rfm_score takes (value, bins [, direction [, method [, thresholds]]]), got {} arguments",
                arg_types.len()
            );
        }
        let value = &arg_types[0];
        if !(value.is_numeric() || value.is_null()) {
            return plan_err!("rfm_score: value must be numeric, got {value}");
        }
        if !(arg_types[1].is_integer() || arg_types[1].is_null()) {
            return plan_err!("rfm_score: bins must be an integer, got {}", arg_types[1]);
        }
        let mut out = vec![DataType::Float64, DataType::Int64];
        for t in &arg_types[2..] {
            if !(matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) || t.is_null()) {
                return plan_err!("rfm_score: direction, method and thresholds must be text, got {t}");
            }
            out.push(DataType::Utf8);
        }
        Ok(out)
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let exprs = args.input_exprs();
        let bins = literal(&exprs[1], "bins")?;
        let rest = exprs[2..]
            .iter()
            .map(|e| literal(e, "direction/method/thresholds"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(RfmScoreEvaluator {
            spec: spec_from_args(&bins, &rest)?,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Int32, true)))
    }

    /// Fills a missing method from the session option `clv.rfm.method`, and refuses `ntile`
    /// in a window without `ORDER BY` (ties would be split in whatever order the rows arrive).
    fn simplify(&self) -> Option<WindowFunctionSimplification> {
        Some(Box::new(|f: WindowFunction, info| {
            let options = ClvOptions::from_session_config(info.config_options())?;
            let mut f = f;
            if let (Some(method), 2 | 3) = (options.rfm_method, f.params.args.len()) {
                if f.params.args.len() == 2 {
                    f.params.args.push(lit("higher"));
                }
                f.params.args.push(lit(method.as_str()));
            }
            let method = match f.params.args.get(3) {
                Some(Expr::Literal(v, _)) => text(v),
                _ => None,
            };
            let is_ntile = matches!(
                method.as_deref().map(str::parse::<ScoreMethod>),
                Some(Ok(ScoreMethod::Ntile))
            );
            if is_ntile && f.params.order_by.is_empty() {
                return plan_err!(
                    "rfm_score: method 'ntile' splits equal values in the window's ORDER BY order, and this \
                     window has none, so the result would depend on the input's row order; write \
                     OVER ([PARTITION BY ...] ORDER BY customer_id) (a unique order), or use method \
                     'quantile', which gives equal values equal scores"
                );
            }
            Ok(Expr::from(f))
        }))
    }
}

#[derive(Debug)]
struct RfmScoreEvaluator {
    spec: ScoreSpec,
}

impl PartitionEvaluator for RfmScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let Some(v) = values[0].as_primitive_opt::<Float64Type>() else {
            return exec_err!(
                "rfm_score: value must be Float64 after coercion, got {}",
                values[0].data_type()
            );
        };
        let v: Vec<Option<f64>> = v.iter().collect();
        debug_assert_eq!(v.len(), num_rows);
        let scores = score_population(&self.spec, &v)?;
        Ok(Arc::new(
            scores.into_iter().map(|s| s.map(i32::from)).collect::<Int32Array>(),
        ))
    }
}
