//! `value_concentration` as a panel job ([`super::panel_exec`]): the Lorenz curve of the
//! customers' monetary value as of a date and its Gini coefficient
//! ([`crate::segment::concentration`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;
use datafusion::logical_expr::LogicalPlan;

use super::panel_exec::{PanelCall, PanelJob, PanelTable, order_count};
use crate::config::{ClvOptions, Monetary};
use crate::segment::concentration::Concentration;
use crate::segment::panel::{CutoffQuery, OrderCount, PurchasePanel};
use crate::segment::segmentation::RfmValues;

/// The columns of `value_concentration`.
pub const VALUE_CONCENTRATION_COLUMNS: [&str; 8] = [
    "percent",
    "top_customers",
    "top_share",
    "bottom_customers",
    "bottom_share",
    "gini",
    "customers",
    "clamped_customers",
];

#[derive(Debug)]
pub(crate) struct ConcentrationJob {
    as_of: Option<i32>,
    lookback_days: Option<i64>,
    orders: OrderCount,
    monetary: Monetary,
}

impl PanelJob for ConcentrationJob {
    fn name(&self) -> &'static str {
        "value_concentration"
    }

    fn schema(&self) -> SchemaRef {
        let i = |n: &str| Field::new(n, DataType::Int64, false);
        let f = |n: &str| Field::new(n, DataType::Float64, false);
        Arc::new(Schema::new(vec![
            i("percent"),
            i("top_customers"),
            f("top_share"),
            i("bottom_customers"),
            f("bottom_share"),
            Field::new("gini", DataType::Float64, true),
            i("customers"),
            i("clamped_customers"),
        ]))
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
        let monetary = panel.to_f64(&data.monetary_sum)?;
        let c = Concentration::new(&RfmValues::new(&data, &monetary, self.monetary).monetary);
        let p = &c.points;
        let int = |g: fn(&crate::segment::concentration::LorenzPoint) -> u64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(p.iter().map(|x| g(x) as i64)))
        };
        let float = |g: fn(&crate::segment::concentration::LorenzPoint) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(p.iter().map(g)))
        };
        let columns: Vec<ArrayRef> = vec![
            int(|x| u64::from(x.percent)),
            int(|x| x.top_customers),
            float(|x| x.top_share),
            int(|x| x.bottom_customers),
            float(|x| x.bottom_share),
            Arc::new(p.iter().map(|_| c.gini).collect::<Float64Array>()),
            Arc::new(Int64Array::from_iter_values(p.iter().map(|_| c.customers as i64))),
            Arc::new(Int64Array::from_iter_values(p.iter().map(|_| c.clamped as i64))),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

/// The `value_concentration` table of `source`.
pub(crate) fn concentration_table(source: LogicalPlan, o: &ClvOptions) -> Result<PanelTable> {
    let job = ConcentrationJob {
        as_of: o.as_of,
        lookback_days: o.rfm_lookback_days,
        orders: order_count(o, "value_concentration")?,
        monetary: o.rfm_monetary,
    };
    PanelTable::try_new(source, PanelCall::new("value_concentration", o, None), o, Arc::new(job))
}
