//! A literal that crosses datafusion-ffi from another library (datafusion-python's DataFusion)
//! arrives as a `ForeignPhysicalExpr`, not as clv's `Literal`: clv's constant arguments
//! (`rfm_score`'s bins, a fit's time unit and penalizer, the LTV options) must still read it.
//! Within one process datafusion-ffi unwraps its own expressions, so the test marks the
//! expression as another library's, as datafusion-ffi's own tests do.

use std::sync::Arc;

use clv_core::common::constant::constant;
use datafusion::common::ScalarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal, lit};
use datafusion_ffi::physical_expr::FFI_PhysicalExpr;

extern "C" fn another_library() -> usize {
    // datafusion-ffi's marker is the address of a static in the library: never 1.
    1
}

fn across_the_ffi(e: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
    let mut ffi = FFI_PhysicalExpr::from(e);
    ffi.library_marker_id = another_library;
    (&ffi).into()
}

#[test]
fn a_foreign_literal_is_a_constant_and_a_foreign_column_is_not() {
    let bins = across_the_ffi(lit(ScalarValue::Int64(Some(5))));
    assert!(bins.downcast_ref::<Literal>().is_none(), "the literal arrives wrapped");
    assert_eq!(constant(&bins), Some(ScalarValue::Int64(Some(5))));
    let unit = across_the_ffi(lit(ScalarValue::Utf8(Some("week".into()))));
    assert_eq!(constant(&unit), Some(ScalarValue::Utf8(Some("week".into()))));
    let column = across_the_ffi(Arc::new(Column::new("bins", 0)));
    assert_eq!(constant(&column), None);
}
