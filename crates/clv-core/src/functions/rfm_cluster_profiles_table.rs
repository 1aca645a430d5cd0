//! `rfm_cluster_profiles(source [, as_of [, k]] [, 'name=value' ...])`: the k-means clusters of
//! `rfm_clusters` with the same arguments, one row per cluster.
//!
//! Columns: `cluster_id, segment, segment_zh, customers, customer_share, centroid_recency_days,
//! centroid_frequency, centroid_monetary` (the centroid in raw units: the standardisation and
//! the log transforms undone, so a geometric-type mean), `mean_recency_days, mean_frequency,
//! mean_monetary` (arithmetic means of the cluster's customers), `inertia` (of the model, in
//! standardised units), `silhouette` (exact, on a seeded sample of 2,000 customers), `as_of`
//! and `json` (the fitted model, for `kmeans_assign`).

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::rfm_clusters_table::CLUSTERS_POSITIONAL;
use super::table_args::parse_table_args;
use crate::plan::rfm_clusters::{ClustersOutput, clusters_table};
use crate::plan::source::TransactionSource;

/// The `rfm_cluster_profiles` table function.
#[derive(Debug, Default)]
pub struct RfmClusterProfilesTableFunction;

impl TableFunctionImpl for RfmClusterProfilesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("rfm_cluster_profiles", args.exprs(), &CLUSTERS_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(clusters_table(plan, &options, ClustersOutput::Profiles)?))
    }
}
