//! The command-line grammar: every command, flag and example shown by `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::input::InputFormat;
use crate::output::Format;

/// The clv option the flag `--<field>` sets (`customer_col` sets `customer_column`): each option
/// declares its flag in `clv::config::OPTIONS`, and a test checks that every flag below is there.
pub fn option_key(field: &str) -> &'static str {
    let flag = field.replace('_', "-");
    clv::config::OPTIONS
        .iter()
        .find(|o| o.flag == Some(flag.as_str()))
        .map(|o| o.key)
        .unwrap_or_else(|| panic!("--{flag} sets no clv option; declare it in clv::config::OPTIONS"))
}

/// A struct of optional text flags, each setting the clv option that declares it, with
/// `options()` listing them.
macro_rules! option_flags {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident: $value:literal,)* }) => {
        #[derive(Args, Debug, Clone, Default)]
        $(#[$m])*
        pub struct $name {
            $($(#[$fm])* #[arg(long, value_name = $value)] pub $field: Option<String>,)*
        }

        impl $name {
            /// The clv options these flags set.
            pub fn options(&self) -> Vec<(&'static str, Option<String>)> {
                vec![$((option_key(stringify!($field)), self.$field.clone())),*]
            }
        }
    };
}

/// The help of a command: what it does, its usage, its examples, then its flags grouped
/// (the command's own options first, then input, columns, data policies, output and the flags
/// every command accepts).
pub const EXAMPLES_FIRST: &str = "{about-with-newline}\n{usage-heading} {usage}{after-help}\n\n{all-args}";

#[derive(Parser)]
#[command(
    name = "clv",
    version,
    about = "Customer-value analytics (RFM, LTV models, churn, cohorts) on Apache DataFusion",
    long_about = "Customer-value analytics on transaction files (Parquet, CSV, newline-delimited JSON): RFM \
segments, BTYD summaries, cohort retention, lifecycle stages and churn, BG/NBD-family LTV fits and \
predictions, SQL with every clv function, and a self-contained HTML report with charts.\n\n\
Every command reads the bundled CDNOW sample (69,659 transactions of 23,570 customers) when no PATH is given.",
    after_help = "Demo on the bundled CDNOW data:\n  clv rfm\n\nMore:\n  clv report --out cdnow-report.html\n  clv sql                                   # interactive SQL shell\n\nExit codes: 0 ok, 2 usage error, 65 data error, 70 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Flags every command accepts.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Read clv options (column names, policies, model settings) from this TOML file [default: ./clv.toml if present].
    #[arg(long, global = true, help_heading = "Every command", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Errors only on standard error (no progress, notes or warnings); on standard output the result only: nothing with --out, else the full result in --format (a table by default) instead of the terminal view.
    #[arg(long, short, global = true, help_heading = "Every command")]
    pub quiet: bool,
    /// Run on an Apache Ballista cluster: the scheduler's address, e.g. df://scheduler:50050
    /// (its executors need the clv functions: run clv-scheduler and clv-executor; see docs/distributed.md).
    #[arg(long, global = true, help_heading = "Every command", value_name = "URL")]
    pub cluster: Option<String>,
    /// Partitions to plan each query with [default: the number of cores]; the output is the same, byte for byte, at any number.
    #[arg(long, global = true, help_heading = "Every command", value_name = "N")]
    pub partitions: Option<usize>,
    /// Print every digit of floats in terminal tables (they are rounded for reading: money to 2 decimals, other numbers to 4); files and --format csv|json|parquet always keep full precision.
    #[arg(long, global = true, help_heading = "Every command")]
    pub full_precision: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// RFM scores and segments per customer, with segment sizes and data-policy counts.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv rfm                                  # the bundled CDNOW sample
  clv rfm orders.parquet --as-of 1998-07-01 --bins 5
  clv rfm 'data/*.parquet' --scheme rfm11 --out rfm.csv
  clv rfm orders.csv --customer-col cust --time-col ts --amount-col total
  clv rfm orders.ndjson --format json > rfm.ndjson")]
    Rfm(RfmArgs),
    /// The buy-till-you-die summary per customer (x, t_x, t, monetary; holdout counts) that LTV models fit on.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv summary                                             # CDNOW, weeks, calibration to the last day
  clv summary orders.parquet --calibration-end 1997-09-30 --holdout-end 1998-06-30
  clv summary orders.csv --time-unit day --out summary.parquet")]
    Summary(SummaryArgs),
    /// Cohort retention: customers by first-purchase period, active customers and revenue per period offset.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv cohorts                                   # monthly retention triangle of CDNOW
  clv cohorts orders.parquet --period quarter --metric revenue
  clv cohorts orders.parquet --out cohorts.csv  # every (cohort, offset) row")]
    Cohorts(CohortArgs),
    /// Churn: lifecycle stages, stage transitions between two dates, churn labels and their evaluation.
    #[command(
        subcommand,
        help_template = EXAMPLES_FIRST,
        after_help = "Examples:
  clv churn stages                                   # lifecycle stage per CDNOW customer
  clv churn transitions --from 1997-10-01 --to 1998-04-01
  clv churn stages --help"
    )]
    Churn(ChurnCommand),
    /// Fits an LTV model (BG/NBD, Pareto/NBD, MBG/NBD or Gamma-Gamma, or the best transaction model: auto) and writes it as JSON.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv fit --out bgnbd.json                                  # BG/NBD on CDNOW, in weeks
  clv fit orders.parquet --calibration-end 1997-09-30 --out bgnbd.json
  clv fit orders.parquet --model gamma_gamma --out spend.json
  clv fit orders.parquet --model pareto_nbd --time-unit day > pnbd.json
  clv fit --model auto --calibration-end 1997-09-30 --holdout-end 1998-06-30 --out best.json   # chosen by holdout error")]
    Fit(FitArgs),
    /// Per-customer predictions from a fitted model: P(alive), expected purchases, expected spend and CLV.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv fit --out bgnbd.json && clv fit --model gamma_gamma --out spend.json
  clv predict --model bgnbd.json                            # CDNOW, 52 weeks ahead
  clv predict orders.parquet --model bgnbd.json --spend-model spend.json --horizon 26 --out clv.csv
  clv predict orders.parquet --model bgnbd.json --discount-rate 0.002 --margin 0.3 --format json
  clv predict --model bgnbd.json --spend-model spend.json --intervals 0.9   # bootstrap bounds")]
    Predict(PredictArgs),
    /// Holdout accuracy and model choice: BG/NBD, Pareto/NBD and MBG/NBD (times a penalizer grid) fitted on the calibration period and judged on the holdout beside the naive baseline, with AIC and BIC; the chosen model is marked.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv compare --calibration-end 1997-09-30 --holdout-end 1998-06-30      # CDNOW
  clv compare orders.parquet --calibration-end 2024-03-31 --holdout-end 2024-06-30 --penalizers 0,0.001,0.01
  clv compare orders.parquet --calibration-end 2024-06-30 --models bg_nbd,mbg_nbd   # no holdout: BIC decides
  clv compare --calibration-end 1997-09-30 --holdout-end 1998-06-30 --out compare.csv
  clv fit --model auto --calibration-end 1997-09-30 --holdout-end 1998-06-30 --out best.json   # writes the chosen model")]
    Compare(CompareArgs),
    /// Writes a self-contained HTML report with charts: overview, RFM, cohorts, lifecycle, BG/NBD, CLV and churn.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv report --out cdnow-report.html               # CDNOW with its 1997-09-30 calibration split
  clv report orders.parquet --out report.html --calibration-end 2024-03-31 --holdout-end 2024-06-30
  clv report 'data/*.parquet' --out report.html --period week --top 50")]
    Report(ReportArgs),
    /// Ranks a grid of segmentations (schemes x bins x methods x lookback windows x k) by how well they separate future repurchase and revenue; writes an HTML chart.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv tune --cutoffs 1997-03-31..1997-09-30 --window-days 273     # CDNOW, the default grid
  clv tune orders.parquet --schemes rf_grid,rfm11,cell,kmeans --bins-list 3,4,5 --lookbacks all,180,365 --ks 4,6,8
  clv tune orders.parquet --rank-by stability --html tune.html --out tune.csv")]
    Tune(crate::cli_segments::TuneArgs),
    /// Segment evaluation against the future, migration between dates, series over time and k-means clusters.
    #[command(
        subcommand,
        help_template = EXAMPLES_FIRST,
        after_help = "Examples:
  clv segments evaluate --cutoffs 1997-09-30 --window-days 273
  clv segments transitions --from 1997-09-30 --to 1998-03-31
  clv segments series
  clv segments clusters --k 5"
    )]
    Segments(crate::cli_segments::SegmentsCommand),
    /// Lists the segment schemes, or prints one scheme's rules and suggested actions.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv schemes
  clv schemes tiers
  clv schemes my_scheme --scheme-file my_scheme.toml")]
    Schemes(crate::cli_segments::SchemesArgs),
    /// Runs SQL with every clv function registered; with no query, opens an interactive SQL shell.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv sql                                          # interactive shell: history, multi-line, \\d
  clv sql \"SELECT segment, count(*) FROM rfm('cdnow') GROUP BY 1\"
  clv sql --table orders=orders.parquet \"SELECT * FROM rfm('orders') LIMIT 10\" --format csv
  clv sql --table o='data/*.ndjson' \"SELECT * FROM cohort_retention('o', 'month')\" --out cohorts.parquet")]
    Sql(SqlArgs),
}

/// Where results go.
#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Output format: of the full result on standard output, or of an --out file without a known extension [default: from --out's extension, else the terminal view].
    #[arg(long, value_enum, help_heading = "Output")]
    pub format: Option<Format>,
    /// Write the full result to this file (.csv, .json/.ndjson, .parquet, .txt).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub out: Option<PathBuf>,
}

/// A per-customer result: its first rows on the terminal, all of it with --out or --format.
#[derive(Args, Debug, Clone, Default)]
pub struct ViewArgs {
    /// Preview rows to print on the terminal.
    #[arg(long, default_value_t = 10, value_name = "N", help_heading = "Output")]
    pub preview: usize,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The transaction input and its contract.
#[derive(Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Transactions: a Parquet, CSV or newline-delimited JSON file, a folder or a glob [default: the bundled CDNOW sample].
    #[arg(help_heading = "Input")]
    pub path: Option<String>,
    /// Input format [default: from the file extension: .parquet, .csv, .json/.ndjson/.jsonl].
    #[arg(long, value_enum, help_heading = "Input")]
    pub input_format: Option<InputFormat>,
    #[command(flatten)]
    pub contract: ContractArgs,
}

option_flags! {
    /// The transaction contract's columns and policies.
    ContractFlags {
        /// Customer id column [default: customer_id].
        #[arg(help_heading = "Columns")]
        customer_col: "COLUMN",
        /// Transaction date/timestamp column [default: order_date]; text is parsed as YYYY-MM-DD or a timestamp.
        #[arg(help_heading = "Columns")]
        time_col: "COLUMN",
        /// Amount column [default: amount].
        #[arg(help_heading = "Columns")]
        amount_col: "COLUMN",
        /// Order id column: frequency counts distinct orders [default: every row is an order].
        #[arg(help_heading = "Columns")]
        order_col: "COLUMN",
        /// Customer and order ids: auto (CSV ids become integers only if all are plain integers; "007" next to "7" is an error), string or integer [default: auto].
        #[arg(help_heading = "Columns")]
        id_type: "TYPE",
        /// As-of date YYYY-MM-DD [default: the day after the last transaction].
        #[arg(help_heading = "Data policies")]
        as_of: "DATE",
        /// Negative amounts: net, exclude or error [default: net].
        #[arg(help_heading = "Data policies")]
        negative_amounts: "POLICY",
        /// Null/NaN/infinite amounts: exclude or error [default: exclude].
        #[arg(help_heading = "Data policies")]
        invalid_amounts: "POLICY",
        /// Count one purchase per customer per day: none or day [default: none].
        #[arg(help_heading = "Data policies")]
        collapse: "GRAIN",
    }
}

/// The transaction contract: columns and data policies.
#[derive(Args, Debug, Clone, Default)]
pub struct ContractArgs {
    #[command(flatten)]
    pub flags: ContractFlags,
    /// Drop exact duplicate rows.
    #[arg(long, help_heading = "Data policies")]
    pub dedupe: bool,
}

impl ContractArgs {
    /// The clv options these flags set.
    pub fn options(&self) -> Vec<(&'static str, Option<String>)> {
        let mut options = self.flags.options();
        options.push((option_key("dedupe"), self.dedupe.then(|| "true".to_string())));
        options
    }
}

/// RFM scoring options.
#[derive(Args, Debug, Clone, Default)]
pub struct RfmOptions {
    /// Score levels, 2..10 [default: the scheme's, 5].
    #[arg(long)]
    pub bins: Option<u8>,
    /// quantile, ntile, fixed, mean or median [default: the scheme's].
    #[arg(long)]
    pub method: Option<String>,
    /// Segment scheme: rf_grid, rfm11, cn8, cn8_en, rfm3, rfm3_en, tiers, tiers_en, none, or one from --scheme-file (clv schemes lists them) [default: rf_grid].
    #[arg(long)]
    pub scheme: Option<String>,
    /// Load a segment scheme from a TOML or JSON file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub scheme_file: Vec<PathBuf>,
    /// Monetary value: sum or mean [default: sum].
    #[arg(long)]
    pub monetary: Option<String>,
    /// Method fixed: recency thresholds in days, e.g. 30,90,180,365.
    #[arg(long, value_name = "LIST")]
    pub recency_thresholds: Option<String>,
    /// Method fixed: frequency thresholds, e.g. 1,2,5,10.
    #[arg(long, value_name = "LIST")]
    pub frequency_thresholds: Option<String>,
    /// Method fixed: monetary thresholds, e.g. 50,100,500,1000.
    #[arg(long, value_name = "LIST")]
    pub monetary_thresholds: Option<String>,
    /// Frequency and monetary over the last N days only; recency over all history [default: all history].
    #[arg(long, value_name = "DAYS")]
    pub lookback_days: Option<String>,
}

impl RfmOptions {
    /// The clv options these flags set.
    pub fn options(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            (option_key("bins"), self.bins.map(|b| b.to_string())),
            (option_key("method"), self.method.clone()),
            (option_key("scheme"), self.scheme.clone()),
            (option_key("monetary"), self.monetary.clone()),
            (option_key("recency_thresholds"), self.recency_thresholds.clone()),
            (option_key("frequency_thresholds"), self.frequency_thresholds.clone()),
            (option_key("monetary_thresholds"), self.monetary_thresholds.clone()),
            (option_key("lookback_days"), self.lookback_days.clone()),
        ]
    }
}

#[derive(Args)]
pub struct RfmArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub view: ViewArgs,
}

option_flags! {
    /// BTYD summary options.
    BtydArgs {
        /// Inclusive end of the calibration period YYYY-MM-DD [default: the as-of date, else the last transaction].
        calibration_end: "DATE",
        /// Inclusive end of the holdout period YYYY-MM-DD (adds x_holdout, t_holdout) [default: no holdout].
        holdout_end: "DATE",
        /// Time unit of t_x and t: day, week or month (= 365.25/12 days) [default: week].
        time_unit: "UNIT",
    }
}

#[derive(Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub btyd: BtydArgs,
    #[command(flatten)]
    pub view: ViewArgs,
}

/// Which cohort measure the terminal triangle shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CohortMetric {
    /// Share of the cohort active in the period, in %.
    Retention,
    /// Revenue relative to the cohort's first period, in %.
    Revenue,
    /// Active customers.
    Customers,
    /// Cumulative revenue per cohort customer.
    Cumulative,
}

#[derive(Args)]
pub struct CohortArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Cohort grain: day, week (Monday start), month, quarter or year [default: month].
    #[arg(long)]
    pub period: Option<String>,
    /// The measure the terminal triangle shows (files get every column).
    #[arg(long, value_enum, default_value_t = CohortMetric::Retention)]
    pub metric: CohortMetric,
    #[command(flatten)]
    pub output: OutputArgs,
}

option_flags! {
    /// Lifecycle windows.
    LifecycleArgs {
        /// A customer is new for this many days after the first purchase [default: 30].
        new_days: "DAYS",
        /// Active while the last purchase is fewer than this many days ago [default: 90].
        active_days: "DAYS",
        /// Churned once the last purchase is at least this many days ago [default: 180].
        churn_days: "DAYS",
    }
}

#[derive(Subcommand)]
pub enum ChurnCommand {
    /// Lifecycle stage per customer as of a date: new, active, reactivated, silent or churned.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn stages                                   # CDNOW as of the day after its last transaction
  clv churn stages orders.parquet --as-of 2024-06-30 --churn-days 120
  clv churn stages orders.parquet --out stages.csv")]
    Stages(StagesArgs),
    /// Customers moving between lifecycle stages from one date to another, with their revenue in between.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn transitions --from 1997-10-01 --to 1998-04-01
  clv churn transitions orders.parquet --from 2024-01-01 --to 2024-06-30 --format csv")]
    Transitions(TransitionsArgs),
    /// Churn labels for training: per cutoff and customer, the RFM features as of the cutoff and whether they bought in the window after it.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn labels --cutoffs 1997-09-30 --window-days 90
  clv churn labels orders.parquet --cutoffs 2024-01-01..2024-06-30 --every month --btyd --out labels.parquet
  clv churn labels --cutoffs 1997-06-30,1997-09-30 --format csv > labels.csv")]
    Labels(LabelsArgs),
    /// Every churn score side by side on the labels of each cutoff: the trained model, the BTYD window probability, recency, the RFM segment, 1 - P(alive), the base rate (AUC, Brier, log loss, calibration, lift and gain).
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn evaluate --cutoffs 1997-09-30 --window-days 90
  clv churn evaluate orders.parquet --cutoffs 2024-01-31..2024-06-30 --window-days 60 --format csv
  clv churn evaluate --cutoffs 1997-09-30 --scores my_scores.parquet   # customer_id [, cutoff] and score columns")]
    Evaluate(EvaluateArgs),
    /// Churn risk per customer from the trained model: the probability of no purchase in the window, its tier, expected value and value at risk.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn risk                                     # CDNOW at its last transaction date, 90-day window
  clv churn risk orders.parquet --cutoff 2024-06-30 --window-days 60 --out risk.parquet")]
    Risk(RiskArgs),
    /// Whom to contact: customers ranked by value at risk (churn probability x expected value), for a CRM.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn contacts --top 20
  clv churn contacts orders.parquet --cutoff 2024-06-30 --tier high,medium --out contacts.csv")]
    Contacts(ContactsArgs),
    /// The trained churn model: its training cutoffs, coefficients with standard errors and convergence; --out writes its JSON.
    #[command(help_template = EXAMPLES_FIRST, after_help = "Examples:
  clv churn model --cutoff 1997-09-30
  clv churn model orders.parquet --out churn-model.json")]
    Model(ModelArgs),
}

/// The date the trained churn model scores at.
#[derive(Args, Debug, Clone, Default)]
pub struct ChurnCutoffArg {
    /// Score at this date YYYY-MM-DD: features from the transactions up to it [default: --as-of, else the last transaction date].
    #[arg(long, value_name = "DATE")]
    pub cutoff: Option<String>,
}

impl ChurnCutoffArg {
    /// The clv option it sets: `churn.cutoffs` (whose flag for several dates is `--cutoffs`),
    /// here one date.
    pub fn options(&self) -> Vec<(&'static str, Option<String>)> {
        vec![(option_key("cutoffs"), self.cutoff.clone())]
    }
}

option_flags! {
    /// How the churn model is trained.
    ChurnTrainArgs {
        /// Train on the last N month ends whose window ends by the cutoff [default: 12].
        train_periods: "N",
        /// Ridge penalty on the standardised coefficients [default: 0.01].
        lambda: "LAMBDA",
    }
}

option_flags! {
    /// The trained churn model's scoring options.
    ChurnModelFlags {
        /// Churned = no purchase in this many days after the cutoff [default: 90].
        window_days: "DAYS",
        /// Tier high from this churn probability [default: 0.9].
        high_risk: "P",
        /// Tier medium from this churn probability [default: 0.7].
        medium_risk: "P",
        /// Expected value over this many BTYD time units (weeks by default) [default: 52].
        horizon: "UNITS",
        /// Expected value times this margin [default: 1].
        margin: "MARGIN",
    }
}

option_flags! {
    /// More scores for the churn evaluation.
    ChurnScoresArg {
        /// More scores to compare: a table file with customer_id, optionally cutoff, and numeric score columns (higher = more likely to churn).
        scores: "FILE",
    }
}

#[derive(Args)]
pub struct RiskArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub cutoff: ChurnCutoffArg,
    #[command(flatten)]
    pub model: ChurnModelFlags,
    #[command(flatten)]
    pub train: ChurnTrainArgs,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Args)]
pub struct ContactsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub cutoff: ChurnCutoffArg,
    #[command(flatten)]
    pub model: ChurnModelFlags,
    #[command(flatten)]
    pub train: ChurnTrainArgs,
    /// Only these tiers, e.g. high or high,medium [default: every tier].
    #[arg(long, value_name = "TIERS")]
    pub tier: Option<String>,
    /// Only the first N customers of the ranking.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub cutoff: ChurnCutoffArg,
    #[command(flatten)]
    pub model: ChurnModelFlags,
    #[command(flatten)]
    pub train: ChurnTrainArgs,
    /// Write the model as JSON to this file (the format churn_model_score and FittedLogistic read).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

option_flags! {
    /// Churn-label options.
    ChurnLabelArgs {
        /// Cutoff dates: a list YYYY-MM-DD,YYYY-MM-DD or a range START..END (the last day of every --every period inside it).
        cutoffs: "DATES",
        /// Churned = no purchase in this many days after the cutoff [default: 90].
        window_days: "DAYS",
        /// A cutoff range takes the last day of every day, week, month, quarter or year [default: month].
        every: "PERIOD",
    }
}

#[derive(Args)]
pub struct LabelsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub labels: ChurnLabelArgs,
    /// Add the BTYD features: x, t_x, t, p_alive, churn_probability (no purchase in the window), dropout_probability (1 - P(alive)), expected_purchases (a BG/NBD fit per cutoff).
    #[arg(long)]
    pub btyd: bool,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub labels: ChurnLabelArgs,
    #[command(flatten)]
    pub train: ChurnTrainArgs,
    #[command(flatten)]
    pub scores: ChurnScoresArg,
    /// Write every score's calibration deciles to this file too (.csv, .json, .parquet).
    #[arg(long, value_name = "FILE")]
    pub deciles_out: Option<PathBuf>,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct StagesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub windows: LifecycleArgs,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Args)]
pub struct TransitionsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Stages as of this date YYYY-MM-DD (customers without a purchase by then are 'prospect').
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// ... moving to their stages as of this date YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    #[command(flatten)]
    pub windows: LifecycleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The models `clv fit --model` accepts, each with its one-line description, from the model
/// registry.
fn fittable_models() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::commands::models::fittable()
            .map(|m| clap::builder::PossibleValue::new(m.name()).help(m.description))
            .chain([clap::builder::PossibleValue::new(clv::config::AUTO_MODEL).help(
                "The transaction model SQL 'model=auto' chooses among --models (clv compare shows the comparison): the lowest holdout RMSE with --holdout-end, else the lowest BIC",
            )]),
    )
}

option_flags! {
    /// The candidates of a model comparison (`clv compare`, `clv fit --model auto`).
    CandidateFlags {
        /// Candidate transaction models, comma-separated [default: bg_nbd,pareto_nbd,mbg_nbd].
        models: "LIST",
        /// Penalizer grid: each candidate is fitted with each L2 penalizer, comma-separated, e.g. 0,0.001,0.01 [default: 0].
        penalizers: "LIST",
    }
}

#[derive(Args)]
pub struct FitArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The model to fit.
    #[arg(long, value_parser = fittable_models(), default_value = "bg_nbd")]
    pub model: String,
    /// Inclusive end of the calibration period YYYY-MM-DD [default: the as-of date, else the last transaction].
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// Time unit of the model: day, week or month [default: week].
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<String>,
    /// With --model auto: inclusive end of the holdout YYYY-MM-DD; the candidates fitted up to --calibration-end are judged on the purchases after it [default: no holdout, BIC decides].
    #[arg(long, value_name = "DATE")]
    pub holdout_end: Option<String>,
    #[command(flatten)]
    pub candidates: CandidateFlags,
    /// Write the model JSON to this file [default: standard output].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Inclusive end of the calibration period YYYY-MM-DD: the candidates are fitted on the purchases up to it.
    #[arg(long, value_name = "DATE")]
    pub calibration_end: String,
    /// Inclusive end of the holdout YYYY-MM-DD: each candidate is judged on the purchases after the calibration end up to it [default: no holdout, BIC decides].
    #[arg(long, value_name = "DATE")]
    pub holdout_end: Option<String>,
    /// Time unit of the models: day, week or month [default: week].
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<String>,
    #[command(flatten)]
    pub candidates: CandidateFlags,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// A transaction model written by `clv fit` (bg_nbd, pareto_nbd or mbg_nbd).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// A Gamma-Gamma model written by `clv fit --model gamma_gamma`: adds expected_spend and clv.
    #[arg(long, value_name = "FILE")]
    pub spend_model: Option<PathBuf>,
    /// Prediction horizon in the model's time unit [default: 52].
    #[arg(long, value_name = "PERIODS")]
    pub horizon: Option<f64>,
    /// Discount rate per time unit for clv [default: 0].
    #[arg(long, value_name = "RATE")]
    pub discount_rate: Option<f64>,
    /// Profit margin applied to clv [default: 1].
    #[arg(long)]
    pub margin: Option<f64>,
    /// Inclusive end of the history the predictions condition on YYYY-MM-DD [default: the as-of date, else the last transaction].
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    #[command(flatten)]
    pub intervals: IntervalFlags,
    #[command(flatten)]
    pub view: ViewArgs,
}

option_flags! {
    /// Customer-bootstrap intervals of the predictions.
    IntervalFlags {
        /// Adds p_alive, expected_purchases (and clv) lower/upper bounds at this level, e.g. 0.9: a customer bootstrap that refits the model's kind (and Gamma-Gamma) on this data [default: none].
        intervals: "LEVEL",
        /// Bootstrap replicates [default: 200].
        replicates: "B",
        /// Seed of the replicate weights [default: 0].
        seed: "SEED",
        /// log_normal (normal on the log scale; logit for P(alive)), percentile, bias_corrected or bca [default: log_normal].
        interval_method: "METHOD",
    }
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE", default_value = "clv-report.html")]
    pub out: PathBuf,
    /// End of the calibration period for the BG/NBD fit YYYY-MM-DD [default: 1997-09-30 for the bundled sample, else the start of the last half of the history in whole weeks, at most 52].
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// End of the holdout period YYYY-MM-DD: adds calibration-vs-holdout and churn AUC [default: 1998-06-30 for the bundled sample, else the last day of the data].
    #[arg(long, value_name = "DATE")]
    pub holdout_end: Option<String>,
    /// Time unit of the BG/NBD fit: day, week or month [default: week].
    #[arg(long, value_name = "UNIT")]
    pub time_unit: Option<String>,
    /// Cohort grain: day, week, month, quarter or year [default: month].
    #[arg(long)]
    pub period: Option<String>,
    /// Lifecycle transitions from this date YYYY-MM-DD [default: halfway between the first transaction and the as-of date].
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Lifecycle transitions to this date YYYY-MM-DD [default: the as-of date].
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Customers in the top-CLV table.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Report title [default: from the input's file name].
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub value: ValueFlags,
    #[command(flatten)]
    pub rfm: RfmOptions,
}

option_flags! {
    /// How the report values customers (CLV as of the report date).
    ValueFlags {
        /// CLV over this many BTYD time units (weeks by default) after the report date [default: 52].
        horizon: "UNITS",
        /// Discount rate per time unit of the CLV [default: 0].
        discount_rate: "RATE",
        /// Profit margin: CLV is margin × expected spend [default: 1, i.e. revenue].
        margin: "MARGIN",
    }
}

#[derive(Args)]
pub struct SqlArgs {
    /// The query (several statements separated by ';' run in order; the last one's result is printed). Omit it for the interactive shell.
    pub query: Option<String>,
    /// Register a table: NAME=PATH (Parquet, CSV or newline-delimited JSON file, folder or glob). Repeatable. The bundled sample is table cdnow.
    #[arg(long = "table", value_name = "NAME=PATH")]
    pub tables: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every long flag of every command.
    fn flags(command: &clap::Command, out: &mut Vec<String>) {
        out.extend(command.get_arguments().filter_map(|a| a.get_long().map(str::to_string)));
        for sub in command.get_subcommands() {
            flags(sub, out);
        }
    }

    /// Every clv option is set by the command-line flag it declares, or is declared SQL-only
    /// (`flag: None`); and the flag structs map each of their flags to an option.
    #[test]
    fn every_option_has_its_flag_or_is_sql_only() {
        let mut all = vec![];
        flags(&Cli::command(), &mut all);
        for option in clv::config::OPTIONS {
            if let Some(flag) = option.flag {
                assert!(
                    all.iter().any(|f| f == flag),
                    "clv.{}: no command has --{flag}",
                    option.key
                );
            }
        }
        let sql_only: Vec<&str> = clv::config::OPTIONS
            .iter()
            .filter(|o| o.flag.is_none())
            .map(|o| o.key)
            .collect();
        assert_eq!(
            sql_only,
            [
                "rfm.fused",
                "rfm.policy_counts",
                "cluster.panel",
                "fit.penalizer",
                "ltv.model",
                "ltv.tracking_period"
            ]
        );
        let mut mapped = ContractArgs::default().options();
        mapped.extend(RfmOptions::default().options());
        mapped.extend(BtydArgs::default().options());
        mapped.extend(LifecycleArgs::default().options());
        mapped.extend(ChurnLabelArgs::default().options());
        mapped.extend(IntervalFlags::default().options());
        mapped.extend(CandidateFlags::default().options());
        assert_eq!(mapped.len(), 33);
        for (key, _) in mapped {
            assert!(clv::config::ClvOption::find(key).is_some(), "{key}");
        }
    }
}
