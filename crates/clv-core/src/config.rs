//! Session options under the `clv.` prefix (`SET clv.as_of = '1998-07-01'`).
//!
//! One parser serves three surfaces: `SET clv.<key>`, the `'key=value'` arguments of the
//! table functions, and the Rust builders. Function arguments override session options.

use std::any::Any;
use std::fmt;
use std::str::FromStr;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::{Result, ScalarValue, plan_datafusion_err, plan_err};
use datafusion::prelude::SessionContext;

use crate::rfm::ScoreMethod;

/// Defines a string-valued option enum with `FromStr`, `Display` and its list of spellings.
macro_rules! option_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name { #[default] $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The accepted spellings, in declaration order (the first is the default).
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// The SQL spelling.
            pub fn as_str(&self) -> &'static str { match self { $(Self::$variant => $text),+ } }
        }

        impl FromStr for $name {
            type Err = datafusion::error::DataFusionError;
            fn from_str(s: &str) -> Result<Self> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok(Self::$variant),)+
                    other => plan_err!("{} must be one of {}, got '{other}'", $what, Self::NAMES.join(", ")),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

option_enum!(
    /// What to do with a row whose amount is null, NaN or infinite.
    InvalidAmounts, "invalid_amounts" {
        /// Exclude the row and count it (default).
        Exclude => "exclude",
        /// Fail the query, naming the column and the customer.
        Error => "error",
    }
);

option_enum!(
    /// What to do with negative amounts (refunds, returns).
    NegativeAmounts, "negative_amounts" {
        /// Keep them: they reduce monetary but are not orders (default).
        Net => "net",
        /// Exclude the rows and count them.
        Exclude => "exclude",
        /// Fail the query.
        Error => "error",
    }
);

option_enum!(
    /// Whether several purchases of one customer in one calendar period count as one (the
    /// purchase grain, separate from the BTYD time unit).
    Collapse, "collapse" {
        /// Every order (or row) counts (default for RFM).
        None => "none",
        /// One purchase per customer per calendar day (default for BTYD).
        Day => "day",
        /// One purchase per customer per week (weeks start on Monday).
        Week => "week",
        /// One purchase per customer per calendar month.
        Month => "month",
    }
);

impl Collapse {
    /// The calendar period of this grain; `None` for `none`.
    pub fn period(&self) -> Option<crate::churn::calendar::Period> {
        use crate::churn::calendar::Period;
        match self {
            Self::None => None,
            Self::Day => Some(Period::Day),
            Self::Week => Some(Period::Week),
            Self::Month => Some(Period::Month),
        }
    }
}

/// The time unit of BTYD summaries and models (day, week = 7 days, month = 365.25/12 days):
/// explicit everywhere, never implied. Defined with the models in [`crate::ltv`].
pub use crate::ltv::TimeUnit;

/// Parses a time unit (`day`, `week`, `month`; case and spaces ignored).
pub fn parse_time_unit(s: &str) -> Result<TimeUnit> {
    match s.trim().to_ascii_lowercase().as_str() {
        "week" => Ok(TimeUnit::Week),
        "day" => Ok(TimeUnit::Day),
        "month" => Ok(TimeUnit::Month),
        other => plan_err!("time_unit must be one of week, day, month, got '{other}'"),
    }
}

option_enum!(
    /// How the monetary value aggregates a customer's amounts.
    Monetary, "monetary" {
        /// Total spend (default).
        Sum => "sum",
        /// Mean spend per order.
        Mean => "mean",
    }
);

/// All clv session options. See docs/guide.md for every policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ClvOptions {
    /// Customer id column (default `customer_id`).
    pub customer_column: String,
    /// Transaction time column, a date or timestamp (default `order_date`).
    pub time_column: String,
    /// Amount column (default `amount`).
    pub amount_column: String,
    /// Optional order id column: frequency then counts distinct orders.
    pub order_column: Option<String>,
    /// The as-of date as days since 1970-01-01; `None` = the day after the last transaction.
    pub as_of: Option<i32>,
    /// Null, NaN or infinite amounts.
    pub invalid_amounts: InvalidAmounts,
    /// Negative amounts.
    pub negative_amounts: NegativeAmounts,
    /// Drop exact duplicate rows (default false: keep them).
    pub dedupe: bool,
    /// Purchase grain; `None` = the function's default (none for RFM, day for BTYD).
    pub collapse: Option<Collapse>,
    /// RFM score levels; `None` = the scheme's levels (5 for `rf_grid`).
    pub rfm_bins: Option<u8>,
    /// RFM score method; `None` = the scheme's method (quantile; mean for `cn8`).
    pub rfm_method: Option<ScoreMethod>,
    /// RFM segment scheme (default `rf_grid`).
    pub rfm_scheme: String,
    /// Monetary aggregation (default sum).
    pub rfm_monetary: Monetary,
    /// `rfm()` through the fused per-customer operator when the options allow it (default
    /// true); false plans it as ordinary DataFusion operators (aggregate + window), which a
    /// Ballista cluster can split into stages.
    pub rfm_fused: bool,
    /// Thresholds for method `fixed`, recency in days (lower is better).
    pub rfm_recency_thresholds: Option<Vec<f64>>,
    /// Thresholds for method `fixed`, frequency.
    pub rfm_frequency_thresholds: Option<Vec<f64>>,
    /// Thresholds for method `fixed`, monetary.
    pub rfm_monetary_thresholds: Option<Vec<f64>>,
    /// BTYD time unit (default week).
    pub btyd_time_unit: TimeUnit,
    /// L2 penalizer λ of the model fits (default 0: plain maximum likelihood); see
    /// [`crate::ltv::FitOptions::penalizer`].
    pub fit_penalizer: f64,
    /// End of the BTYD calibration period (inclusive; days since 1970-01-01); `None` = the as-of date.
    pub btyd_calibration_end: Option<i32>,
    /// End of the BTYD holdout period (inclusive); `None` = no holdout columns.
    pub btyd_holdout_end: Option<i32>,
    /// Cohort grain (default month).
    pub cohort_period: crate::churn::Period,
    /// Lifecycle stage windows in days (30 / 90 / 180).
    pub lifecycle_windows: crate::churn::StageWindows,
    /// `clv_predict` transaction model: bg_nbd (default), pareto_nbd or mbg_nbd.
    pub ltv_model: String,
    /// `clv_predict` horizon in the BTYD time unit (default 52).
    pub ltv_horizon: f64,
    /// `clv_predict` discount rate per time unit (default 0).
    pub ltv_discount_rate: f64,
    /// `clv_predict` margin (default 1).
    pub ltv_margin: f64,
    /// `churn_labels` cutoff dates as written: a list `d1,d2,...` or a range `start..end`
    /// (expanded with `churn_every`); parsed by [`crate::churn::parse_cutoffs`].
    pub churn_cutoffs: Option<String>,
    /// The period whose last days a cutoff range expands to (default month).
    pub churn_every: crate::churn::Period,
    /// The churn window in days after a cutoff (default 90).
    pub churn_window_days: i64,
    /// Whether `churn_labels` adds BTYD features (x, t_x, t, p_alive, expected_purchases).
    pub churn_btyd: bool,
}

impl Default for ClvOptions {
    fn default() -> Self {
        Self {
            customer_column: "customer_id".into(),
            time_column: "order_date".into(),
            amount_column: "amount".into(),
            order_column: None,
            as_of: None,
            invalid_amounts: InvalidAmounts::default(),
            negative_amounts: NegativeAmounts::default(),
            dedupe: false,
            collapse: None,
            rfm_bins: None,
            rfm_method: None,
            rfm_scheme: "rf_grid".into(),
            rfm_monetary: Monetary::default(),
            rfm_fused: true,
            rfm_recency_thresholds: None,
            rfm_frequency_thresholds: None,
            rfm_monetary_thresholds: None,
            btyd_time_unit: TimeUnit::Week,
            fit_penalizer: 0.0,
            btyd_calibration_end: None,
            btyd_holdout_end: None,
            cohort_period: crate::churn::Period::default(),
            lifecycle_windows: crate::churn::StageWindows::default(),
            ltv_model: "bg_nbd".into(),
            ltv_horizon: 52.0,
            ltv_discount_rate: 0.0,
            ltv_margin: 1.0,
            churn_cutoffs: None,
            churn_every: crate::churn::Period::Month,
            churn_window_days: 90,
            churn_btyd: false,
        }
    }
}

/// Every key with its description, in documentation order.
pub const OPTION_KEYS: &[(&str, &str)] = &[
    ("customer_column", "Customer id column (default customer_id)"),
    (
        "time_column",
        "Transaction date or timestamp column (default order_date)",
    ),
    ("amount_column", "Amount column (default amount)"),
    (
        "order_column",
        "Order id column; frequency counts distinct orders (default: none, every row is an order)",
    ),
    (
        "as_of",
        "As-of date YYYY-MM-DD (default: the day after the last transaction)",
    ),
    (
        "invalid_amounts",
        "Null/NaN/infinite amounts: exclude (default) or error",
    ),
    ("negative_amounts", "Negative amounts: net (default), exclude or error"),
    ("dedupe", "Drop exact duplicate rows: false (default) or true"),
    (
        "collapse",
        "Purchase grain: none (every order; RFM default), day (BTYD default), week (Monday start) or month",
    ),
    (
        "rfm.bins",
        "RFM score levels 2..10 (default: the scheme's, 5 for rf_grid)",
    ),
    (
        "rfm.method",
        "quantile, ntile, fixed, mean or median (default: the scheme's)",
    ),
    (
        "rfm.scheme",
        "Segment scheme: rf_grid (default), rfm11, cn8, cn8_en or a registered one",
    ),
    ("rfm.monetary", "Monetary value: sum (default) or mean per order"),
    (
        "rfm.fused",
        "rfm() in one fused per-customer operator: true (default) or false (ordinary aggregate + window plan)",
    ),
    (
        "rfm.recency_thresholds",
        "Method fixed: recency day thresholds, e.g. 30,90,180,365",
    ),
    (
        "rfm.frequency_thresholds",
        "Method fixed: frequency thresholds, e.g. 1,2,5,10",
    ),
    (
        "rfm.monetary_thresholds",
        "Method fixed: monetary thresholds, e.g. 50,100,500,1000",
    ),
    (
        "btyd.time_unit",
        "BTYD time unit: day, week (default) or month (365.25/12 days)",
    ),
    (
        "btyd.calibration_end",
        "Inclusive calibration end YYYY-MM-DD (default: as_of, else the last transaction)",
    ),
    (
        "fit.penalizer",
        "Model fits: L2 penalizer on the mean log-likelihood, lambda * sum(theta^2) (default 0)",
    ),
    (
        "btyd.holdout_end",
        "Inclusive holdout end YYYY-MM-DD (default: no holdout)",
    ),
    (
        "cohort.period",
        "Cohort period: day, week, month (default), quarter or year",
    ),
    (
        "lifecycle.new_days",
        "Lifecycle: new while the first purchase is this recent (default 30)",
    ),
    (
        "lifecycle.active_days",
        "Lifecycle: active while the last purchase is this recent (default 90)",
    ),
    (
        "lifecycle.churn_days",
        "Lifecycle: churned from this many days without purchase (default 180)",
    ),
    (
        "ltv.model",
        "clv_predict model: bg_nbd (default), pareto_nbd, mbg_nbd or auto (lowest holdout RMSE, else BIC)",
    ),
    ("ltv.horizon", "clv_predict horizon in the BTYD time unit (default 52)"),
    (
        "ltv.discount_rate",
        "clv_predict discount rate per time unit (default 0)",
    ),
    ("ltv.margin", "clv_predict margin (default 1)"),
    (
        "churn.cutoffs",
        "churn_labels cutoffs: YYYY-MM-DD,YYYY-MM-DD,... or a range start..end (see churn.every)",
    ),
    (
        "churn.every",
        "A cutoff range takes the last day of every: day, week, month (default), quarter, year",
    ),
    ("churn.window_days", "Churn window in days after a cutoff (default 90)"),
    (
        "churn.btyd",
        "churn_labels adds x, t_x, t, p_alive and expected_purchases: false (default) or true",
    ),
];

fn none_if_empty(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty() && !v.eq_ignore_ascii_case("none") && !v.eq_ignore_ascii_case("default")).then_some(v)
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(text: &str, what: &str) -> Result<i32> {
    match ScalarValue::Utf8(Some(text.trim().to_string())).cast_to(&DataType::Date32) {
        Ok(ScalarValue::Date32(Some(d))) => Ok(d),
        _ => plan_err!("{what}: '{text}' is not a date; expected YYYY-MM-DD"),
    }
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    ScalarValue::Date32(Some(days)).to_string()
}

fn parse_thresholds(v: &str, key: &str) -> Result<Option<Vec<f64>>> {
    let Some(v) = none_if_empty(v) else {
        return Ok(None);
    };
    v.split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .map_err(|_| plan_datafusion_err!("{key}: '{t}' is not a number; expected e.g. '30,90,180,365'"))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn parse_number(v: &str, key: &str) -> Result<f64> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => plan_err!("{key} must be a finite number >= 0, got '{v}'"),
    }
}

fn parse_days(v: &str, key: &str) -> Result<i64> {
    match v.trim().parse::<i64>() {
        Ok(d) if d > 0 => Ok(d),
        _ => plan_err!("{key} must be a positive whole number of days, got '{v}'"),
    }
}

fn parse_bool(v: &str, key: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => plan_err!("{key} must be true or false, got '{other}'"),
    }
}

fn join(v: &Option<Vec<f64>>) -> Option<String> {
    v.as_ref()
        .map(|v| v.iter().map(f64::to_string).collect::<Vec<_>>().join(","))
}

impl ClvOptions {
    /// The options of a session (defaults when clv is not registered on it).
    pub fn from_session_config(config: &datafusion::common::config::ConfigOptions) -> Self {
        config.extensions.get::<ClvOptions>().cloned().unwrap_or_default()
    }

    /// The options of a context.
    pub fn from_context(ctx: &SessionContext) -> Self {
        Self::from_session_config(ctx.state().config_options())
    }

    /// Sets one option by key (without the `clv.` prefix); the value is parsed and checked.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        let key = key.trim().to_ascii_lowercase();
        let key = key.strip_prefix("clv.").unwrap_or(&key);
        let name = |v: &str| -> Result<String> {
            match none_if_empty(v) {
                Some(v) => Ok(v.to_string()),
                None => plan_err!("clv.{key} needs a column name"),
            }
        };
        match key {
            "customer_column" => self.customer_column = name(value)?,
            "time_column" => self.time_column = name(value)?,
            "amount_column" => self.amount_column = name(value)?,
            "order_column" => self.order_column = none_if_empty(value).map(str::to_string),
            "as_of" => self.as_of = none_if_empty(value).map(|v| parse_date(v, "clv.as_of")).transpose()?,
            "invalid_amounts" => self.invalid_amounts = value.parse()?,
            "negative_amounts" => self.negative_amounts = value.parse()?,
            "dedupe" => self.dedupe = parse_bool(value, "clv.dedupe")?,
            "rfm.fused" | "fused" => self.rfm_fused = parse_bool(value, "clv.rfm.fused")?,
            // 'none' is a grain here, so only an empty value resets to the function's default.
            "collapse" => {
                self.collapse = Some(value.trim())
                    .filter(|v| !v.is_empty())
                    .map(str::parse)
                    .transpose()?
            }
            "btyd.time_unit" | "time_unit" => self.btyd_time_unit = parse_time_unit(value)?,
            "btyd.calibration_end" | "calibration_end" => {
                self.btyd_calibration_end = none_if_empty(value)
                    .map(|v| parse_date(v, "calibration_end"))
                    .transpose()?
            }
            "cohort.period" | "period" => self.cohort_period = value.parse()?,
            "ltv.model" | "model" => {
                let model = value.trim().to_ascii_lowercase();
                if !["bg_nbd", "pareto_nbd", "mbg_nbd", "auto"].contains(&model.as_str()) {
                    return plan_err!("model must be bg_nbd, pareto_nbd, mbg_nbd or auto, got '{model}'");
                }
                self.ltv_model = model;
            }
            "ltv.horizon" | "horizon" => self.ltv_horizon = parse_number(value, key)?,
            "ltv.discount_rate" | "discount_rate" => self.ltv_discount_rate = parse_number(value, key)?,
            "ltv.margin" | "margin" => self.ltv_margin = parse_number(value, key)?,
            "fit.penalizer" | "penalizer" => self.fit_penalizer = parse_number(value, key)?,
            "lifecycle.new_days" | "new_days" => self.lifecycle_windows.new_days = parse_days(value, key)?,
            "lifecycle.active_days" | "active_days" => self.lifecycle_windows.active_days = parse_days(value, key)?,
            "lifecycle.churn_days" | "churn_days" => self.lifecycle_windows.churn_days = parse_days(value, key)?,
            "churn.cutoffs" | "cutoffs" => self.churn_cutoffs = none_if_empty(value).map(str::to_string),
            "churn.every" | "every" => self.churn_every = value.parse()?,
            "churn.window_days" | "window_days" => self.churn_window_days = parse_days(value, key)?,
            "churn.btyd" | "btyd" => self.churn_btyd = parse_bool(value, key)?,
            "btyd.holdout_end" | "holdout_end" => {
                self.btyd_holdout_end = none_if_empty(value).map(|v| parse_date(v, "holdout_end")).transpose()?
            }
            "rfm.bins" | "bins" => {
                self.rfm_bins = none_if_empty(value)
                    .map(|v| {
                        v.parse::<u8>()
                            .ok()
                            .filter(|b| (2..=10).contains(b))
                            .ok_or_else(|| plan_datafusion_err!("bins must be an integer between 2 and 10, got '{v}'"))
                    })
                    .transpose()?
            }
            "rfm.method" | "method" => self.rfm_method = none_if_empty(value).map(str::parse).transpose()?,
            "rfm.scheme" | "scheme" => {
                // 'none' is a choice here (no segments); only an empty value means the default.
                let v = value.trim();
                self.rfm_scheme = if v.is_empty() || v.eq_ignore_ascii_case("default") {
                    "rf_grid"
                } else {
                    v
                }
                .to_string();
            }
            "rfm.monetary" | "monetary" => self.rfm_monetary = value.parse()?,
            "rfm.recency_thresholds" | "recency_thresholds" => {
                self.rfm_recency_thresholds = parse_thresholds(value, "recency_thresholds")?
            }
            "rfm.frequency_thresholds" | "frequency_thresholds" => {
                self.rfm_frequency_thresholds = parse_thresholds(value, "frequency_thresholds")?
            }
            "rfm.monetary_thresholds" | "monetary_thresholds" => {
                self.rfm_monetary_thresholds = parse_thresholds(value, "monetary_thresholds")?
            }
            _ => {
                let known: Vec<&str> = OPTION_KEYS.iter().map(|(k, _)| *k).collect();
                return plan_err!("unknown clv option '{key}': known options are {}", known.join(", "));
            }
        }
        Ok(())
    }

    /// The current value of every option as text (`None` = unset / default rule).
    pub fn values(&self) -> Vec<(&'static str, Option<String>)> {
        OPTION_KEYS
            .iter()
            .map(|(k, _)| {
                let v = match *k {
                    "customer_column" => Some(self.customer_column.clone()),
                    "time_column" => Some(self.time_column.clone()),
                    "amount_column" => Some(self.amount_column.clone()),
                    "order_column" => self.order_column.clone(),
                    "as_of" => self.as_of.map(format_date),
                    "invalid_amounts" => Some(self.invalid_amounts.to_string()),
                    "negative_amounts" => Some(self.negative_amounts.to_string()),
                    "dedupe" => Some(self.dedupe.to_string()),
                    "collapse" => self.collapse.map(|c| c.to_string()),
                    "rfm.bins" => self.rfm_bins.map(|b| b.to_string()),
                    "rfm.method" => self.rfm_method.map(|m| m.to_string()),
                    "rfm.scheme" => Some(self.rfm_scheme.clone()),
                    "rfm.monetary" => Some(self.rfm_monetary.to_string()),
                    "rfm.fused" => Some(self.rfm_fused.to_string()),
                    "rfm.recency_thresholds" => join(&self.rfm_recency_thresholds),
                    "rfm.frequency_thresholds" => join(&self.rfm_frequency_thresholds),
                    "rfm.monetary_thresholds" => join(&self.rfm_monetary_thresholds),
                    "btyd.time_unit" => Some(self.btyd_time_unit.to_string()),
                    "btyd.calibration_end" => self.btyd_calibration_end.map(format_date),
                    "fit.penalizer" => Some(self.fit_penalizer.to_string()),
                    "btyd.holdout_end" => self.btyd_holdout_end.map(format_date),
                    "cohort.period" => Some(self.cohort_period.to_string()),
                    "ltv.model" => Some(self.ltv_model.clone()),
                    "ltv.horizon" => Some(self.ltv_horizon.to_string()),
                    "ltv.discount_rate" => Some(self.ltv_discount_rate.to_string()),
                    "ltv.margin" => Some(self.ltv_margin.to_string()),
                    "lifecycle.new_days" => Some(self.lifecycle_windows.new_days.to_string()),
                    "lifecycle.active_days" => Some(self.lifecycle_windows.active_days.to_string()),
                    "lifecycle.churn_days" => Some(self.lifecycle_windows.churn_days.to_string()),
                    "churn.cutoffs" => self.churn_cutoffs.clone(),
                    "churn.every" => Some(self.churn_every.to_string()),
                    "churn.window_days" => Some(self.churn_window_days.to_string()),
                    "churn.btyd" => Some(self.churn_btyd.to_string()),
                    _ => None,
                };
                (*k, v)
            })
            .collect()
    }
}

impl ExtensionOptions for ClvOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_option(key, value)
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.values()
            .into_iter()
            .zip(OPTION_KEYS)
            .map(|((key, value), (_, description))| ConfigEntry {
                key: format!("clv.{key}"),
                value,
                description,
            })
            .collect()
    }
}

impl ConfigExtension for ClvOptions {
    const PREFIX: &'static str = "clv";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_reject_with_the_key_named() {
        let mut o = ClvOptions::default();
        o.set_option("as_of", "1998-07-01").unwrap();
        assert_eq!(o.as_of.map(format_date).as_deref(), Some("1998-07-01"));
        o.set_option("rfm.bins", "4").unwrap();
        o.set_option("method", "ntile").unwrap();
        o.set_option("recency_thresholds", "30, 90,180").unwrap();
        o.set_option("order_column", "").unwrap();
        assert_eq!(
            (o.rfm_bins, o.rfm_method, o.order_column.clone()),
            (Some(4), Some(ScoreMethod::Ntile), None)
        );
        assert_eq!(o.rfm_recency_thresholds, Some(vec![30.0, 90.0, 180.0]));
        let e = |k: &str, v: &str| ClvOptions::default().set_option(k, v).unwrap_err().to_string();
        assert!(e("as_of", "July").contains("expected YYYY-MM-DD"));
        assert!(e("rfm.bins", "11").contains("between 2 and 10"));
        assert!(e("negative_amounts", "keep").contains("net, exclude, error"));
        assert!(e("colour", "x").contains("unknown clv option 'colour'"));
        assert!(e("recency_thresholds", "30,x").contains("'x' is not a number"));
        assert!(e("dedupe", "maybe").contains("true or false"));
        o.set_option("collapse", "none").unwrap();
        assert_eq!(o.collapse, Some(Collapse::None));
        o.set_option("collapse", "").unwrap();
        assert_eq!(o.collapse, None);
        assert_eq!(o.values().len(), OPTION_KEYS.len());
    }

    /// Sessions ship their options as `entries()` key/value pairs (Ballista sends them to the
    /// scheduler and every executor), so every option must survive the round trip.
    #[test]
    fn every_option_survives_its_entries() {
        let mut o = ClvOptions::default();
        for (k, v) in [
            ("customer_column", "cid"),
            ("order_column", "order_id"),
            ("as_of", "1998-07-01"),
            ("invalid_amounts", "error"),
            ("negative_amounts", "exclude"),
            ("dedupe", "true"),
            ("collapse", "day"),
            ("rfm.bins", "4"),
            ("rfm.method", "fixed"),
            ("rfm.scheme", "rfm11"),
            ("rfm.monetary", "mean"),
            ("rfm.fused", "false"),
            ("rfm.recency_thresholds", "30,90.5,180"),
            ("btyd.time_unit", "month"),
            ("btyd.calibration_end", "1997-09-30"),
            ("fit.penalizer", "0.5"),
            ("btyd.holdout_end", "1998-06-30"),
            ("cohort.period", "quarter"),
            ("ltv.model", "pareto_nbd"),
            ("ltv.horizon", "12.5"),
            ("ltv.discount_rate", "0.01"),
            ("ltv.margin", "0.3"),
            ("lifecycle.new_days", "10"),
            ("lifecycle.active_days", "60"),
            ("lifecycle.churn_days", "365"),
            ("churn.cutoffs", "1997-06-30..1997-12-31"),
            ("churn.every", "quarter"),
            ("churn.window_days", "120"),
            ("churn.btyd", "true"),
        ] {
            o.set_option(k, v).unwrap();
        }
        let mut copy = ClvOptions::default();
        for e in o.entries() {
            if let Some(v) = e.value {
                copy.set(e.key.strip_prefix("clv.").unwrap(), &v).unwrap();
            }
        }
        assert_eq!(copy, o);
    }
}
