//! A host that loaded clv through datafusion-ffi runs neither an aggregate's nor a window
//! function's `simplify` (where clv reads `clv.fit.penalizer`, `clv.rfm.method`, `clv.seed`, ...)
//! nor hands them its session. Registered through the FFI (marked as another library's, as
//! datafusion-ffi's own tests do, so the foreign path is taken), clv's functions therefore
//! ignored a `SET`; wrapped with the session's options ([`clv_python::session_defaults`]) they
//! give exactly the native result, where `simplify` runs.

use std::sync::Arc;

use clv_core::{ClvFunction, ClvOptions};
use clv_python::session_defaults::{self, Defaults};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::Result;
use datafusion::logical_expr::{AggregateUDF, AggregateUDFImpl, WindowUDF, WindowUDFImpl};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udwf::FFI_WindowUDF;

extern "C" fn another_library() -> usize {
    // datafusion-ffi's marker is the address of a static in the library: never 1.
    1
}

fn across_the_ffi_aggregate(f: Arc<AggregateUDF>) -> AggregateUDF {
    let mut ffi = FFI_AggregateUDF::from(f);
    ffi.library_marker_id = another_library;
    let foreign: Arc<dyn AggregateUDFImpl> = (&ffi).into();
    AggregateUDF::new_from_shared_impl(foreign)
}

fn across_the_ffi_window(f: Arc<WindowUDF>) -> WindowUDF {
    let mut ffi = FFI_WindowUDF::from(f);
    ffi.library_marker_id = another_library;
    let foreign: Arc<dyn WindowUDFImpl> = (&ffi).into();
    WindowUDF::new_from_shared_impl(foreign)
}

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet");

/// A context with every clv function and the CDNOW sample as `sample`; with `foreign`, the
/// aggregates and windows come across the FFI, completed with `defaults` when given.
async fn context(foreign: bool, defaults: Option<&Defaults>) -> Result<SessionContext> {
    let ctx = SessionContext::new();
    clv_core::register_all(&ctx)?;
    ctx.register_parquet("sample", SAMPLE, ParquetReadOptions::default())
        .await?;
    if foreign {
        for f in clv_core::registry::functions() {
            match f {
                ClvFunction::Aggregate(f) => {
                    let f = defaults.map_or(Arc::clone(&f), |d| session_defaults::aggregate(&f, d));
                    ctx.register_udaf(across_the_ffi_aggregate(f));
                }
                ClvFunction::Window(f) => {
                    let f = defaults.map_or(Arc::clone(&f), |d| session_defaults::window(&f, d));
                    ctx.register_udwf(across_the_ffi_window(f));
                }
                ClvFunction::Scalar(_) | ClvFunction::Table(..) => {}
            }
        }
    }
    Ok(ctx)
}

async fn run(ctx: &SessionContext, query: &str) -> Result<String> {
    let batches = ctx.sql(query).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}

const SUMMARY: &str =
    "WITH s AS (SELECT * FROM btyd_summary('sample', '1997-09-30', 'week', 'customer_column=master_customer_id')) ";

/// (option, value, a query whose function reads it)
fn cases() -> Vec<(&'static str, &'static str, String)> {
    vec![
        (
            "fit.penalizer",
            "0.05",
            format!("{SUMMARY} SELECT bgnbd_fit(x, t_x, t)['json'] AS m FROM s"),
        ),
        (
            "rfm.method",
            "ntile",
            "SELECT customer_id, rfm_score(frequency, 4) OVER (ORDER BY customer_id) AS score FROM rfm('sample', \
             'customer_column=master_customer_id') ORDER BY customer_id"
                .to_string(),
        ),
        (
            "seed",
            "7",
            "SELECT kmeans_fit(6, recency_days, frequency, monetary)['json'] AS m FROM rfm('sample', \
             'customer_column=master_customer_id')"
                .to_string(),
        ),
    ]
}

#[tokio::test]
async fn a_foreign_host_gets_the_options_the_functions_were_made_with() -> Result<()> {
    for (key, value, query) in cases() {
        let set = format!("SET clv.{key} = '{value}'");
        let native = context(false, None).await?;
        let default = run(&native, &query).await?;
        native.sql(&set).await?;
        let expected = run(&native, &query).await?;
        assert_ne!(
            expected, default,
            "clv.{key} = {value} changes nothing: the test cannot fail"
        );

        let mut options = ClvOptions::default();
        options.set_option(key, value)?;
        let defaults = Defaults::new(options);
        let wrapped = context(true, Some(&defaults)).await?;
        wrapped.sql(&set).await?;
        assert_eq!(
            run(&wrapped, &query).await?,
            expected,
            "clv.{key} through the FFI, completed"
        );

        // The gap the wrapper closes: across the FFI alone, the SET does not reach the function.
        let bare = context(true, None).await?;
        bare.sql(&set).await?;
        assert_eq!(run(&bare, &query).await?, default, "clv.{key} through the FFI alone");
    }
    Ok(())
}

/// Explicit arguments win over the defaults the wrapper carries, as they do over a `SET`.
#[tokio::test]
async fn an_explicit_argument_wins_over_the_carried_defaults() -> Result<()> {
    let query = format!("{SUMMARY} SELECT bgnbd_fit(x, t_x, t, 1.0, 'week', 0.0)['json'] AS m FROM s");
    let expected = run(&context(false, None).await?, &query).await?;
    let mut options = ClvOptions::default();
    options.set_option("fit.penalizer", "0.05")?;
    let wrapped = context(true, Some(&Defaults::new(options))).await?;
    assert_eq!(run(&wrapped, &query).await?, expected);
    Ok(())
}
