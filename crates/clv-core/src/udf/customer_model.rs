//! `customer_model(fit, purchase, dropout)`: a customer's own BG/NBD or Pareto/NBD model from
//! a covariate fit (`bgnbd_covariates_fit`, `pareto_nbd_covariates_fit`) and their covariates.
//!
//! Returns the model struct the prediction functions read (`model`, the customer's parameters,
//! `time_unit`): `p_alive(customer_model(f, named_struct('web', web), NULL), x, t_x, t)` is the
//! customer's P(alive), and so for `expected_purchases`, `dert`, `clv`. The covariates are
//! matched to the fitted coefficients by name (the struct's field order does not matter); a
//! fitted covariate missing from the struct, or one the fit does not know, is an error. A null
//! covariate value gives a null model.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::covariates_fit::covariate_columns;
use super::ltv_args::{struct_array, transaction_model_fields};
use crate::common::doc::{PREDICTION, doc};
use crate::config::parse_time_unit;
use crate::ltv::covariates::{FittedBgNbdCovariates, FittedParetoNbdCovariates};
use crate::ltv::{BgNbdParams, ModelError, ParetoNbdParams, TimeUnit};

const NAME: &str = "customer_model";

/// The `customer_model` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CustomerModel {
    signature: Signature,
}

impl Default for CustomerModel {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(CustomerModel::default())));

/// The shared `customer_model` UDF.
pub fn customer_model_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

/// A covariate model read from a fit struct.
enum CovariateModel {
    BgNbd(FittedBgNbdCovariates),
    ParetoNbd(FittedParetoNbdCovariates),
}

impl CovariateModel {
    fn names(&self) -> (Vec<String>, Vec<String>) {
        match self {
            CovariateModel::BgNbd(m) => (names_of(m.coefficients(), "alpha"), names_of(m.coefficients(), "a")),
            CovariateModel::ParetoNbd(m) => (names_of(m.coefficients(), "alpha"), names_of(m.coefficients(), "beta")),
        }
    }
}

fn names_of(c: Vec<crate::ltv::covariates::Coefficient>, parameter: &str) -> Vec<String> {
    c.into_iter()
        .filter(|c| c.parameter == parameter)
        .map(|c| c.covariate)
        .collect()
}

/// The covariate model in row `row` of a fit struct column.
fn read_fit(fits: &StructArray, row: usize) -> Result<Option<CovariateModel>> {
    if fits.is_null(row) {
        return Ok(None);
    }
    let (Some(model), Some(coefficients)) = (fits.column_by_name("model"), fits.column_by_name("coefficients")) else {
        return exec_err!("{NAME}: fit must be the struct of bgnbd_covariates_fit or pareto_nbd_covariates_fit");
    };
    let model = model.as_struct();
    let text = |name: &str| -> Result<Option<String>> {
        let Some(c) = model.column_by_name(name) else {
            return Ok(None);
        };
        let c = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
        let c = c.as_string::<i32>();
        Ok(c.is_valid(row).then(|| c.value(row).to_string()))
    };
    let number = |name: &str| -> Result<f64> {
        let c = model
            .column_by_name(name)
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Float64))
            .transpose()?;
        match c {
            Some(c) if c.is_valid(row) => Ok(c.as_primitive::<Float64Type>().value(row)),
            _ => exec_err!("{NAME}: the fit's model has no '{name}'"),
        }
    };
    let unit = text("time_unit")?.map_or(Ok(TimeUnit::Week), |u| parse_time_unit(&u))?;
    let list = coefficients.as_list::<i32>();
    let rows = list.value(row);
    let rows = rows.as_struct();
    let column = |name: &str| rows.column_by_name(name).cloned();
    let (Some(cov), Some(par), Some(est)) = (column("covariate"), column("parameter"), column("estimate")) else {
        return exec_err!("{NAME}: the fit's coefficients need covariate, parameter and estimate");
    };
    let (cov, par) = (
        datafusion::arrow::compute::cast(&cov, &DataType::Utf8)?,
        datafusion::arrow::compute::cast(&par, &DataType::Utf8)?,
    );
    let (cov, par, est) = (
        cov.as_string::<i32>(),
        par.as_string::<i32>(),
        est.as_primitive::<Float64Type>(),
    );
    let block = |parameter: &str| -> (Vec<String>, Vec<f64>) {
        (0..cov.len())
            .filter(|&i| par.value(i) == parameter)
            .map(|i| (cov.value(i).to_string(), est.value(i)))
            .unzip()
    };
    let e = |e: ModelError| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"));
    let purchase = block("alpha");
    Ok(Some(match text("model")?.as_deref() {
        Some("bg_nbd") => {
            let (names, ga) = block("a");
            let (_, gb) = block("b");
            CovariateModel::BgNbd(
                FittedBgNbdCovariates::from_params(
                    BgNbdParams {
                        r: number("r")?,
                        alpha: number("alpha")?,
                        a: number("a")?,
                        b: number("b")?,
                    },
                    purchase,
                    (names, ga, gb),
                    unit,
                )
                .map_err(e)?,
            )
        }
        Some("pareto_nbd") => CovariateModel::ParetoNbd(
            FittedParetoNbdCovariates::from_params(
                ParetoNbdParams {
                    r: number("r")?,
                    alpha: number("alpha")?,
                    s: number("s")?,
                    beta: number("beta")?,
                },
                purchase,
                block("beta"),
                unit,
            )
            .map_err(e)?,
        ),
        other => return exec_err!("{NAME}: fit must come from a covariate fit, got model {other:?}"),
    }))
}

/// The covariates of one struct argument as columns in the order of `names`.
fn by_name(arg: &ArrayRef, names: &[String], what: &str) -> Result<Vec<ArrayRef>> {
    let given: Vec<String> = match arg.data_type() {
        DataType::Struct(f) => f.iter().map(|f| f.name().clone()).collect(),
        _ => vec![],
    };
    let columns = covariate_columns(arg)?;
    if let Some(extra) = given.iter().find(|g| !names.contains(g)) {
        return exec_err!("{NAME}: {what} covariate '{extra}' is not in the fit (it has {names:?})");
    }
    names
        .iter()
        .map(|n| match given.iter().position(|g| g == n) {
            Some(i) => Ok(Arc::clone(&columns[i])),
            None => exec_err!("{NAME}: the fit has {what} covariate '{n}', missing from the struct"),
        })
        .collect()
}

impl ScalarUDFImpl for CustomerModel {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!(
                "{NAME} takes (fit, purchase, dropout), got {} arguments",
                arg_types.len()
            );
        }
        if !matches!(&arg_types[0], DataType::Struct(f) if f.iter().any(|f| f.name() == "coefficients")) {
            return plan_err!("{NAME}: fit must be the struct of bgnbd_covariates_fit or pareto_nbd_covariates_fit");
        }
        for (t, what) in arg_types[1..].iter().zip(["purchase", "dropout"]) {
            if !matches!(t, DataType::Struct(_) | DataType::Null) {
                return plan_err!("{NAME}: {what} must be a struct of covariates (named_struct(...)) or NULL, got {t}");
            }
        }
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(transaction_model_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let fits = args.args[0].to_array(n)?;
        let fits = fits.as_struct();
        let (purchase, dropout) = (args.args[1].to_array(n)?, args.args[2].to_array(n)?);
        let e = |e: ModelError| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"));
        let mut rows = Vec::with_capacity(n);
        #[allow(clippy::type_complexity)]
        let mut cached: Option<(usize, Option<CovariateModel>, Vec<ArrayRef>, Vec<ArrayRef>)> = None;
        for row in 0..n {
            let same = cached.as_ref().is_some_and(|(k, ..)| {
                fits.columns()
                    .iter()
                    .all(|c| c.slice(*k, 1).to_data() == c.slice(row, 1).to_data())
            });
            if !same {
                let model = read_fit(fits, row)?;
                let (zp, zd) = match &model {
                    Some(m) => {
                        let (p, d) = m.names();
                        (by_name(&purchase, &p, "purchase")?, by_name(&dropout, &d, "dropout")?)
                    }
                    None => (vec![], vec![]),
                };
                cached = Some((row, model, zp, zd));
            }
            let Some((_, Some(model), zp, zd)) = &cached else {
                rows.push(vec![ScalarValue::Null; 8]);
                continue;
            };
            let value = |c: &ArrayRef| -> Option<f64> {
                let c = c.as_primitive::<Float64Type>();
                c.is_valid(row).then(|| c.value(row))
            };
            let (p, d): (Option<Vec<f64>>, Option<Vec<f64>>) =
                (zp.iter().map(value).collect(), zd.iter().map(value).collect());
            let struct_null = |a: &ArrayRef| matches!(a.data_type(), DataType::Struct(_)) && a.is_null(row);
            let (Some(p), Some(d)) = (p, d) else {
                rows.push(vec![ScalarValue::Null; 8]);
                continue;
            };
            if struct_null(&purchase) || struct_null(&dropout) {
                rows.push(vec![ScalarValue::Null; 8]);
                continue;
            }
            let f = |v: f64| ScalarValue::Float64(Some(v));
            let none = ScalarValue::Float64(None);
            rows.push(match model {
                CovariateModel::BgNbd(m) => {
                    let q = m.customer_params(&p, &d).map_err(e)?;
                    vec![
                        ScalarValue::from("bg_nbd"),
                        f(q.r),
                        f(q.alpha),
                        f(q.a),
                        f(q.b),
                        none.clone(),
                        none,
                        ScalarValue::from(m.time_unit().name()),
                    ]
                }
                CovariateModel::ParetoNbd(m) => {
                    let q = m.customer_params(&p, &d).map_err(e)?;
                    vec![
                        ScalarValue::from("pareto_nbd"),
                        f(q.r),
                        f(q.alpha),
                        none.clone(),
                        none,
                        f(q.s),
                        f(q.beta),
                        ScalarValue::from(m.time_unit().name()),
                    ]
                }
            });
        }
        let null_rows: Vec<bool> = rows.iter().map(|r| !r[0].is_null()).collect();
        let fields = transaction_model_fields();
        // Null rows: placeholder values, masked by the null buffer.
        let filled: Vec<Vec<ScalarValue>> = rows
            .into_iter()
            .map(|r| {
                if r[0].is_null() {
                    let mut v = vec![ScalarValue::from("")];
                    v.extend(std::iter::repeat_n(ScalarValue::Float64(None), 6));
                    v.push(ScalarValue::from(""));
                    v
                } else {
                    r
                }
            })
            .collect();
        let a = struct_array(&fields, filled)?;
        let (fields, columns, _) = a.into_parts();
        let out = StructArray::try_new(
            fields,
            columns,
            Some(datafusion::arrow::buffer::NullBuffer::from(null_rows)),
        )?;
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                PREDICTION,
                "A customer's own BG/NBD or Pareto/NBD model from a covariate fit and their covariates, for p_alive, expected_purchases, dert and clv.",
                "customer_model(fit, purchase, dropout)",
                &[
                    ("fit", "the struct of bgnbd_covariates_fit or pareto_nbd_covariates_fit"),
                    (
                        "purchase",
                        "the customer's purchase covariates, named as in the fit (or NULL)",
                    ),
                    (
                        "dropout",
                        "the customer's dropout covariates, named as in the fit (or NULL)",
                    ),
                ],
            )
        });
        Some(&DOC)
    }
}
