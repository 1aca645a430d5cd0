//! The command-line grammar of segment evaluation, tuning, migration, clusters and schemes:
//! `clv tune`, `clv segments …`, `clv schemes`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::{InputArgs, OutputArgs, RfmOptions, ViewArgs, option_key};

/// Cutoffs and the outcome window of an evaluation.
#[derive(Args, Debug, Clone, Default)]
pub struct WindowArgs {
    /// Cutoff dates: a list YYYY-MM-DD,YYYY-MM-DD or a range START..END (the last day of every --every period inside it) [default: the last month ends whose window is complete: 6 for tune, 1 for evaluate].
    #[arg(long, value_name = "DATES")]
    pub cutoffs: Option<String>,
    /// The outcome window: the days after each cutoff whose purchases are the future [default: 90].
    #[arg(long, value_name = "DAYS")]
    pub window_days: Option<String>,
    /// A cutoff range takes the last day of every day, week, month, quarter or year [default: month].
    #[arg(long, value_name = "PERIOD")]
    pub every: Option<String>,
}

impl WindowArgs {
    /// The clv options these flags set.
    pub fn options(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            (option_key("cutoffs"), self.cutoffs.clone()),
            (option_key("window_days"), self.window_days.clone()),
            (option_key("every"), self.every.clone()),
        ]
    }
}

/// The k-means options.
#[derive(Args, Debug, Clone, Default)]
pub struct KMeansArgs {
    /// Clusters of scheme kmeans [default: 5].
    #[arg(long, value_name = "K")]
    pub k: Option<String>,
    /// Seed of the k-means starts [default: 0].
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
}

impl KMeansArgs {
    /// The clv options these flags set.
    pub fn options(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            (option_key("k"), self.k.clone()),
            (option_key("seed"), self.seed.clone()),
        ]
    }
}

#[derive(Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Schemes to compare: named ones, cell, total, recency, kmeans [default: rf_grid,rfm11,rfm3_en,tiers_en,cn8_en,cell,kmeans].
    #[arg(long, value_name = "LIST")]
    pub schemes: Option<String>,
    /// Score levels of cell and total (a named scheme's bins are its levels) [default: 3,4,5].
    #[arg(long = "bins-list", value_name = "LIST")]
    pub bins: Option<String>,
    /// Score methods: quantile, ntile, mean, median, fixed [default: each scheme's own: mean for cn8, quantile for the others].
    #[arg(long, value_name = "LIST")]
    pub methods: Option<String>,
    /// Frequency and monetary windows in days, all = all history [default: all,365].
    #[arg(long = "lookbacks", value_name = "LIST")]
    pub lookbacks: Option<String>,
    /// Cluster counts of kmeans [default: 4,6,8].
    #[arg(long = "ks", value_name = "LIST")]
    pub ks: Option<String>,
    /// Rank by eta2_revenue, eta2_repurchase, best_lift or stability (the mean over the cutoffs) [default: eta2_revenue].
    #[arg(long, value_name = "METRIC")]
    pub rank_by: Option<String>,
    /// Write the HTML chart to this file.
    #[arg(long, value_name = "FILE", default_value = "clv-tune.html")]
    pub html: PathBuf,
    /// Load a segment scheme from a TOML or JSON file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub scheme_file: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct SchemesArgs {
    /// A scheme's name: print its rules and actions [default: list every scheme].
    pub name: Option<String>,
    /// Load a segment scheme from a TOML or JSON file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub scheme_file: Vec<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Subcommand)]
pub enum SegmentsCommand {
    /// A segmentation scored against what customers did next: repurchase, revenue, AOV and churn per segment; eta2, lift, stability.
    #[command(help_template = crate::cli::EXAMPLES_FIRST, after_help = "Examples:
  clv segments evaluate --cutoffs 1997-09-30 --window-days 273
  clv segments evaluate orders.parquet --cutoffs 2024-01-31..2024-06-30 --scheme rfm11 --window-days 90
  clv segments evaluate --scheme kmeans --k 6 --cutoffs 1997-09-30 --window-days 273 --format csv")]
    Evaluate(EvaluateSegmentsArgs),
    /// Customers moving between RFM segments from one date to another, with their revenue in between.
    #[command(help_template = crate::cli::EXAMPLES_FIRST, after_help = "Examples:
  clv segments transitions --from 1997-09-30 --to 1998-03-31
  clv segments transitions orders.parquet --from 2024-01-31 --to 2024-06-30 --scheme tiers_en")]
    Transitions(SegmentTransitionsArgs),
    /// Segment sizes and revenue at every month end (or every --every period, or --cutoffs).
    #[command(help_template = crate::cli::EXAMPLES_FIRST, after_help = "Examples:
  clv segments series
  clv segments series orders.parquet --every quarter --scheme rfm11 --out series.csv")]
    Series(SeriesArgs),
    /// K-means clusters of the customers' RFM features: sizes, centroids, means and names.
    #[command(help_template = crate::cli::EXAMPLES_FIRST, after_help = "Examples:
  clv segments clusters --k 5
  clv segments clusters orders.parquet --k 8 --lookback-days 365 --customers clusters.parquet")]
    Clusters(ClustersArgs),
}

#[derive(Args)]
pub struct EvaluateSegmentsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct SegmentTransitionsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Segments as of this date YYYY-MM-DD (customers without a purchase by then have none).
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// ... moving to their segments as of this date YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct SeriesArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Cutoff dates: a list or a range START..END [default: every --every period end of the data].
    #[arg(long, value_name = "DATES")]
    pub cutoffs: Option<String>,
    /// day, week, month, quarter or year [default: month].
    #[arg(long, value_name = "PERIOD")]
    pub every: Option<String>,
    #[command(flatten)]
    pub rfm: RfmOptions,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct ClustersArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub kmeans: KMeansArgs,
    /// Frequency and monetary over the last N days (recency over all history) [default: all history].
    #[arg(long, value_name = "DAYS")]
    pub lookback_days: Option<String>,
    /// Monetary value: sum or mean [default: sum].
    #[arg(long)]
    pub monetary: Option<String>,
    /// Also write every customer's cluster to this file (.csv, .json, .parquet).
    #[arg(long, value_name = "FILE")]
    pub customers: Option<PathBuf>,
    #[command(flatten)]
    pub view: ViewArgs,
}
