//! `rfm_clusters` and `rfm_cluster_profiles` as panel jobs ([`super::panel_exec`]): k-means
//! clusters of the customers' RFM features as of a date.
//!
//! The features are the default ones of [`crate::segment::segmentation::kmeans_features`]
//! over the recency, frequency and monetary values `rfm()` computes with the same options
//! (as-of date, data policies, `monetary`, `lookback_days`); the customers reach the kernel in
//! customer-id order, so the clusters do not depend on partitioning or row order. The model
//! is [`crate::ltv::kmeans`] with `k` (option `kmeans.k`, default 5), its seed (`seed`,
//! default 0) and 10 starts.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;

use super::panel_exec::{PanelCall, PanelJob, PanelTable, order_count, panel_id_type};
use crate::config::{ClvOptions, Monetary};
use crate::ltv::kmeans::FeatureMatrix;
use crate::segment::panel::{CutoffQuery, OrderCount, PurchasePanel};
use crate::segment::segmentation::{RfmValues, fit_kmeans, kmeans_features};

/// Rows of the silhouette sample of `rfm_cluster_profiles`.
pub const SILHOUETTE_ROWS: usize = 2000;

/// What the clusters table returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClustersOutput {
    /// One row per customer.
    Customers,
    /// One row per cluster.
    Profiles,
}

/// The columns of `rfm_clusters`.
pub const RFM_CLUSTERS_COLUMNS: [&str; 7] = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "cluster_id",
    "segment",
    "segment_zh",
];

/// The columns of `rfm_cluster_profiles`.
pub const RFM_CLUSTER_PROFILES_COLUMNS: [&str; 15] = [
    "cluster_id",
    "segment",
    "segment_zh",
    "customers",
    "customer_share",
    "centroid_recency_days",
    "centroid_frequency",
    "centroid_monetary",
    "mean_recency_days",
    "mean_frequency",
    "mean_monetary",
    "inertia",
    "silhouette",
    "as_of",
    "json",
];

#[derive(Debug)]
pub(crate) struct ClustersJob {
    k: usize,
    seed: u64,
    lookback_days: Option<i64>,
    as_of: Option<i32>,
    orders: OrderCount,
    monetary: Monetary,
    output: ClustersOutput,
    id_type: DataType,
}

impl ClustersJob {
    fn customers_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("customer_id", self.id_type.clone(), false),
            Field::new("recency_days", DataType::Int64, false),
            Field::new("frequency", DataType::Int64, false),
            Field::new("monetary", DataType::Float64, false),
            Field::new("cluster_id", DataType::Int32, false),
            Field::new("segment", DataType::Utf8, false),
            Field::new("segment_zh", DataType::Utf8, false),
        ]))
    }

    fn profiles_schema(&self) -> SchemaRef {
        let f = |n: &str| Field::new(n, DataType::Float64, false);
        Arc::new(Schema::new(vec![
            Field::new("cluster_id", DataType::Int32, false),
            Field::new("segment", DataType::Utf8, false),
            Field::new("segment_zh", DataType::Utf8, false),
            Field::new("customers", DataType::Int64, false),
            f("customer_share"),
            f("centroid_recency_days"),
            f("centroid_frequency"),
            f("centroid_monetary"),
            f("mean_recency_days"),
            f("mean_frequency"),
            f("mean_monetary"),
            f("inertia"),
            Field::new("silhouette", DataType::Float64, true),
            Field::new("as_of", DataType::Date32, false),
            Field::new("json", DataType::Utf8, false),
        ]))
    }
}

fn exec(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("k-means: {e}"))
}

impl PanelJob for ClustersJob {
    fn name(&self) -> &'static str {
        match self.output {
            ClustersOutput::Customers => "rfm_clusters",
            ClustersOutput::Profiles => "rfm_cluster_profiles",
        }
    }

    fn schema(&self) -> SchemaRef {
        match self.output {
            ClustersOutput::Customers => self.customers_schema(),
            ClustersOutput::Profiles => self.profiles_schema(),
        }
    }

    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch> {
        let Some(as_of) = self.as_of.or(panel.last_day().map(|d| d + 1)) else {
            return Ok(RecordBatch::new_empty(self.schema()));
        };
        let data = panel.at_cutoff(CutoffQuery {
            cutoff: as_of,
            lookback_days: self.lookback_days,
            window_days: None,
            orders: self.orders,
        });
        if data.is_empty() {
            return Ok(RecordBatch::new_empty(self.schema()));
        }
        let monetary = panel.to_f64(&data.monetary_sum)?;
        let values = RfmValues::new(&data, &monetary, self.monetary);
        let (model, labels) = fit_kmeans(&data, &values, self.k, self.seed, self.lookback_days.is_some())?;
        let clusters = model.clusters();
        if self.output == ClustersOutput::Customers {
            let name = |zh: bool| -> ArrayRef {
                Arc::new(StringArray::from_iter_values(labels.iter().map(|l| {
                    let c = &clusters[*l as usize];
                    if zh { &c.name_zh } else { &c.name }
                })))
            };
            let columns: Vec<ArrayRef> = vec![
                panel.ids(&data.customers)?,
                Arc::new(Int64Array::from(data.recency_days.clone())),
                Arc::new(Int64Array::from(data.frequency.clone())),
                Arc::new(Float64Array::from(values.monetary.clone())),
                Arc::new(Int32Array::from_iter_values(labels.iter().map(|l| *l as i32))),
                name(false),
                name(true),
            ];
            return Ok(RecordBatch::try_new(self.schema(), columns)?);
        }
        let x = FeatureMatrix::from_columns(
            kmeans_features(self.lookback_days.is_some()),
            &[&values.recency, &values.frequency, &values.monetary],
        )
        .map_err(exec)?;
        let silhouette = if model.k() > 1 {
            model.silhouette(&x, SILHOUETTE_ROWS, self.seed).ok().map(|s| s.value)
        } else {
            None
        };
        let k = model.k();
        let n = data.len() as f64;
        let mut sums = vec![[0.0f64; 3]; k];
        let mut sizes = vec![0u64; k];
        let mut exact = vec![crate::rfm::exact_sum::ExactSum::new(); 3 * k];
        for (i, l) in labels.iter().enumerate() {
            let l = *l as usize;
            sizes[l] += 1;
            exact[3 * l].add(values.recency[i]);
            exact[3 * l + 1].add(values.frequency[i]);
            exact[3 * l + 2].add(values.monetary[i]);
        }
        for l in 0..k {
            for d in 0..3 {
                sums[l][d] = exact[3 * l + d].value();
            }
        }
        let inertia = model.report().map_or(f64::NAN, |r| r.inertia);
        let json = serde_json::to_string(&model).map_err(exec)?;
        let centroids: Vec<Vec<f64>> = (0..k).map(|j| model.centroid_in_raw_units(j)).collect();
        let mean = |d: usize| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(
                (0..k).map(|l| sums[l][d] / sizes[l].max(1) as f64),
            ))
        };
        let centroid =
            |d: usize| -> ArrayRef { Arc::new(Float64Array::from_iter_values(centroids.iter().map(|c| c[d]))) };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from_iter_values(0..k as i32)),
            Arc::new(StringArray::from_iter_values(clusters.iter().map(|c| &c.name))),
            Arc::new(StringArray::from_iter_values(clusters.iter().map(|c| &c.name_zh))),
            Arc::new(Int64Array::from_iter_values(sizes.iter().map(|s| *s as i64))),
            Arc::new(Float64Array::from_iter_values(sizes.iter().map(|s| *s as f64 / n))),
            centroid(0),
            centroid(1),
            centroid(2),
            mean(0),
            mean(1),
            mean(2),
            Arc::new(Float64Array::from_iter_values((0..k).map(|_| inertia))),
            Arc::new((0..k).map(|_| silhouette).collect::<Float64Array>()),
            Arc::new(datafusion::arrow::array::Date32Array::from_iter_values(
                (0..k).map(|_| as_of),
            )),
            Arc::new(StringArray::from_iter_values((0..k).map(|_| &json))),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

/// The `rfm_clusters` (per customer) or `rfm_cluster_profiles` (per cluster) table of `source`.
pub(crate) fn clusters_table(source: LogicalPlan, o: &ClvOptions, output: ClustersOutput) -> Result<PanelTable> {
    let name = match output {
        ClustersOutput::Customers => "rfm_clusters",
        ClustersOutput::Profiles => "rfm_cluster_profiles",
    };
    let job = ClustersJob {
        k: o.kmeans_k,
        seed: o.seed,
        lookback_days: o.rfm_lookback_days,
        as_of: o.as_of,
        orders: order_count(o, name)?,
        monetary: o.rfm_monetary,
        output,
        id_type: panel_id_type(&source, o, name)?,
    };
    PanelTable::try_new(source, PanelCall::new(name, o, None), o, Arc::new(job))
}
