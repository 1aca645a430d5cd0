//! Constant arguments of scalar functions, restored on clv's side of the boundary.
//!
//! datafusion-ffi 55 hands a foreign scalar function its arguments as arrays: a literal
//! (`clv(m, s, x, t_x, t, monetary, 12, 'month')`) arrives as a column repeating one value, and
//! clv's functions that require a constant (a unit, a grain, a scheme, a message) rejected it.
//! [`ConstantArgs`] turns an argument array whose rows are all one non-null value back into a
//! scalar before calling the clv function. For clv's row-wise functions this changes nothing
//! else: a column of one repeated value and that value broadcast give the same rows. Nested
//! values (the model structs) are left as they are: clv reads those per row already.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Scalar};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::FieldRef;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// A clv scalar function whose repeated-value argument arrays become scalars again.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConstantArgs(pub Arc<ScalarUDF>);

/// `a` as a scalar when all its rows hold one non-null value of a flat type.
fn as_constant(a: &ArrayRef) -> Result<Option<ScalarValue>> {
    if a.is_empty() || a.null_count() > 0 || a.data_type().is_nested() || matches!(a.data_type(), DataType::Null) {
        return Ok(None);
    }
    let same = eq(a, &Scalar::new(a.slice(0, 1)))?;
    if same.null_count() == 0 && same.true_count() == a.len() {
        Ok(Some(ScalarValue::try_from_array(a, 0)?))
    } else {
        Ok(None)
    }
}

impl ScalarUDFImpl for ConstantArgs {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn aliases(&self) -> &[String] {
        self.0.aliases()
    }

    fn signature(&self) -> &Signature {
        self.0.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.0.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.0.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.0.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.0.documentation()
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        for arg in args.args.iter_mut() {
            if let ColumnarValue::Array(a) = arg
                && let Some(value) = as_constant(a)?
            {
                *arg = ColumnarValue::Scalar(value);
            }
        }
        self.0.invoke_with_args(args)
    }
}
