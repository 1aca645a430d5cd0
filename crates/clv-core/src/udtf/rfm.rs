//! `rfm(source [, as_of [, bins [, method [, scheme]]]] [, 'name=value' ...])`: RFM per customer.
//!
//! Returns `customer_id, recency_days, frequency, monetary, r, f, m, rfm_cell, rfm_total,
//! segment, first_purchase, last_purchase, tenure_days`, one row per customer with a purchase.
//! By default the result is computed by the fused per-customer operator
//! ([`crate::exec::rfm_exec::RfmExec`]) over the policy-filtered scan; with
//! `clv.rfm.fused = false` (Ballista sessions), an order column or a collapse grain it is a view
//! over an ordinary plan (aggregate + window + projection), which Ballista splits into stages.
//! Both give the same rows. With `scheme = 'kmeans'` (and `k`) it returns `rfm_clusters`:
//! the customers' k-means clusters instead of scores.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::exec::rfm_clusters::{ClustersOutput, clusters_table};
use crate::exec::rfm_exec::{FusedRfmTable, fused_rfm_supported};
use crate::plan::rfm::{RfmFunctions, rfm_plan};
use crate::plan::source::TransactionSource;

/// The positional arguments after the source.
pub const RFM_POSITIONAL: [&str; 4] = ["as_of", "bins", "method", "scheme"];

/// The `rfm` table function.
#[derive(Debug, Default)]
pub struct RfmTableFunction;

impl ClvTableFunction for RfmTableFunction {
    const NAME: &'static str = "rfm";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "RFM per customer with at least one purchase: recency_days, frequency, monetary, the scores r, f, m (1..bins, higher is better), rfm_cell, rfm_total, segment, first_purchase, last_purchase and tenure_days.",
                "rfm(source [, as_of [, bins [, method [, scheme]]]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "as_of",
                        "the as-of date YYYY-MM-DD (default: the day after the last transaction)",
                    ),
                    ("bins", "score levels 2..10 (default: the scheme's, 5)"),
                    (
                        "method",
                        "quantile, ntile, fixed, mean or median (default: the scheme's)",
                    ),
                    (
                        "scheme",
                        "segment scheme: rf_grid (default), rfm11, cn8, cn8_en, rfm3, rfm3_en, tiers, tiers_en, a registered one, kmeans (k-means clusters: the columns of rfm_clusters) or none",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for RfmTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("rfm", args.exprs(), &RFM_POSITIONAL, session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        if options.rfm_scheme.trim().eq_ignore_ascii_case("kmeans") {
            // Clusters instead of scored segments: the columns of `rfm_clusters`.
            return Ok(Arc::new(clusters_table(plan, &options, ClustersOutput::Customers)?));
        }
        let functions = RfmFunctions::from_session(session);
        if fused_rfm_supported(&plan, &options)? {
            return Ok(Arc::new(FusedRfmTable::try_new(plan, &options, &functions)?));
        }
        Ok(Arc::new(ViewTable::new(rfm_plan(plan, &options, &functions)?, None)))
    }
}
