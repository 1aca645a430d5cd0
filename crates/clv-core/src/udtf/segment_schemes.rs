//! `segment_schemes([name])`: the rules of every segment scheme the session knows (built in or
//! registered), or of one: one row per rule, first match wins, then the default label.
//!
//! Columns: `scheme, levels, method, weights, rule, label, r, f, m, fm, total, weighted, cells,
//! action, description`. Ranges are inclusive, written `lo-hi` (or one value); NULL matches
//! every score. `rule` is NULL on the default row; `cells` counts the score cells the rule
//! takes (of `levels³`). Join it on `segment = label` to show each segment's suggested action.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlanBuilder, lit};

use super::ClvTableFunction;
use crate::common::doc::{SEGMENTATION, doc};

use crate::plan::rfm::RfmFunctions;
use crate::rfm::SegmentScheme;

/// The columns of `segment_schemes`.
pub const SEGMENT_SCHEMES_COLUMNS: [&str; 15] = [
    "scheme",
    "levels",
    "method",
    "weights",
    "rule",
    "label",
    "r",
    "f",
    "m",
    "fm",
    "total",
    "weighted",
    "cells",
    "action",
    "description",
];

fn range<T: PartialEq + std::fmt::Display>(r: Option<[T; 2]>) -> Option<String> {
    r.map(|[lo, hi]| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") })
}

/// One row per rule (then the default) of each scheme.
pub fn scheme_rules(schemes: &[Arc<SegmentScheme>]) -> Result<RecordBatch> {
    let mut rows: Vec<[Option<String>; 15]> = vec![];
    for s in schemes {
        let d = s.definition();
        let weights = d
            .weights
            .map(|w| w.iter().map(f64::to_string).collect::<Vec<_>>().join(","));
        let cells = s.rule_cells();
        let common = |rule: Option<usize>, label: &str, cells: usize| -> [Option<String>; 15] {
            [
                Some(s.name().to_string()),
                Some(s.levels().to_string()),
                Some(s.method().to_string()),
                weights.clone(),
                rule.map(|r| r.to_string()),
                Some(label.to_string()),
                None,
                None,
                None,
                None,
                None,
                None,
                Some(cells.to_string()),
                s.action(label).map(str::to_string),
                Some(d.description.clone()),
            ]
        };
        for (i, rule) in d.rules.iter().enumerate() {
            let mut row = common(Some(i + 1), &rule.label, cells[i]);
            row[6] = range(rule.r);
            row[7] = range(rule.f);
            row[8] = range(rule.m);
            row[9] = range(rule.fm);
            row[10] = range(rule.total);
            row[11] = range(rule.weighted);
            rows.push(row);
        }
        if let Some(default) = &d.default {
            rows.push(common(None, default, cells[d.rules.len()]));
        }
    }
    let schema = Arc::new(Schema::new(
        SEGMENT_SCHEMES_COLUMNS
            .iter()
            .map(|c| match *c {
                "levels" | "rule" | "cells" => Field::new(*c, DataType::Int64, *c == "rule"),
                "scheme" | "label" | "method" | "description" => Field::new(*c, DataType::Utf8, false),
                _ => Field::new(*c, DataType::Utf8, true),
            })
            .collect::<Vec<_>>(),
    ));
    let columns = (0..15)
        .map(|k| -> Result<ArrayRef> {
            Ok(match SEGMENT_SCHEMES_COLUMNS[k] {
                "levels" | "rule" | "cells" => Arc::new(
                    rows.iter()
                        .map(|r| r[k].as_deref().map(str::parse::<i64>).transpose())
                        .collect::<std::result::Result<Int64Array, _>>()
                        .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))?,
                ),
                _ => Arc::new(rows.iter().map(|r| r[k].clone()).collect::<StringArray>()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The `segment_schemes` table function.
#[derive(Debug, Default)]
pub struct SegmentSchemesTableFunction;

impl ClvTableFunction for SegmentSchemesTableFunction {
    const NAME: &'static str = "segment_schemes";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "The rules of every segment scheme the session knows, or of one, first match first: scheme, levels, method, weights, rule, label, the score ranges r, f, m, fm, total and weighted, cells (score cells the rule takes), the suggested action and the description.",
                "segment_schemes([name])",
                &[("name", "a scheme's name (default: every scheme)")],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for SegmentSchemesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let registry = RfmFunctions::from_session(args.session()).schemes();
        let schemes = match args.exprs() {
            [] => registry.names().map(|n| registry.get(n)).collect::<Result<Vec<_>>>()?,
            [Expr::Literal(ScalarValue::Utf8(Some(name)), _)] => vec![registry.get(name)?],
            _ => return plan_err!("segment_schemes([name]): name must be a constant text, e.g. 'rf_grid'"),
        };
        // A VALUES plan (not a MemTable) so that the rows travel inside the plan to a cluster.
        let batch = scheme_rules(&schemes)?;
        let rows = (0..batch.num_rows())
            .map(|i| {
                (batch.columns().iter())
                    .map(|c| Ok(lit(ScalarValue::try_from_array(c, i)?)))
                    .collect::<Result<Vec<Expr>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(DFSchema::try_from(batch.schema())?);
        let values = LogicalPlanBuilder::values_with_schema(rows, &schema)?;
        // VALUES names its columns column1, column2, ...: give them the table's names.
        let named: Vec<Expr> = (values.schema().columns().into_iter())
            .zip(batch.schema().fields())
            .map(|(c, f)| Expr::Column(c).alias(f.name()))
            .collect();
        let plan = values.project(named)?.build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}
