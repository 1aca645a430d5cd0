//! [`RfmState`]: the per-customer state of `rfm()`, built once and refreshed with new rows.

use std::sync::Arc;

use datafusion::catalog::MemTable;
use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::SessionContext;

use super::builder;
use crate::exec::customer_state::{CustomerState, StateShape, check_state_options};
use crate::exec::rfm_exec::FusedRfmTable;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

builder!(
    /// The customer state of `rfm()` (see [`crate::exec::customer_state`] for the rules):
    ///
    /// ```no_run
    /// # async fn f(ctx: &datafusion::prelude::SessionContext) -> datafusion::common::Result<()> {
    /// use clv_core::RfmState;
    /// let mut state = RfmState::new().build(ctx, "orders_2024_01", "2024-01").await?;
    /// RfmState::new().refresh(ctx, &mut state, "orders_2024_02", "2024-02").await?;
    /// state.write_parquet("state.parquet")?;
    /// let scores = RfmState::new().option("bins", "4").rfm(ctx, &state).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// The options that shape the totals (`negative_amounts`, `invalid_amounts`) must be the
    /// same at build, refresh and scoring; the scoring options (`as_of`, `bins`, `method`,
    /// `scheme`, `monetary`, thresholds) may change at every scoring.
    RfmState
);

impl RfmState {
    /// The state of the rows of `source`, recorded as batch `batch`.
    pub async fn build(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
        batch: &str,
    ) -> Result<CustomerState> {
        let o = self.options(ctx)?;
        let session = ctx.state();
        let plan = source.into().resolve(&session).await?;
        CustomerState::build(&session, plan, &o, batch).await
    }

    /// Folds the rows of `source` into `state` as batch `batch` (refused if `state` already
    /// has it): time linear in the new rows and the customers they touch.
    pub async fn refresh(
        &self,
        ctx: &SessionContext,
        state: &mut CustomerState,
        source: impl Into<TransactionSource>,
        batch: &str,
    ) -> Result<()> {
        let new = self.build(ctx, source, batch).await?;
        state.merge(new)
    }

    /// `rfm()` of the transactions `state` holds: the same rows as `Rfm::dataframe` over them
    /// (as of the state's date, or the `as_of` option, which must not be before it).
    pub async fn rfm(&self, ctx: &SessionContext, state: &CustomerState) -> Result<DataFrame> {
        let o = self.options(ctx)?;
        check_state_options(&o)?;
        state.shape.check_same(&StateShape {
            invalid_amounts: o.invalid_amounts,
            negative_amounts: o.negative_amounts,
            ..state.shape.clone()
        })?;
        let rows = state.to_batch()?;
        let table = MemTable::try_new(rows.schema(), vec![vec![rows]])?;
        let plan = LogicalPlanBuilder::scan("customer_state", provider_as_source(Arc::new(table)), None)?.build()?;
        let session = ctx.state();
        let fused = FusedRfmTable::from_state(plan, &state.shape, &o, &RfmFunctions::from_session(&session))?;
        ctx.read_table(Arc::new(fused))
    }
}
