//! `rfm_cluster_profiles(source [, as_of [, k]] [, 'name=value' ...])`: the k-means clusters of
//! `rfm_clusters` with the same arguments, one row per cluster.
//!
//! Columns: `cluster_id, segment, segment_zh, customers, customer_share, centroid_recency_days,
//! centroid_frequency, centroid_monetary` (the centroid in raw units: the standardisation and
//! the log transforms undone, so a geometric-type mean), `mean_recency_days, mean_frequency,
//! mean_monetary` (arithmetic means of the cluster's customers), `inertia` (of the model, in
//! standardised units), `silhouette` (exact, on a seeded sample of 2,000 customers), `as_of`
//! and `json` (the fitted model, for `kmeans_assign`).

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args;
use super::rfm_clusters::CLUSTERS_POSITIONAL;
use crate::exec::rfm_clusters::{ClustersOutput, clusters_table};
use crate::plan::source::TransactionSource;

/// The `rfm_cluster_profiles` table function.
#[derive(Debug, Default)]
pub struct RfmClusterProfilesTableFunction;

impl ClvTableFunction for RfmClusterProfilesTableFunction {
    const NAME: &'static str = "rfm_cluster_profiles";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "One row per k-means cluster of rfm_clusters with the same arguments: its name, customers and share, the centroid in raw units, the arithmetic means, the model's inertia, the silhouette of a seeded 2,000-customer sample, as_of and the model as json (for kmeans_assign).",
                "rfm_cluster_profiles(source [, as_of [, k]] [, 'name=value' ...])",
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

impl TableFunctionImpl for RfmClusterProfilesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("rfm_cluster_profiles", args.exprs(), &CLUSTERS_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(clusters_table(plan, &options, ClustersOutput::Profiles)?))
    }
}
