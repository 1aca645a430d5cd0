//! `rfm_transitions(source, from_date, to_date [, 'name=value' ...])`: customer counts and
//! revenue moving between RFM segments from one date to another (a transition matrix in long
//! form: `from_segment, to_segment, customers, revenue`).
//!
//! Segments at each date are those of `rfm()` with `as_of` = that date and the same options
//! (scheme, bins, method, `lookback_days`, or `scheme = 'kmeans'`); `from_segment` is NULL
//! for customers whose first purchase is after `from_date`; `revenue` is what each cell's
//! customers spent in `(from_date, to_date]`. See [`crate::exec::segment_moves`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use crate::common::doc::{NAMED_OPTIONS, SEGMENTATION, SOURCE, doc};

use super::args::parse_table_args_with_locals;
use crate::common::dates::parse_date;
use crate::exec::segment_moves::transitions_table;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `rfm_transitions` table function.
#[derive(Debug, Default)]
pub struct RfmTransitionsTableFunction;

impl ClvTableFunction for RfmTransitionsTableFunction {
    const NAME: &'static str = "rfm_transitions";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SEGMENTATION,
                "The migration matrix of segments in long form: customers by their segment at from_date and at to_date (segments as rfm() at each date, same options), with the revenue they brought in (from_date, to_date]; from_segment is NULL for customers whose first purchase is after from_date.",
                "rfm_transitions(source, from_date, to_date [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("from_date", "segments as of this date YYYY-MM-DD"),
                    ("to_date", "moving to their segments as of this date YYYY-MM-DD"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for RfmTransitionsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let dates = ["from_date", "to_date"];
        let (source, options, locals) =
            parse_table_args_with_locals("rfm_transitions", args.exprs(), &dates, &dates, session)?;
        let (Some(from), Some(to)) = (locals.get("from_date"), locals.get("to_date")) else {
            return plan_err!("rfm_transitions(source, from_date, to_date): both dates are required");
        };
        let (from, to) = (parse_date(from, "from_date")?, parse_date(to, "to_date")?);
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(transitions_table(plan, &options, &fns, from, to)?))
    }
}
