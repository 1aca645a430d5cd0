//! The column types of the transaction contract.

use datafusion::arrow::datatypes::DataType;

/// Whether `t` is an accepted customer or order id type.
pub fn is_id_type(t: &DataType) -> bool {
    match t {
        DataType::Int32 | DataType::Int64 | DataType::UInt32 | DataType::UInt64 => true,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_id_type(v),
        _ => false,
    }
}

/// Whether `t` is an accepted transaction time type.
pub fn is_time_type(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
}

/// Whether `t` is an accepted amount type.
pub fn is_amount_type(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(_, _))
}
