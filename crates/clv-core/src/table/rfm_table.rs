//! [`RfmTable`]: RFM per customer as a table a service registers once and queries by customer.
//!
//! ```text
//! ctx.register_table("customer_rfm", Arc::new(RfmTable::new(source, options)))?;
//! SELECT segment FROM customer_rfm WHERE customer_id = 42
//! ```
//!
//! Scores are relative to the whole population, so a filter on `customer_id` must not shrink
//! the population. The first query computes the population's cut points and as-of date in one
//! pass and keeps them; after that, a query filtered on `customer_id` (`=`, `IN`, ranges) reads
//! only that customer's transactions (the filter is pushed into the transaction scan, so
//! Parquet row-group pruning applies) and scores them with the kept cut points. The results
//! equal the corresponding rows of `rfm()`. Call [`RfmTable::refresh`] after the data changes.
//! Method `ntile` ranks customers against each other and has no cut points, so it always plans
//! the full computation (correct, but without pruning).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result, exec_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown, cast, ident, lit, when,
};
use datafusion::physical_plan::{ExecutionPlan, collect};
use tokio::sync::Mutex;

use crate::config::ClvOptions;
use crate::plan::rfm::{RFM_COLUMNS, RfmFunctions, RfmSpecs, resolve_specs, rfm_output, rfm_plan};
use crate::plan::transactions::columns;
use crate::rfm::{CutPoints, Direction, ScoreMethod};

/// The population statistics a filtered query needs.
#[derive(Debug, Clone)]
struct Population {
    as_of: Option<i32>,
    r: CutPoints,
    f: CutPoints,
    m: CutPoints,
}

/// RFM per customer as a table provider. See the module documentation.
#[derive(Debug)]
pub struct RfmTable {
    source: LogicalPlan,
    options: ClvOptions,
    functions: RfmFunctions,
    specs: RfmSpecs,
    schema: SchemaRef,
    population: Mutex<Option<Population>>,
}

impl RfmTable {
    /// An RFM table over `source` (a resolved transaction plan) with fixed `options`,
    /// using the built-in functions and schemes.
    pub fn new(source: LogicalPlan, options: ClvOptions) -> Result<Self> {
        Self::with_functions(source, options, RfmFunctions::default())
    }

    /// An RFM table using the functions (and registered schemes) of a context.
    pub async fn try_from_context(
        ctx: &datafusion::prelude::SessionContext,
        source: impl Into<crate::plan::source::TransactionSource>,
        options: ClvOptions,
    ) -> Result<Self> {
        let state = ctx.state();
        let plan = source.into().resolve(&state).await?;
        Self::with_functions(plan, options, RfmFunctions::from_session(&state))
    }

    fn with_functions(source: LogicalPlan, options: ClvOptions, functions: RfmFunctions) -> Result<Self> {
        let specs = resolve_specs(&options, &functions.schemes())?;
        let plan = rfm_plan(source.clone(), &options, &functions)?;
        let schema = Arc::clone(plan.schema().inner());
        Ok(Self {
            source,
            options,
            functions,
            specs,
            schema,
            population: Mutex::new(None),
        })
    }

    /// The transaction plan the table reads.
    pub fn source(&self) -> &LogicalPlan {
        &self.source
    }

    /// The options the table was built with.
    pub fn options(&self) -> &ClvOptions {
        &self.options
    }

    /// The functions (and with them the segment schemes) the table's plan calls.
    pub fn functions(&self) -> &RfmFunctions {
        &self.functions
    }

    /// Forgets the kept population statistics; the next filtered query recomputes them.
    pub async fn refresh(&self) {
        *self.population.lock().await = None;
    }

    async fn population(&self, state: &dyn Session) -> Result<Population> {
        let mut guard = self.population.lock().await;
        if let Some(p) = guard.as_ref() {
            return Ok(p.clone());
        }
        let plan = crate::plan::lookback::rfm_summary(self.source.clone(), &self.options, true)?;
        let plan = LogicalPlanBuilder::from(plan)
            .project(vec![
                cast(ident("recency_days"), DataType::Float64).alias("r"),
                cast(ident("frequency"), DataType::Float64).alias("f"),
                ident("monetary").alias("m"),
                ident(columns::AS_OF).alias("as_of"),
            ])?
            .build()?;
        let physical = state.create_physical_plan(&state.optimize(&plan)?).await?;
        let batches = collect(physical, state.task_ctx()).await?;
        let mut values: [Vec<f64>; 3] = Default::default();
        let mut as_of = self.options.as_of;
        for b in &batches {
            for (k, v) in values.iter_mut().enumerate() {
                v.extend(b.column(k).as_primitive::<Float64Type>().iter().flatten());
            }
            let a = b.column(3).as_primitive::<Int32Type>();
            if as_of.is_none() && !a.is_empty() && a.is_valid(0) {
                as_of = Some(a.value(0));
            }
        }
        let p = Population {
            as_of,
            r: CutPoints::fit(&self.specs.r, &values[0])?,
            f: CutPoints::fit(&self.specs.f, &values[1])?,
            m: CutPoints::fit(&self.specs.m, &values[2])?,
        };
        *guard = Some(p.clone());
        Ok(p)
    }

    fn filtered_plan(&self, population: &Population, customer_filters: &[Expr]) -> Result<LogicalPlan> {
        let mut source = LogicalPlanBuilder::from(self.source.clone());
        if let Some(f) = conjunction(
            customer_filters
                .iter()
                .map(|f| self.to_source_column(f.clone()))
                .collect::<Result<Vec<_>>>()?,
        ) {
            source = source.filter(f)?;
        }
        let mut options = self.options.clone();
        options.as_of = population.as_of;
        let summary = crate::plan::lookback::rfm_summary(source.build()?, &options, false)?;
        let scored = LogicalPlanBuilder::from(summary).project(vec![
            ident(columns::CUSTOMER),
            ident("recency_days"),
            ident("frequency"),
            ident("monetary"),
            bucket(ident("recency_days"), &population.r)?.alias("r"),
            bucket(ident("frequency"), &population.f)?.alias("f"),
            bucket(ident("monetary"), &population.m)?.alias("m"),
            ident("first_purchase"),
            ident("last_purchase"),
            ident("tenure_days"),
        ])?;
        rfm_output(scored, &self.specs, &self.functions)
    }

    fn to_source_column(&self, e: Expr) -> Result<Expr> {
        let name = self.options.customer_column.clone();
        e.transform(|e| match e {
            Expr::Column(c) if c.name == columns::CUSTOMER => {
                Ok(Transformed::yes(Expr::Column(Column::from_name(&name))))
            }
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    }
}

/// The score of `value` under `cuts` as plain arithmetic: `1 + Σ [value > c_i]` (or `>=` for
/// left-closed cut points), reversed for lower-is-better. Identical to [`CutPoints::score`].
fn bucket(value: Expr, cuts: &CutPoints) -> Result<Expr> {
    let v = cast(value, DataType::Float64);
    let mut bin = lit(1_i32);
    for &c in cuts.cuts() {
        let above = if cuts.is_left_closed() {
            v.clone().gt_eq(lit(c))
        } else {
            v.clone().gt(lit(c))
        };
        bin = bin + when(above, lit(1_i32)).otherwise(lit(0_i32))?;
    }
    Ok(match cuts.direction() {
        Direction::Higher => bin,
        Direction::Lower => lit(i32::from(cuts.bins()) + 1) - bin,
    })
}

fn is_customer_filter(e: &Expr) -> bool {
    let mut only_customer = true;
    let mut any_column = false;
    let _ = e.apply(|e| {
        if let Expr::Column(c) = e {
            any_column = true;
            only_customer &= c.name == columns::CUSTOMER;
        }
        if matches!(
            e,
            Expr::ScalarFunction(_) | Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_)
        ) {
            only_customer = false;
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    any_column && only_customer
}

#[async_trait]
impl TableProvider for RfmTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if is_customer_filter(f) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let customer_filters: Vec<Expr> = filters.iter().filter(|f| is_customer_filter(f)).cloned().collect();
        let plan = if customer_filters.is_empty() || self.specs.r.method == ScoreMethod::Ntile {
            let plan = rfm_plan(self.source.clone(), &self.options, &self.functions)?;
            match conjunction(customer_filters) {
                Some(f) => LogicalPlanBuilder::from(plan).filter(f)?.build()?,
                None => plan,
            }
        } else {
            let population = self.population(state).await?;
            self.filtered_plan(&population, &customer_filters)?
        };
        let mut builder = LogicalPlanBuilder::from(plan);
        if let Some(p) = projection {
            builder = builder.project(p.iter().map(|&i| ident(RFM_COLUMNS[i])))?;
        }
        if let Some(n) = limit {
            builder = builder.limit(0, Some(n))?;
        }
        let plan = builder.build()?;
        if plan.schema().fields().len() != projection.map_or(RFM_COLUMNS.len(), Vec::len) {
            return exec_err!("RfmTable: projection does not match the table schema");
        }
        state.create_physical_plan(&state.optimize(&plan)?).await
    }
}
