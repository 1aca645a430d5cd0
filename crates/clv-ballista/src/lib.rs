//! # clv-ballista
//!
//! Every clv function on an [Apache Ballista](https://datafusion.apache.org/ballista/) cluster.
//!
//! Ballista ships plans between processes and resolves functions **by name**, so every node
//! must know clv:
//!
//! | where | what it needs | provided by |
//! |---|---|---|
//! | client | functions, table functions, `clv.` options | [`remote`], [`standalone`] |
//! | scheduler | functions in its session state, options, codecs | [`scheduler_config`] (binary `clv-scheduler`) |
//! | executors | functions in their registry, options, codecs | [`executor_config`] (binary `clv-executor`) |
//!
//! Table functions (`rfm()`, `btyd_summary()`, `clv_predict()`, ...) expand on the client into
//! ordinary plans; [`clv_core::RfmTable`] and `rfm_segment` with registered schemes travel
//! through [`ClvLogicalCodec`] / [`ClvPhysicalCodec`]. A cluster without clv fails with an
//! error naming the function and the node (see [`planner`]). [`LocalCluster`] starts a
//! scheduler and executors in-process on loopback, for tests and benchmarks.
//!
//! ```no_run
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> datafusion::common::Result<()> {
//! let ctx = clv_ballista::remote("df://scheduler:50050").await?;
//! ctx.register_parquet("orders", "/data/orders/", Default::default()).await?;
//! ctx.sql("SELECT segment, count(*) FROM rfm('orders') GROUP BY segment").await?.show().await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
pub mod codec;
mod local_cluster;
pub mod planner;
pub mod server;

use std::sync::Arc;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;
use datafusion::common::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use codec::{ClvLogicalCodec, ClvPhysicalCodec};
pub use local_cluster::LocalCluster;
pub use server::{executor_config, function_registry, scheduler_config, session_state};

/// The configuration clv recommends for a cluster: Ballista's defaults with the adaptive
/// planner off, plus the `clv.` options and the clv codecs. The scheduler's and executors'
/// config producer, and the base of [`remote`] and [`standalone`].
///
/// Ballista 55.0.0's adaptive planner (`ballista.planner.adaptive.enabled`, on by default)
/// returns wrong rows for some `UNION ALL` queries and can leave a job hanging on a plan it
/// rejects; the static planner gives the results of local execution, and it is the one whose
/// stages `EXPLAIN` shows. `SET ballista.planner.adaptive.enabled = true` turns it back on.
pub fn session_config() -> SessionConfig {
    with_clv(SessionConfig::new_with_ballista().set_bool(BALLISTA_ADAPTIVE_PLANNER_ENABLED, false))
}

/// Adds Ballista's settings (when missing), the `clv.` options (when missing) and the clv
/// codecs to `config`, and turns `clv.rfm.fused` off; leaves every other setting as it is.
///
/// The fused `rfm()` operator aggregates every transaction in one task; on a cluster `rfm()`
/// is planned as ordinary aggregates instead, which run partial on the executors and merge
/// after a shuffle (same results).
pub fn with_clv(config: SessionConfig) -> SessionConfig {
    let mut config = config
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(Arc::new(ClvLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(ClvPhysicalCodec::default()));
    if config.options().extensions.get::<clv_core::ClvOptions>().is_none() {
        config = config.with_option_extension(clv_core::ClvOptions::default());
    }
    if let Some(o) = config.options_mut().extensions.get_mut::<clv_core::ClvOptions>() {
        o.rfm_fused = false;
    }
    config
}

/// A context whose queries run on the Ballista scheduler at `url` (`df://host:port`, port
/// 50050 by default), with every clv function registered. Connecting is lazy: an unreachable
/// scheduler is reported by the first query.
pub async fn remote(url: &str) -> Result<SessionContext> {
    remote_with_config(url, session_config()).await
}

/// [`remote`] with a session configuration (target partitions, `clv.` options, ...); start from
/// [`session_config`] to keep clv's defaults.
pub async fn remote_with_config(url: &str, config: SessionConfig) -> Result<SessionContext> {
    let state = SessionStateBuilder::new()
        .with_config(with_clv(config))
        .with_default_features()
        .build();
    client(SessionContext::remote_with_state(url, state).await?)
}

/// A context backed by an in-process Ballista scheduler and executor (random loopback ports),
/// both with every clv function: the cluster code paths on one machine.
pub async fn standalone() -> Result<SessionContext> {
    standalone_with_config(session_config()).await
}

/// [`standalone`] with a session configuration; `ballista.standalone.parallelism` sets the
/// executor's task slots.
pub async fn standalone_with_config(config: SessionConfig) -> Result<SessionContext> {
    let state = session_state(with_clv(config))?;
    client(SessionContext::standalone_with_state(state).await?)
}

/// Finishes a Ballista client context: cluster errors about missing clv functions are
/// explained ([`planner::ClvQueryPlanner`]), and clv is registered on the client. Ballista
/// rebuilds the session's function lists when it connects, so registering must come after.
fn client(ctx: SessionContext) -> Result<SessionContext> {
    let state: SessionState = ctx.state();
    let planner = planner::ClvQueryPlanner::new(Arc::clone(state.query_planner()));
    let ctx = SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_query_planner(Arc::new(planner))
            .build(),
    );
    clv_core::register_all(&ctx)?;
    Ok(ctx)
}
