//! The value of a constant argument of an aggregate or window function.
//!
//! DataFusion hands an aggregate's or window function's arguments to it as physical
//! expressions; a constant is a [`Literal`]. When clv is loaded into a foreign host through
//! datafusion-ffi (datafusion-python), the host's expressions arrive wrapped
//! (`ForeignPhysicalExpr`): a downcast to clv's own `Literal` type fails although the argument
//! is a literal, and clv's functions that need a constant (`rfm_score`'s bins, a fit's time
//! unit) rejected it. [`constant`] also recognises such a wrapped literal by what it does: an
//! expression without children whose evaluation on a batch of no rows is a scalar, not an
//! array. A column evaluates to an array (or, on a batch without its column, to an error),
//! so columns and expressions over columns are still refused.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

/// The value of `e` when it is a constant: a literal of this library, or a literal wrapped
/// by another library's DataFusion (datafusion-ffi). `None` for anything else.
pub fn constant(e: &Arc<dyn PhysicalExpr>) -> Option<ScalarValue> {
    if let Some(literal) = e.downcast_ref::<Literal>() {
        return Some(literal.value().clone());
    }
    if !e.children().is_empty() {
        return None;
    }
    let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
    match e.evaluate(&empty) {
        Ok(ColumnarValue::Scalar(value)) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::Result;
    use datafusion::physical_expr::expressions::{Column, lit};

    /// A literal as another DataFusion copy hands it over: not this library's `Literal` type.
    #[derive(Debug, Eq)]
    struct Opaque(Arc<dyn PhysicalExpr>);

    impl PartialEq for Opaque {
        fn eq(&self, other: &Self) -> bool {
            self.0.as_ref() == other.0.as_ref()
        }
    }

    impl std::hash::Hash for Opaque {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            self.0.as_ref().hash(state);
        }
    }

    impl std::fmt::Display for Opaque {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "opaque({})", self.0)
        }
    }

    impl PhysicalExpr for Opaque {
        fn data_type(&self, s: &Schema) -> Result<DataType> {
            self.0.data_type(s)
        }
        fn nullable(&self, s: &Schema) -> Result<bool> {
            self.0.nullable(s)
        }
        fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
            self.0.evaluate(batch)
        }
        fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
            vec![]
        }
        fn with_new_children(self: Arc<Self>, _: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
            Ok(self)
        }
        fn fmt_sql(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt_sql(f)
        }
    }

    #[test]
    fn literals_are_constants_wrapped_or_not_and_columns_are_not() {
        let five = lit(ScalarValue::Int64(Some(5)));
        assert_eq!(constant(&five), Some(ScalarValue::Int64(Some(5))));
        let wrapped: Arc<dyn PhysicalExpr> = Arc::new(Opaque(Arc::clone(&five)));
        assert!(wrapped.downcast_ref::<Literal>().is_none());
        assert_eq!(constant(&wrapped), Some(ScalarValue::Int64(Some(5))));
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new("bins", 0));
        assert_eq!(constant(&column), None);
        let wrapped_column: Arc<dyn PhysicalExpr> = Arc::new(Opaque(column));
        assert_eq!(constant(&wrapped_column), None);
    }
}
