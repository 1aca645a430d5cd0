//! [`BtydSummary`]: `btyd_summary()`.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use super::{builder, frame};
use crate::config::TimeUnit;
use crate::plan::btyd::btyd_summary_plan;
use crate::plan::source::TransactionSource;

builder!(
    /// The BTYD summary (`x, t_x, t, monetary`, optional holdout), mirroring SQL `btyd_summary`:
    /// `BtydSummary::new().calibration_end("1997-09-30").time_unit(TimeUnit::Week)`.
    BtydSummary
);

impl BtydSummary {
    /// Inclusive end of the calibration period `YYYY-MM-DD` (default: the as-of date, else the
    /// last transaction date).
    pub fn calibration_end(self, date: &str) -> Self {
        self.set("calibration_end", date)
    }

    /// Inclusive end of the holdout period `YYYY-MM-DD` (default: no holdout).
    pub fn holdout_end(self, date: &str) -> Self {
        self.set("holdout_end", date)
    }

    /// Time unit of `t_x` and `t` (default week).
    pub fn time_unit(self, unit: TimeUnit) -> Self {
        self.set("time_unit", unit)
    }

    /// The summary as a `DataFrame`, the same columns as SQL `btyd_summary()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        frame(ctx, source.into(), self.options(ctx)?, |p, o, _| {
            btyd_summary_plan(p, o)
        })
        .await
    }

    /// The summary collected into the models' input, ready for `BgNbd::new().fit(&summary)`.
    pub async fn collect(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
    ) -> Result<crate::ltv::TransactionSummary> {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::{DataType, Float64Type};
        let unit = self.options(ctx)?.btyd_time_unit;
        let batches = self
            .dataframe(ctx, source)
            .await?
            .select_columns(&["x", "t_x", "t"])?
            .collect()
            .await?;
        let (mut x, mut t_x, mut t) = (vec![], vec![], vec![]);
        for b in &batches {
            for (col, out) in [(0, &mut x), (1, &mut t_x), (2, &mut t)] {
                let c = datafusion::arrow::compute::cast(b.column(col), &DataType::Float64)?;
                out.extend(c.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(f64::NAN)));
            }
        }
        crate::ltv::TransactionSummary::new(x, t_x, t, unit)
            .map_err(|e| datafusion::error::DataFusionError::Execution(format!("btyd summary: {e}")))
    }
}
