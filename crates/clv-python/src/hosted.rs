//! clv's table functions as a foreign library: planned locally, executed with clv's runtime
//! environment.
//!
//! datafusion-ffi hands a foreign table function the calling session as a `ForeignSession`:
//! its catalogs and functions are the host's (through FFI), but its `create_physical_plan`
//! serializes the plan back to the host, which cannot decode clv's own table providers, and its
//! `runtime_env` is a fresh default (no memory limit, no object stores). Every table function
//! is therefore wrapped:
//!
//! * [`HostedTableFunction`] enters clv's Tokio runtime and calls the clv function on a
//!   [`local_state`]: the host's configuration (with the `SET clv.*` values), catalogs and
//!   functions, clv's functions, and clv's [`RuntimeEnv`];
//! * [`HostedTable`] plans its scans on such a local state too (so clv's physical planner,
//!   not the host's, plans clv's operators; the host's tables are scanned through FFI);
//! * [`HostedExec`] runs the plan with clv's [`RuntimeEnv`] in place of the default one the
//!   FFI task context carries, so a memory limit given to `clv.register` bounds clv's
//!   operators.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, SchemaProvider, Session, TableFunctionArgs, TableFunctionImpl, TableProvider,
};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::execution::{FunctionRegistry, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;
use tokio::runtime::Handle;

use crate::runtime::Entered;

/// What clv runs with on the library side: its Tokio runtime and its runtime environment.
#[derive(Clone)]
pub struct Hosting {
    /// clv's Tokio runtime.
    pub runtime: Handle,
    /// clv's runtime environment (memory pool, disk manager, object stores).
    pub env: Arc<RuntimeEnv>,
}

impl fmt::Debug for Hosting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hosting")
            .field("memory_pool", &self.env.memory_pool)
            .finish()
    }
}

/// A session on clv's side of the boundary mirroring the caller's `session`: its
/// configuration (the host's `SET clv.*` values included), its catalogs (the host's tables,
/// scanned through FFI) and the functions clv does not have itself, plus every clv function;
/// clv's runtime environment.
pub fn local_state(session: &dyn Session, hosting: &Hosting) -> Result<SessionState> {
    // The host's catalogs are shared, not copied: creating the default catalog here would
    // replace the host's.
    let config = session.config().clone().with_create_default_catalog_and_schema(false);
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(Arc::clone(&hosting.env))
        .with_default_features()
        .with_catalog_list(Arc::new(HostCatalogList {
            inner: session.catalog_list(),
            hosting: hosting.clone(),
        }))
        .build();
    // Every clv function, from the one registry (its local options type is only a base: the
    // host's `SET clv.*` values, in the foreign namespace, override it when read).
    clv_core::register_all_on_state(&mut state)?;
    // The host's own functions (a user's Python UDFs, say) that clv and DataFusion's built-ins
    // do not define locally; local definitions are preferred (no FFI call per batch).
    for (name, f) in session.scalar_functions() {
        if !state.scalar_functions().contains_key(name) {
            state.register_udf(Arc::clone(f))?;
        }
    }
    for (name, f) in session.aggregate_functions() {
        if !state.aggregate_functions().contains_key(name) {
            state.register_udaf(Arc::clone(f))?;
        }
    }
    for (name, f) in session.window_functions() {
        if !state.window_functions().contains_key(name) {
            state.register_udwf(Arc::clone(f))?;
        }
    }
    Ok(state)
}

/// A clv table function called from a foreign host. See the module documentation.
#[derive(Debug)]
pub struct HostedTableFunction {
    inner: Arc<dyn TableFunctionImpl>,
    hosting: Hosting,
}

impl HostedTableFunction {
    /// Wraps clv's `inner`.
    pub fn new(inner: Arc<dyn TableFunctionImpl>, hosting: Hosting) -> Self {
        Self { inner, hosting }
    }
}

impl TableFunctionImpl for HostedTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let _guard = self.hosting.runtime.enter();
        let state = local_state(args.session(), &self.hosting)?;
        let inner = self
            .inner
            .call_with_args(TableFunctionArgs::new(args.exprs(), &state))?;
        Ok(Arc::new(HostedTable {
            inner,
            hosting: self.hosting.clone(),
        }))
    }
}

/// A clv table provider planned and executed on clv's side. See the module documentation.
#[derive(Debug)]
pub struct HostedTable {
    inner: Arc<dyn TableProvider>,
    hosting: Hosting,
}

#[async_trait]
impl TableProvider for HostedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = {
            let _guard = self.hosting.runtime.enter();
            local_state(session, &self.hosting)?
        };
        let plan = Entered::new(
            self.hosting.runtime.clone(),
            self.inner.scan(&state, projection, filters, limit),
        )
        .await?;
        Ok(Arc::new(HostedExec {
            inner: plan,
            hosting: self.hosting.clone(),
            _held: None,
        }))
    }
}

/// Runs its input with clv's runtime environment. See the module documentation.
#[derive(Debug)]
pub struct HostedExec {
    inner: Arc<dyn ExecutionPlan>,
    hosting: Hosting,
    /// The memory a materialized host table holds, released with the plan.
    _held: Option<Arc<MemoryReservation>>,
}

impl DisplayAs for HostedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ClvHostedExec")
    }
}

impl ExecutionPlan for HostedExec {
    fn name(&self) -> &str {
        "ClvHostedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// None: clv's plan is already optimized on clv's side, and a host that reached into it
    /// (its physical optimizer rewrites children through the FFI) would insert its own
    /// operators, which spawn on the host's runtime but would be polled on clv's threads.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            internal_err!("ClvHostedExec is a leaf, got {} children", children.len())
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let context = TaskContext::new(
            context.task_id(),
            context.session_id(),
            context.session_config().clone(),
            context.scalar_functions().clone(),
            context.higher_order_functions().clone(),
            context.aggregate_functions().clone(),
            context.window_functions().clone(),
            Arc::clone(&self.hosting.env),
        );
        let _guard = self.hosting.runtime.enter();
        let stream = self.inner.execute(partition, Arc::new(context))?;
        let schema = stream.schema();
        let handle = self.hosting.runtime.clone();
        // Each poll of the stream enters clv's runtime (the host polls it from its threads).
        let stream = futures::stream::unfold(stream, move |mut stream| {
            Entered::new(handle.clone(), async move {
                let item = stream.next().await;
                item.map(|item| (item, stream))
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The host's catalogs, seen from clv's side: the host's tables come back as [`HostTable`]s.
#[derive(Debug)]
struct HostCatalogList {
    inner: Arc<dyn CatalogProviderList>,
    hosting: Hosting,
}

impl CatalogProviderList for HostCatalogList {
    fn register_catalog(&self, name: String, catalog: Arc<dyn CatalogProvider>) -> Option<Arc<dyn CatalogProvider>> {
        self.inner.register_catalog(name, catalog)
    }

    fn catalog_names(&self) -> Vec<String> {
        self.inner.catalog_names()
    }

    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        let inner = self.inner.catalog(name)?;
        Some(Arc::new(HostCatalog {
            inner,
            catalog: name.to_string(),
            hosting: self.hosting.clone(),
        }))
    }
}

#[derive(Debug)]
struct HostCatalog {
    inner: Arc<dyn CatalogProvider>,
    catalog: String,
    hosting: Hosting,
}

impl CatalogProvider for HostCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.inner.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let inner = self.inner.schema(name)?;
        Some(Arc::new(HostSchema {
            inner,
            schema: name.to_string(),
            catalog: self.catalog.clone(),
            hosting: self.hosting.clone(),
        }))
    }

    fn register_schema(&self, name: &str, schema: Arc<dyn SchemaProvider>) -> Result<Option<Arc<dyn SchemaProvider>>> {
        self.inner.register_schema(name, schema)
    }
}

#[derive(Debug)]
struct HostSchema {
    inner: Arc<dyn SchemaProvider>,
    catalog: String,
    schema: String,
    hosting: Hosting,
}

#[async_trait]
impl SchemaProvider for HostSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(inner) = self.inner.table(name).await? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(HostTable {
            catalog: self.catalog.clone(),
            schema: self.schema.clone(),
            name: name.to_string(),
            inner,
            hosting: self.hosting.clone(),
        })))
    }

    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        self.inner.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        self.inner.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// A table of the host, read by clv at scan time.
///
/// The host's scan runs the host's code, which may spawn tasks on the host's Tokio runtime;
/// datafusion-ffi 55 does not hand that runtime to a library (a scan's session carries none,
/// and a library handle must not be entered by the host's Tokio copy, another version). So
/// the host's partitions are read here, one after the other, inside the scan the host itself
/// awaits (on its own runtime's thread, where its code finds its runtime), into clv's memory
/// pool (a memory limit given to clv counts them); clv's operators then run on that data in
/// clv's runtime. Costs one copy of the columns the query reads (projection and filters are
/// pushed into the host's scan first).
#[derive(Debug)]
struct HostTable {
    catalog: String,
    schema: String,
    name: String,
    inner: Arc<dyn TableProvider>,
    hosting: Hosting,
}

#[async_trait]
impl TableProvider for HostTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The host's provider as the scan's session sees it: the one found when the table
        // function was called came with clv's runtime handle, which the host's Tokio (another
        // version) must not enter; the scan's session carries none.
        let table = session
            .catalog_list()
            .catalog(&self.catalog)
            .and_then(|c| c.schema(&self.schema));
        let table = match table {
            Some(schema) => schema.table(&self.name).await?,
            None => None,
        };
        let Some(table) = table else {
            return plan_err!(
                "clv: table {}.{}.{} is no longer registered",
                self.catalog,
                self.schema,
                self.name
            );
        };
        let table = match (table.as_ref() as &dyn Any).downcast_ref::<HostTable>() {
            Some(host) => Arc::clone(&host.inner),
            None => table,
        };
        let plan = table.scan(session, projection, filters, limit).await?;
        let context = session.task_ctx();
        let reservation =
            MemoryConsumer::new(format!("clv: host table {}", self.name)).register(&self.hosting.env.memory_pool);
        let mut partitions = Vec::new();
        for partition in 0..plan.properties().partitioning.partition_count() {
            let mut stream = plan.execute(partition, Arc::clone(&context))?;
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                reservation.try_grow(batch.get_array_memory_size())?;
                batches.push(batch);
            }
            partitions.push(batches);
        }
        let data = MemorySourceConfig::try_new_exec(&partitions, plan.schema(), None)?;
        Ok(Arc::new(HostedExec {
            inner: data,
            hosting: self.hosting.clone(),
            _held: Some(Arc::new(reservation)),
        }))
    }
}
