//! `rfm_clusters(source [, as_of [, k]] [, 'name=value' ...])`: each customer's k-means cluster
//! of the default RFM features, with its automatic name; also `rfm(source, 'scheme=kmeans')`.
//!
//! Columns: `customer_id, recency_days, frequency, monetary, cluster_id, segment, segment_zh`.
//! Clusters are numbered by value (0 the most valuable) and named from their R, F and M levels
//! (e.g. "recent, frequent, high spend" / "近期消费、高频、高消费"). Options as `rfm()` (as-of
//! date, policies, `monetary`, `lookback_days`) plus `k` and `seed`. See
//! [`crate::exec::rfm_clusters`]; `rfm_cluster_profiles` describes the clusters.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use crate::exec::rfm_clusters::{ClustersOutput, clusters_table};
use crate::plan::source::TransactionSource;

/// The positional arguments after the source.
pub const CLUSTERS_POSITIONAL: [&str; 2] = ["as_of", "k"];

/// The `rfm_clusters` table function.
#[derive(Debug, Default)]
pub struct RfmClustersTableFunction;

impl ClvTableFunction for RfmClustersTableFunction {
    const NAME: &'static str = "rfm_clusters";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "Each customer's k-means cluster of the standardised features log1p(recency_days), ln(frequency), log1p(max(monetary, 0)): customer_id, recency_days, frequency, monetary, cluster_id (0 the most valuable), segment and segment_zh (names from the cluster's R, F and M levels). Also rfm(source, 'scheme=kmeans').",
                "rfm_clusters(source [, as_of [, k]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "as_of",
                        "the as-of date YYYY-MM-DD (default: the day after the last transaction)",
                    ),
                    ("k", "clusters 1..100 (default 5; option kmeans.k)"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for RfmClustersTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("rfm_clusters", args.exprs(), &CLUSTERS_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(clusters_table(plan, &options, ClustersOutput::Customers)?))
    }
}
