//! Session options under the `clv.` prefix (`SET clv.as_of = '1998-07-01'`).
//!
//! One parser serves three surfaces: `SET clv.<key>`, the `'key=value'` arguments of the
//! table functions, and the Rust builders. Function arguments override session options.

use std::any::Any;
use std::fmt;
use std::str::FromStr;

use datafusion::common::config::{ConfigEntry, ConfigExtension, DATAFUSION_FFI_CONFIG_NAMESPACE, ExtensionOptions};
use datafusion::common::{Result, plan_datafusion_err, plan_err};
use datafusion::prelude::SessionContext;

use crate::churn::StageWindows;
use crate::common::dates::{format_date, parse_date};
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
    /// How customer and order ids are typed. Distinct id texts never merge: in CSV files ids
    /// are read as text, and `auto` turns them into integers only when every id is the plain
    /// form of its number ("7", never "007" or "+7", which would merge with it); otherwise the
    /// query fails naming the id.
    IdType, "id_type" {
        /// Integers when the source has integers (or a CSV column holds plain integers only),
        /// text otherwise (default).
        Auto => "auto",
        /// Always text: integer ids become their decimal text.
        String => "string",
        /// Always integers: a text id that is not the plain form of an integer is an error.
        Integer => "integer",
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

/// One `clv.` session option: its key and other spellings, its documentation, its command-line
/// flag, and how it is read and shown. [`OPTIONS`] lists them all; parsing (`SET clv.<key>`,
/// the `'key=value'` arguments of the table functions, `clv.toml`, the Rust builders), the
/// defaults, `SHOW` and the options table of docs/sql-reference.md all come from it.
pub struct ClvOption {
    /// The key after `clv.` (`rfm.bins`).
    pub key: &'static str,
    /// Other accepted spellings, such as the short names of table-function arguments (`bins`).
    pub aliases: &'static [&'static str],
    /// The default, as the reference states it.
    pub default: &'static str,
    /// What the option sets (the documentation of its [`ClvOptions`] field).
    pub description: &'static str,
    /// The `clv` command-line flag that sets it (without `--`), or `None` for an option set only
    /// in SQL, `clv.toml` or the Rust API.
    pub flag: Option<&'static str>,
    set: fn(&mut ClvOptions, &str, &str) -> Result<()>,
    get: fn(&ClvOptions) -> Option<String>,
}

impl fmt::Debug for ClvOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClvOption")
            .field("key", &self.key)
            .field("aliases", &self.aliases)
            .field("default", &self.default)
            .field("flag", &self.flag)
            .finish()
    }
}

impl ClvOption {
    /// Whether `key` (lower case, without `clv.`) names this option.
    pub fn is(&self, key: &str) -> bool {
        self.key == key || self.aliases.contains(&key)
    }

    /// The option named `key` (lower case, without `clv.`), by key or alias.
    pub fn find(key: &str) -> Option<&'static ClvOption> {
        OPTIONS.iter().find(|o| o.is(key))
    }

    /// Parses `value` into `options` as this option does; errors name it `shown_as` (e.g. the
    /// argument name a function gives it).
    pub fn parse_into(&self, options: &mut ClvOptions, value: &str, shown_as: &str) -> Result<()> {
        (self.set)(options, value, shown_as)
    }
}

/// Declares every session option once: the [`ClvOptions`] field (its documentation is the
/// option's description), its default, its key and aliases, the default as documented, the
/// command-line flag, and the functions that parse and show it. Generates the struct, its
/// `Default` and [`OPTIONS`].
macro_rules! clv_options {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $default:expr,
            key $key:literal $(| $alias:literal)*,
            default $shown:literal,
            flag $flag:expr,
            parse $parse:expr,
            show $show:expr;
    )*) => {
        /// All clv session options, declared once in [`OPTIONS`]. See docs/guide.md for every
        /// policy.
        #[derive(Debug, Clone, PartialEq)]
        pub struct ClvOptions {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Default for ClvOptions {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        /// Every session option, in documentation order.
        pub const OPTIONS: &[ClvOption] = &[$(ClvOption {
            key: $key,
            aliases: &[$($alias),*],
            default: $shown,
            description: concat!($($doc),*).trim_ascii(),
            flag: $flag,
            set: |o, value, key| {
                o.$field = ($parse)(value, key)?;
                Ok(())
            },
            get: |o| ($show)(&o.$field),
        },)*];
    };
}

clv_options! {
    /// Customer id column (Int32/64, UInt32/64, Utf8, LargeUtf8, Utf8View, Dictionary).
    customer_column: String = "customer_id".into(),
        key "customer_column", default "`customer_id`", flag Some("customer-col"),
        parse column_name, show text;
    /// Transaction time column: Date32, Date64, or a Timestamp of any unit and time zone.
    time_column: String = "order_date".into(),
        key "time_column", default "`order_date`", flag Some("time-col"),
        parse column_name, show text;
    /// Amount column (integer, float, Decimal128).
    amount_column: String = "amount".into(),
        key "amount_column", default "`amount`", flag Some("amount-col"),
        parse column_name, show text;
    /// Order id column: frequency then counts distinct orders.
    order_column: Option<String> = None,
        key "order_column", default "none", flag Some("order-col"),
        parse optional_text, show optional_display;
    /// The as-of date, `YYYY-MM-DD` (held as days since 1970-01-01).
    as_of: Option<i32> = None,
        key "as_of", default "day after the last transaction", flag Some("as-of"),
        parse |v, _| optional_date(v, "clv.as_of"), show optional_date_text;
    /// Null, NaN or infinite amounts: `exclude` or `error`.
    invalid_amounts: InvalidAmounts = InvalidAmounts::default(),
        key "invalid_amounts", default "`exclude`", flag Some("invalid-amounts"),
        parse parsed, show display;
    /// Negative amounts: `net`, `exclude` or `error`.
    negative_amounts: NegativeAmounts = NegativeAmounts::default(),
        key "negative_amounts", default "`net`", flag Some("negative-amounts"),
        parse parsed, show display;
    /// Drop exact duplicate rows.
    dedupe: bool = false,
        key "dedupe", default "`false`", flag Some("dedupe"),
        parse |v, _| parse_bool(v, "clv.dedupe"), show display;
    /// How customer and order ids are typed: `auto` (CSV ids become integers only when all are
    /// plain integers), `string` or `integer`.
    id_type: IdType = IdType::default(),
        key "id_type", default "`auto`", flag Some("id-type"),
        parse parsed, show display;
    /// The purchase grain: `none` (every order), `day`, `week` (Monday start) or `month`: one
    /// purchase per customer per period; unset, the function's default.
    collapse: Option<Collapse> = None,
        key "collapse", default "`none` (RFM), `day` (BTYD)", flag Some("collapse"),
        // 'none' is a grain here, so only an empty value resets to the function's default.
        parse |v: &str, _| Some(v.trim()).filter(|v| !v.is_empty()).map(str::parse).transpose(),
        show optional_display;
    /// RFM score levels, 2..10; unset, the scheme's.
    rfm_bins: Option<u8> = None,
        key "rfm.bins" | "bins", default "the scheme's (5)", flag Some("bins"),
        parse parse_bins, show optional_display;
    /// RFM score method: `quantile`, `ntile`, `fixed`, `mean`, `median`; unset, the scheme's.
    rfm_method: Option<ScoreMethod> = None,
        key "rfm.method" | "method", default "the scheme's (quantile)", flag Some("method"),
        parse |v, _| none_if_empty(v).map(str::parse).transpose(), show optional_display;
    /// RFM segment scheme (`rf_grid`, `rfm11`, `cn8`, `cn8_en`, `rfm3`, `rfm3_en`, `tiers`,
    /// `tiers_en`, a registered one), `kmeans` (k-means clusters), or `none`.
    rfm_scheme: String = "rf_grid".into(),
        key "rfm.scheme" | "scheme", default "`rf_grid`", flag Some("scheme"),
        parse parse_scheme, show text;
    /// Monetary value: `sum` or `mean` per order.
    rfm_monetary: Monetary = Monetary::default(),
        key "rfm.monetary" | "monetary", default "`sum`", flag Some("monetary"),
        parse parsed, show display;
    /// `rfm()` in the fused per-customer operator (`RfmExec`); `false`: an ordinary aggregate +
    /// window plan, which a Ballista cluster can split into stages (same rows).
    rfm_fused: bool = true,
        key "rfm.fused" | "fused", default "`true`", flag None,
        parse |v, _| parse_bool(v, "clv.rfm.fused"), show display;
    /// The fused `rfm()` operator also counts the data policies (`clv_policy_report`'s numbers,
    /// duplicates included) in its one scan, for a program that reads them from the executed
    /// plan (`clv::exec::rfm_exec::policy_report_of`), as `clv rfm` does; it then reads every
    /// column of the source. Off: the operator reads the three columns it needs.
    rfm_policy_counts: bool = false,
        key "rfm.policy_counts" | "policy_counts", default "`false`", flag None,
        parse |v, _| parse_bool(v, "clv.rfm.policy_counts"), show display;
    /// Lets the segmentation table functions (their purchase panel: `segment_evaluate`,
    /// `segment_tune`, `rfm_clusters`, ...) run on a Ballista cluster. Off: on a cluster they fail
    /// with an error naming this option, because a `GROUP BY` or a join over their rows returned
    /// too few rows on the test cluster (a known bug, docs/distributed.md); reading the tables
    /// whole matches local execution.
    cluster_panel: bool = false,
        key "cluster.panel" | "cluster_panel", default "`false`", flag None,
        parse |v, _| parse_bool(v, "clv.cluster.panel"), show display;
    /// Method `fixed`: recency thresholds in days (lower is better), e.g. `30,90,180,365`.
    rfm_recency_thresholds: Option<Vec<f64>> = None,
        key "rfm.recency_thresholds" | "recency_thresholds", default "none", flag Some("recency-thresholds"),
        parse |v, _| parse_thresholds(v, "recency_thresholds"), show thresholds;
    /// Method `fixed`: frequency thresholds, e.g. `1,2,5,10`.
    rfm_frequency_thresholds: Option<Vec<f64>> = None,
        key "rfm.frequency_thresholds" | "frequency_thresholds", default "none", flag Some("frequency-thresholds"),
        parse |v, _| parse_thresholds(v, "frequency_thresholds"), show thresholds;
    /// Method `fixed`: monetary thresholds, e.g. `50,100,500,1000`.
    rfm_monetary_thresholds: Option<Vec<f64>> = None,
        key "rfm.monetary_thresholds" | "monetary_thresholds", default "none", flag Some("monetary-thresholds"),
        parse |v, _| parse_thresholds(v, "monetary_thresholds"), show thresholds;
    /// Frequency and monetary over the last this many days before the as-of date (or cutoff);
    /// recency still sees all history and customers without a purchase in the window stay with
    /// frequency 0 and monetary 0. Unset (`all`), all history.
    rfm_lookback_days: Option<i64> = None,
        key "rfm.lookback_days" | "lookback_days", default "all history", flag Some("lookback-days"),
        parse parse_lookback, show optional_display;
    /// Clusters of scheme `kmeans` (`rfm_clusters`, `rfm(..., 'scheme=kmeans')`), 1..100.
    kmeans_k: usize = 5,
        key "kmeans.k" | "k", default "`5`", flag Some("k"),
        parse parse_clusters, show display;
    /// Seed of every random choice: the k-means++ starts (10 starts, the lowest inertia kept)
    /// and the bootstrap's replicate weights (a hash of seed, replicate and customer id).
    seed: u64 = 0,
        key "seed" | "kmeans.seed" | "ltv.seed", default "`0`", flag Some("seed"),
        parse parse_seed, show display;
    /// BTYD time unit: `day`, `week`, `month` (= 365.25/12 days).
    btyd_time_unit: TimeUnit = TimeUnit::Week,
        key "btyd.time_unit" | "time_unit", default "`week`", flag Some("time-unit"),
        parse |v, _| parse_time_unit(v), show display;
    /// Inclusive end of the BTYD calibration period, `YYYY-MM-DD` (held as days since 1970-01-01).
    btyd_calibration_end: Option<i32> = None,
        key "btyd.calibration_end" | "calibration_end", default "as-of date, else last transaction",
        flag Some("calibration-end"),
        parse |v, _| optional_date(v, "calibration_end"), show optional_date_text;
    /// L2 penalizer λ of every model fit (0: plain maximum likelihood; see the model fits).
    fit_penalizer: f64 = 0.0,
        key "fit.penalizer" | "penalizer", default "`0`", flag None,
        parse parse_number, show display;
    /// Inclusive end of the BTYD holdout period, `YYYY-MM-DD`; unset, no holdout columns.
    btyd_holdout_end: Option<i32> = None,
        key "btyd.holdout_end" | "holdout_end", default "none", flag Some("holdout-end"),
        parse |v, _| optional_date(v, "holdout_end"), show optional_date_text;
    /// Cohort grain: `day`, `week`, `month`, `quarter`, `year`.
    cohort_period: crate::churn::Period = crate::churn::Period::default(),
        key "cohort.period" | "period", default "`month`", flag Some("period"),
        parse parsed, show display;
    /// Lifecycle: new while the first purchase is fewer than this many days ago.
    lifecycle_new_days: i64 = StageWindows::default().new_days,
        key "lifecycle.new_days" | "new_days", default "`30`", flag Some("new-days"),
        parse parse_days, show display;
    /// Lifecycle: active while the last purchase is fewer than this many days ago.
    lifecycle_active_days: i64 = StageWindows::default().active_days,
        key "lifecycle.active_days" | "active_days", default "`90`", flag Some("active-days"),
        parse parse_days, show display;
    /// Lifecycle: churned from this many days without a purchase.
    lifecycle_churn_days: i64 = StageWindows::default().churn_days,
        key "lifecycle.churn_days" | "churn_days", default "`180`", flag Some("churn-days"),
        parse parse_days, show display;
    /// The transaction model of `clv_predict`, `clv_model`, `clv_tracking` and the churn
    /// functions: `bg_nbd`, `pareto_nbd`, `mbg_nbd`, or `auto` (not for the churn functions:
    /// the lowest holdout RMSE when there is a holdout, else the lowest BIC).
    ltv_model: String = "bg_nbd".into(),
        key "ltv.model" | "model", default "`bg_nbd`", flag None,
        parse parse_transaction_model, show text;
    /// Bootstrap intervals of `clv_predict` and `clv_model` at this level (strictly between 0
    /// and 1, e.g. `0.9`); unset, none (`clv_parameters`: 0.95).
    ltv_intervals: Option<f64> = None,
        key "ltv.intervals" | "intervals", default "none", flag Some("intervals"),
        parse parse_level, show optional_display;
    /// Bootstrap replicates B of the intervals, 2..100000.
    ltv_replicates: usize = crate::ltv::bootstrap::DEFAULT_REPLICATES,
        key "ltv.replicates" | "replicates", default "`200`", flag Some("replicates"),
        parse parse_replicates, show display;
    /// How bootstrap intervals are read off the replicates: `log_normal` (normal on the log
    /// scale of a positive quantity, the logit scale of a probability such as P(alive); the
    /// percentile interval where a value sits on a bound), `percentile`, `bias_corrected` or
    /// `bca`.
    ltv_interval_method: crate::ltv::bootstrap::IntervalMethod = crate::ltv::bootstrap::IntervalMethod::LogNormal,
        key "ltv.interval_method" | "interval_method", default "`log_normal`", flag Some("interval-method"),
        parse parse_interval_method, show display;
    /// The candidates of `clv_compare` and `model=auto`: transaction models, comma-separated;
    /// unset, every transaction model.
    ltv_models: Option<Vec<String>> = None,
        key "ltv.models" | "models", default "`bg_nbd,pareto_nbd,mbg_nbd`", flag Some("models"),
        parse parse_models, show |v: &Option<Vec<String>>| v.as_ref().map(|v| v.join(","));
    /// The penalizer grid of `clv_compare`: each candidate is fitted with each λ ≥ 0,
    /// comma-separated; unset, `fit.penalizer` alone.
    ltv_penalizers: Option<Vec<f64>> = None,
        key "ltv.penalizers" | "penalizers", default "`fit.penalizer`", flag Some("penalizers"),
        parse parse_penalizers, show thresholds;
    /// The period of `clv_tracking` in days: `week` (7), `day` (1) or a number of days 1..366.
    ltv_tracking_period: i64 = 7,
        key "ltv.tracking_period" | "tracking_period", default "`week`", flag None,
        parse parse_tracking_period, show display;
    /// `clv_predict` horizon in the BTYD time unit.
    ltv_horizon: f64 = 52.0,
        key "ltv.horizon" | "horizon", default "`52`", flag Some("horizon"),
        parse parse_number, show display;
    /// `clv_predict` discount rate per time unit.
    ltv_discount_rate: f64 = 0.0,
        key "ltv.discount_rate" | "discount_rate", default "`0`", flag Some("discount-rate"),
        parse parse_number, show display;
    /// `clv_predict` margin.
    ltv_margin: f64 = 1.0,
        key "ltv.margin" | "margin", default "`1`", flag Some("margin"),
        parse parse_number, show display;
    /// `churn_labels` cutoff dates as written: a list `d1,d2,...` or a range `start..end`
    /// (expanded with `churn.every`).
    churn_cutoffs: Option<String> = None,
        key "churn.cutoffs" | "cutoffs", default "none", flag Some("cutoffs"),
        parse optional_text, show optional_display;
    /// A cutoff range takes the last day of every `day`, `week`, `month`, `quarter` or `year`.
    churn_every: crate::churn::Period = crate::churn::Period::Month,
        key "churn.every" | "every", default "`month`", flag Some("every"),
        parse parsed, show display;
    /// The churn window in days after a cutoff.
    churn_window_days: i64 = 90,
        key "churn.window_days" | "window_days", default "`90`", flag Some("window-days"),
        parse parse_days, show display;
    /// `churn_labels` adds the BTYD features `x, t_x, t, p_alive, churn_probability` (no
    /// purchase in the window), `dropout_probability` (1 − P(alive)) and `expected_purchases`.
    churn_btyd: bool = false,
        key "churn.btyd" | "btyd", default "`false`", flag Some("btyd"),
        parse parse_bool, show display;
    /// The trained churn model learns from the last this many `churn.every` period ends whose
    /// window ends on or before the scoring cutoff (1 to 120).
    churn_train_periods: u32 = 12,
        key "churn.train_periods" | "train_periods", default "`12`", flag Some("train-periods"),
        parse parse_train_periods, show display;
    /// The trained churn model's ridge penalty λ on the standardised coefficients.
    churn_lambda: f64 = 0.01,
        key "churn.lambda" | "lambda", default "`0.01`", flag Some("lambda"),
        parse parse_number, show display;
    /// `churn_risk` tier `high` from this churn probability on.
    churn_high_risk: f64 = 0.9,
        key "churn.high_risk" | "high_risk", default "`0.9`", flag Some("high-risk"),
        parse parse_probability, show display;
    /// `churn_risk` tier `medium` from this churn probability on, below `churn.high_risk`.
    churn_medium_risk: f64 = 0.7,
        key "churn.medium_risk" | "medium_risk", default "`0.7`", flag Some("medium-risk"),
        parse parse_probability, show display;
    /// `churn_evaluate`: a table or file with more scores to compare (`customer_id`, optionally
    /// `cutoff`, and numeric score columns, higher = more likely to churn).
    churn_scores: Option<String> = None,
        key "churn.scores" | "scores", default "none", flag Some("scores"),
        parse optional_text, show optional_display;
}

fn none_if_empty(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty() && !v.eq_ignore_ascii_case("none") && !v.eq_ignore_ascii_case("default")).then_some(v)
}

fn column_name(v: &str, key: &str) -> Result<String> {
    match none_if_empty(v) {
        Some(v) => Ok(v.to_string()),
        None => plan_err!("clv.{key} needs a column name"),
    }
}

fn optional_text(v: &str, _: &str) -> Result<Option<String>> {
    Ok(none_if_empty(v).map(str::to_string))
}

fn optional_date(v: &str, what: &str) -> Result<Option<i32>> {
    none_if_empty(v).map(|v| parse_date(v, what)).transpose()
}

fn parsed<T: FromStr<Err = datafusion::error::DataFusionError>>(v: &str, _: &str) -> Result<T> {
    v.parse()
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

fn parse_probability(v: &str, key: &str) -> Result<f64> {
    match v.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => plan_err!("{key} must be a probability from 0 to 1, got '{v}'"),
    }
}

fn parse_train_periods(v: &str, key: &str) -> Result<u32> {
    match v.trim().parse::<u32>() {
        Ok(n) if (1..=120).contains(&n) => Ok(n),
        _ => plan_err!("{key} must be a whole number from 1 to 120, got '{v}'"),
    }
}

fn parse_days(v: &str, key: &str) -> Result<i64> {
    match v.trim().parse::<i64>() {
        Ok(d) if d > 0 => Ok(d),
        _ => plan_err!("{key} must be a positive whole number of days, got '{v}'"),
    }
}

fn parse_lookback(v: &str, key: &str) -> Result<Option<i64>> {
    match none_if_empty(v) {
        Some(v) if v.eq_ignore_ascii_case("all") || v == "0" => Ok(None),
        Some(v) => parse_days(v, key).map(Some),
        None => Ok(None),
    }
}

fn parse_clusters(v: &str, key: &str) -> Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(k) if (1..=100).contains(&k) => Ok(k),
        _ => plan_err!("{key} must be a whole number of clusters between 1 and 100, got '{v}'"),
    }
}

fn parse_seed(v: &str, key: &str) -> Result<u64> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| plan_datafusion_err!("{key} must be a whole number >= 0, got '{v}'"))
}

fn parse_bool(v: &str, key: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => plan_err!("{key} must be true or false, got '{other}'"),
    }
}

fn parse_bins(v: &str, _: &str) -> Result<Option<u8>> {
    none_if_empty(v)
        .map(|v| {
            v.parse::<u8>()
                .ok()
                .filter(|b| (2..=10).contains(b))
                .ok_or_else(|| plan_datafusion_err!("bins must be an integer between 2 and 10, got '{v}'"))
        })
        .transpose()
}

fn parse_scheme(v: &str, _: &str) -> Result<String> {
    // 'none' is a choice here (no segments); only an empty value means the default.
    let v = v.trim();
    Ok(if v.is_empty() || v.eq_ignore_ascii_case("default") {
        "rf_grid"
    } else {
        v
    }
    .to_string())
}

/// `ltv.model = 'auto'`: the model is chosen among the transaction models of the registry.
pub const AUTO_MODEL: &str = "auto";

/// A transaction model of the registry, by name or alias, stored by its name; or
/// [`AUTO_MODEL`].
fn parse_transaction_model(v: &str, _: &str) -> Result<String> {
    use crate::ltv::{Role, registry};
    let model = v.trim().to_ascii_lowercase();
    match registry::model_or_alias(&model) {
        Some(m) if m.has_role(Role::Transactions) => Ok(m.name().to_string()),
        _ if model == AUTO_MODEL => Ok(model),
        _ => {
            let names: Vec<&str> = registry::models_with(Role::Transactions).map(|m| m.name()).collect();
            plan_err!("model must be {} or {AUTO_MODEL}, got '{model}'", names.join(", "))
        }
    }
}

/// Transaction models of the registry, comma-separated (names or aliases; stored by name).
fn parse_models(v: &str, key: &str) -> Result<Option<Vec<String>>> {
    let Some(v) = none_if_empty(v) else {
        return Ok(None);
    };
    let models = v
        .split(',')
        .filter(|m| !m.trim().is_empty())
        .map(|m| match parse_transaction_model(m, key)? {
            m if m == AUTO_MODEL => plan_err!("{key}: list the models to compare, not '{AUTO_MODEL}'"),
            m => Ok(m),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(models))
}

fn parse_penalizers(v: &str, key: &str) -> Result<Option<Vec<f64>>> {
    let Some(v) = none_if_empty(v) else {
        return Ok(None);
    };
    let grid = v
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_number(p, key))
        .collect::<Result<Vec<_>>>()?;
    if grid.is_empty() {
        return plan_err!("{key} needs at least one number, e.g. '0,0.01,0.1'");
    }
    Ok(Some(grid))
}

fn parse_tracking_period(v: &str, key: &str) -> Result<i64> {
    match v.trim().to_ascii_lowercase().as_str() {
        "week" => Ok(7),
        "day" => Ok(1),
        other => match other.parse::<i64>() {
            Ok(d) if (1..=366).contains(&d) => Ok(d),
            _ => plan_err!(
                "{key} must be week, day or a number of days from 1 to 366, got '{}'",
                v.trim()
            ),
        },
    }
}

/// An interval level strictly between 0 and 1; empty or `none`: no intervals.
fn parse_level(v: &str, key: &str) -> Result<Option<f64>> {
    let v = v.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(l) if l > 0.0 && l < 1.0 => Ok(Some(l)),
        _ => plan_err!("{key} must be a level strictly between 0 and 1 (e.g. 0.9), got '{v}'"),
    }
}

fn parse_replicates(v: &str, key: &str) -> Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(b) if (2..=100_000).contains(&b) => Ok(b),
        _ => plan_err!("{key} must be a whole number from 2 to 100000, got '{v}'"),
    }
}

fn parse_interval_method(v: &str, key: &str) -> Result<crate::ltv::bootstrap::IntervalMethod> {
    crate::ltv::bootstrap::IntervalMethod::from_name(v).ok_or_else(|| {
        plan_datafusion_err!(
            "{key} must be one of {}, got '{}'",
            crate::ltv::bootstrap::IntervalMethod::names(),
            v.trim()
        )
    })
}

fn text(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn display<T: fmt::Display>(v: &T) -> Option<String> {
    Some(v.to_string())
}

fn optional_display<T: fmt::Display>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(T::to_string)
}

fn optional_date_text(v: &Option<i32>) -> Option<String> {
    v.map(format_date)
}

fn thresholds(v: &Option<Vec<f64>>) -> Option<String> {
    v.as_ref()
        .map(|v| v.iter().map(f64::to_string).collect::<Vec<_>>().join(","))
}

impl ClvOptions {
    /// The options of a session (defaults when clv is not registered on it).
    ///
    /// FFI-aware: when clv runs as a loaded library (datafusion-python, `clv-python`), the
    /// host session does not hold a `ClvOptions`: `SET clv.*` there lands in the host's one
    /// foreign-options namespace ([`DATAFUSION_FFI_CONFIG_NAMESPACE`], the datafusion-ffi
    /// `FFI_ExtensionOptions`), which crosses the boundary as `clv.`-prefixed text entries.
    /// Those entries are applied on top of the local options, in key order (deterministic),
    /// and parsed here, so a bad value set from Python fails the query with the key named.
    pub fn from_session_config(config: &datafusion::common::config::ConfigOptions) -> Result<Self> {
        let mut options = config.extensions.get::<ClvOptions>().cloned().unwrap_or_default();
        let foreign = config
            .extensions
            .iter()
            .filter(|(namespace, _)| *namespace == DATAFUSION_FFI_CONFIG_NAMESPACE)
            .flat_map(|(_, extension)| extension.entries());
        let mut entries: Vec<(String, String)> = foreign
            .filter_map(|e| Some((e.key.strip_prefix("clv.")?.to_string(), e.value?)))
            .collect();
        entries.sort();
        for (key, value) in entries {
            options.set_option(&key, &value).map_err(|e| {
                let message = match e {
                    datafusion::error::DataFusionError::Plan(m) => m,
                    other => other.strip_backtrace(),
                };
                crate::usage_error!("SET clv.{key} = '{value}': {message}")
            })?;
        }
        Ok(options)
    }

    /// The options of a context.
    pub fn from_context(ctx: &SessionContext) -> Result<Self> {
        Self::from_session_config(ctx.state().config_options())
    }

    /// The lifecycle stage windows.
    pub fn lifecycle_windows(&self) -> StageWindows {
        StageWindows {
            new_days: self.lifecycle_new_days,
            active_days: self.lifecycle_active_days,
            churn_days: self.lifecycle_churn_days,
        }
    }

    /// Sets one option by key or alias (with or without the `clv.` prefix); the value is parsed
    /// and checked.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        let key = key.trim().to_ascii_lowercase();
        let key = key.strip_prefix("clv.").unwrap_or(&key);
        let Some(option) = ClvOption::find(key) else {
            let known: Vec<&str> = OPTIONS.iter().map(|o| o.key).collect();
            return plan_err!("unknown clv option '{key}': known options are {}", known.join(", "));
        };
        (option.set)(self, value, key)
    }

    /// The current value of every option as text (`None` = unset / default rule), in the
    /// order of [`OPTIONS`].
    pub fn values(&self) -> Vec<(&'static str, Option<String>)> {
        OPTIONS.iter().map(|o| (o.key, (o.get)(self))).collect()
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
        OPTIONS
            .iter()
            .map(|o| ConfigEntry {
                key: format!("clv.{}", o.key),
                value: (o.get)(self),
                description: o.description,
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
        assert_eq!(o.values().len(), OPTIONS.len());
    }

    /// The host side of datafusion-ffi's foreign options (`FFI_ExtensionOptions`): one
    /// namespace of full-key text entries, as a host without clv's options type holds them.
    #[derive(Debug, Clone, Default)]
    struct ForeignOptions(std::collections::BTreeMap<String, String>);

    impl ConfigExtension for ForeignOptions {
        const PREFIX: &'static str = DATAFUSION_FFI_CONFIG_NAMESPACE;
    }

    impl ExtensionOptions for ForeignOptions {
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
            self.0.insert(key.to_string(), value.to_string());
            Ok(())
        }
        fn entries(&self) -> Vec<ConfigEntry> {
            let entry = |(k, v): (&String, &String)| ConfigEntry {
                key: k.clone(),
                value: Some(v.clone()),
                description: "",
            };
            self.0.iter().map(entry).collect()
        }
    }

    /// `SET clv.*` in a host that loaded clv through the FFI lands in the foreign namespace;
    /// the lookup reads it, and a bad value fails naming the key instead of being dropped.
    #[test]
    fn options_set_in_a_foreign_host_are_read_and_checked() {
        let mut config = datafusion::common::config::ConfigOptions::new();
        config.extensions.insert(ForeignOptions::default());
        config.set("clv.rfm.bins", "4").unwrap();
        config.set("clv.as_of", "1998-07-01").unwrap();
        config.set("other_library.flag", "x").unwrap();
        let o = ClvOptions::from_session_config(&config).unwrap();
        assert_eq!(o.rfm_bins, Some(4));
        assert_eq!(o.as_of.map(format_date).as_deref(), Some("1998-07-01"));
        // A local ClvOptions (clv registered natively) is the base the foreign values override.
        let mut local = ClvOptions::default();
        local.set_option("method", "ntile").unwrap();
        local.set_option("rfm.bins", "3").unwrap();
        config.extensions.insert(local);
        let o = ClvOptions::from_session_config(&config).unwrap();
        assert_eq!((o.rfm_bins, o.rfm_method), (Some(4), Some(ScoreMethod::Ntile)));
        let mut bad = datafusion::common::config::ConfigOptions::new();
        bad.extensions.insert(ForeignOptions::default());
        bad.set("clv.rfm.bins", "11").unwrap();
        let e = ClvOptions::from_session_config(&bad).unwrap_err().to_string();
        assert!(e.contains("clv.rfm.bins") && e.contains("between 2 and 10"), "{e}");
        // Without either, the defaults.
        let none = datafusion::common::config::ConfigOptions::new();
        assert_eq!(ClvOptions::from_session_config(&none).unwrap().rfm_bins, None);
    }

    /// `ltv.model` reads the model registry: a transaction model by name or alias (the alias
    /// `bgnbd`, which clv_predict's plan accepted and this option rejected, is now accepted
    /// by both), stored by its name; a model of another role is rejected.
    #[test]
    fn ltv_model_is_a_transaction_model_of_the_registry() {
        let mut o = ClvOptions::default();
        o.set_option("ltv.model", "BGNBD").unwrap();
        assert_eq!(o.ltv_model, "bg_nbd");
        o.set_option("model", "mbgnbd").unwrap();
        assert_eq!(o.ltv_model, "mbg_nbd");
        o.set_option("model", "pareto_nbd").unwrap();
        assert_eq!(o.ltv_model, "pareto_nbd");
        o.set_option("model", "Auto").unwrap();
        assert_eq!(o.ltv_model, AUTO_MODEL);
        for rejected in ["gamma_gamma", "sbg", "weibull"] {
            let e = o.set_option("ltv.model", rejected).unwrap_err().to_string();
            assert!(
                e.contains(&format!(
                    "model must be bg_nbd, pareto_nbd, mbg_nbd or auto, got '{rejected}'"
                )),
                "{e}"
            );
        }
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
            ("id_type", "string"),
            ("collapse", "day"),
            ("rfm.bins", "4"),
            ("rfm.method", "fixed"),
            ("rfm.scheme", "rfm11"),
            ("rfm.monetary", "mean"),
            ("rfm.fused", "false"),
            ("rfm.policy_counts", "true"),
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
            ("rfm.lookback_days", "365"),
            ("kmeans.k", "8"),
            ("seed", "7"),
            ("churn.train_periods", "6"),
            ("churn.lambda", "0.03"),
            ("churn.high_risk", "0.85"),
            ("churn.medium_risk", "0.6"),
            ("churn.scores", "my_scores"),
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
