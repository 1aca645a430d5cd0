//! The Rust API: builders that mirror the SQL table functions option for option.

use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use crate::churn::Period;
use crate::config::{ClvOptions, Collapse, InvalidAmounts, Monetary, NegativeAmounts, TimeUnit};
use crate::plan::btyd::btyd_summary_plan;
use crate::plan::churn::churn_labels_plan;
use crate::plan::report::{PolicyReport, policy_report_plan};
use crate::plan::rfm::{RfmFunctions, rfm_plan};
use crate::plan::source::TransactionSource;
use crate::plan::transactions::customer_summary;
use crate::rfm::ScoreMethod;

fn list(values: &[f64]) -> String {
    values.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

/// What every builder shares: `new`, `options` (the session's options overridden by the builder's)
/// and the transaction-contract setters (same names as the SQL options).
macro_rules! contract_setters {
    () => {
        /// All options from the session.
        pub fn new() -> Self {
            Self::default()
        }

        fn set(mut self, key: &'static str, value: impl ToString) -> Self {
            self.settings.push((key, value.to_string()));
            self
        }

        /// The effective options: the session's, overridden by this builder's.
        pub fn options(&self, ctx: &SessionContext) -> Result<ClvOptions> {
            let mut o = ClvOptions::from_context(ctx);
            for (k, v) in &self.settings {
                o.set_option(k, v)?;
            }
            Ok(o)
        }

        /// Customer id column (default `customer_id`).
        pub fn customer_column(self, name: &str) -> Self {
            self.set("customer_column", name)
        }

        /// Time column (default `order_date`).
        pub fn time_column(self, name: &str) -> Self {
            self.set("time_column", name)
        }

        /// Amount column (default `amount`).
        pub fn amount_column(self, name: &str) -> Self {
            self.set("amount_column", name)
        }

        /// Order id column: frequency counts distinct orders (default none).
        pub fn order_column(self, name: &str) -> Self {
            self.set("order_column", name)
        }

        /// As-of date `YYYY-MM-DD` (default: the day after the last transaction).
        pub fn as_of(self, date: &str) -> Self {
            self.set("as_of", date)
        }

        /// Null/NaN/infinite amounts (default exclude).
        pub fn invalid_amounts(self, policy: InvalidAmounts) -> Self {
            self.set("invalid_amounts", policy)
        }

        /// Negative amounts (default net).
        pub fn negative_amounts(self, policy: NegativeAmounts) -> Self {
            self.set("negative_amounts", policy)
        }

        /// Drop exact duplicate rows (default false).
        pub fn dedupe(self, on: bool) -> Self {
            self.set("dedupe", on)
        }

        /// Purchase grain (default none).
        pub fn collapse(self, grain: Collapse) -> Self {
            self.set("collapse", grain)
        }
    };
}

pub(crate) use contract_setters;

/// RFM per customer: `Rfm::new().as_of("1998-07-01").bins(5).dataframe(&ctx, "orders")`.
///
/// Every setter corresponds to the `rfm()` argument and the `clv.` session option of the same
/// name; options left unset come from the session (then the documented defaults).
#[derive(Debug, Clone, Default)]
pub struct Rfm {
    settings: Vec<(&'static str, String)>,
}

impl Rfm {
    contract_setters!();

    /// Score levels 2..=10 (default: the scheme's, 5).
    pub fn bins(self, n: u8) -> Self {
        self.set("bins", n)
    }

    /// Scoring method (default: the scheme's, quantile).
    pub fn method(self, method: ScoreMethod) -> Self {
        self.set("method", method)
    }

    /// Segment scheme by name (default `rf_grid`; `none` for no segments).
    pub fn scheme(self, name: &str) -> Self {
        self.set("scheme", name)
    }

    /// Monetary aggregation (default sum).
    pub fn monetary(self, m: Monetary) -> Self {
        self.set("monetary", m)
    }

    /// Recency thresholds in days for method `fixed`.
    pub fn recency_thresholds(self, t: &[f64]) -> Self {
        self.set("recency_thresholds", list(t))
    }

    /// Frequency thresholds for method `fixed`.
    pub fn frequency_thresholds(self, t: &[f64]) -> Self {
        self.set("frequency_thresholds", list(t))
    }

    /// Monetary thresholds for method `fixed`.
    pub fn monetary_thresholds(self, t: &[f64]) -> Self {
        self.set("monetary_thresholds", list(t))
    }

    /// RFM per customer, the same columns as SQL `rfm()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let state = ctx.state();
        let plan = source.into().resolve(&state).await?;
        let plan = rfm_plan(plan, &self.options(ctx)?, &RfmFunctions::from_session(&state))?;
        Ok(DataFrame::new(state, plan))
    }

    /// The per-customer summary only (no scores).
    pub async fn summary(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let state = ctx.state();
        let plan = source.into().resolve(&state).await?;
        Ok(DataFrame::new(state, customer_summary(plan, &self.options(ctx)?)?))
    }

    /// How many rows each data policy affected under these options.
    pub async fn policy_report(
        &self,
        ctx: &SessionContext,
        source: impl Into<TransactionSource>,
    ) -> Result<PolicyReport> {
        let state = ctx.state();
        let plan = source.into().resolve(&state).await?;
        let batches = DataFrame::new(state, policy_report_plan(plan, &self.options(ctx)?)?)
            .collect()
            .await?;
        PolicyReport::from_batches(&batches)
    }
}

/// The BTYD summary (`x, t_x, t, monetary`, optional holdout), mirroring SQL `btyd_summary`:
/// `BtydSummary::new().calibration_end("1997-09-30").time_unit(TimeUnit::Week)`.
#[derive(Debug, Clone, Default)]
pub struct BtydSummary {
    settings: Vec<(&'static str, String)>,
}

impl BtydSummary {
    contract_setters!();

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
        let state = ctx.state();
        let plan = source.into().resolve(&state).await?;
        Ok(DataFrame::new(state, btyd_summary_plan(plan, &self.options(ctx)?)?))
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

/// Churn training labels, mirroring SQL `churn_labels`:
/// `ChurnLabels::new().cutoffs("1997-01-01..1997-12-31").window_days(90).dataframe(&ctx, "orders")`.
/// The RFM options (bins, method, scheme, ...) are set through [`ChurnLabels::option`].
#[derive(Debug, Clone, Default)]
pub struct ChurnLabels {
    settings: Vec<(&'static str, String)>,
}

impl ChurnLabels {
    contract_setters!();

    /// Cutoff dates: a list `"1997-06-30,1997-09-30"` or a range `"1997-01-01..1997-12-31"`
    /// (required).
    pub fn cutoffs(self, cutoffs: &str) -> Self {
        self.set("cutoffs", cutoffs)
    }

    /// The period whose last days a cutoff range expands to (default month).
    pub fn every(self, period: Period) -> Self {
        self.set("every", period)
    }

    /// The churn window in days after each cutoff (default 90).
    pub fn window_days(self, days: u32) -> Self {
        self.set("window_days", days)
    }

    /// Adds `x, t_x, t, p_alive, churn_probability` (no purchase in the window),
    /// `dropout_probability` (1 − P(alive)) and `expected_purchases` (default false).
    pub fn btyd(self, on: bool) -> Self {
        self.set("btyd", on)
    }

    /// Any other option by its SQL name, e.g. `("bins", "4")` or `("model", "pareto_nbd")`.
    pub fn option(self, key: &'static str, value: &str) -> Self {
        self.set(key, value)
    }

    /// The labels, the same columns as SQL `churn_labels()`.
    pub async fn dataframe(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        let state = ctx.state();
        let plan = source.into().resolve(&state).await?;
        let plan = churn_labels_plan(plan, &self.options(ctx)?, &RfmFunctions::from_session(&state))?;
        Ok(DataFrame::new(state, plan))
    }

    /// Every churn score side by side on these labels, the same as SQL `churn_evaluate()`
    /// (see [`crate::ChurnRisk::evaluate`]).
    pub async fn evaluate(&self, ctx: &SessionContext, source: impl Into<TransactionSource>) -> Result<DataFrame> {
        crate::api_churn::evaluation(ctx, source.into(), self.options(ctx)?, false).await
    }
}
