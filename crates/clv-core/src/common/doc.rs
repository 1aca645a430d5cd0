//! Documentation in code: each clv function declares its reference entry (DataFusion's
//! [`Documentation`]) next to its implementation. `tests/docs.rs` checks that
//! docs/sql-reference.md has an entry with a tested example for each, and names no other.

use datafusion::logical_expr::{DocSection, Documentation};

/// Table functions.
pub const TABLE: DocSection = section("Table functions");
/// Segment evaluation, tuning, migration, clusters and value concentration (table, aggregate
/// and scalar functions together, as the reference groups them).
pub const SEGMENTATION: DocSection = section("Segmentation");
/// The window function.
pub const WINDOW: DocSection = section("Window function");
/// Aggregate functions: the model fits and `churn_auc`.
pub const AGGREGATE: DocSection = section("Aggregate functions");
/// Scalar functions over a fitted model.
pub const PREDICTION: DocSection = section("Scalar functions: predictions");
/// The other scalar functions.
pub const SCALAR: DocSection = section("Scalar functions");
/// Functions that plans call and users rarely do (listed as internal).
pub const INTERNAL: DocSection = DocSection {
    include: false,
    label: "Internal",
    description: None,
};

const fn section(label: &'static str) -> DocSection {
    DocSection {
        include: true,
        label,
        description: None,
    }
}

/// A reference entry: its section, what it does, its syntax and its arguments (name, meaning).
pub fn doc(section: DocSection, description: &str, syntax: &str, arguments: &[(&str, &str)]) -> Documentation {
    let mut builder = Documentation::builder(section, description, syntax);
    for (name, meaning) in arguments {
        builder = builder.with_argument(*name, *meaning);
    }
    builder.build()
}

/// The arguments every table function shares after its own.
pub const NAMED_OPTIONS: (&str, &str) = (
    "'name=value'",
    "any clv session option without the `clv.` / `clv.rfm.` prefix, e.g. 'bins=4'",
);

/// The transactions argument of every table function.
pub const SOURCE: (&str, &str) = (
    "source",
    "the transactions: a registered table name, or a Parquet/CSV file, folder or glob",
);
