//! Where transactions come from: a registered table, a Parquet/CSV path or glob, or a plan.

use std::path::Path;
use std::sync::Arc;

use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, TableReference, plan_err};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::FutureExt;

/// The transactions a computation reads.
#[derive(Debug, Clone)]
pub enum TransactionSource {
    /// A registered table name, or else a Parquet/CSV file, folder or glob.
    Name(String),
    /// An already-built plan (e.g. from a `DataFrame`).
    Plan(LogicalPlan),
}

impl From<&str> for TransactionSource {
    fn from(s: &str) -> Self {
        Self::Name(s.to_string())
    }
}

impl From<String> for TransactionSource {
    fn from(s: String) -> Self {
        Self::Name(s)
    }
}

impl From<DataFrame> for TransactionSource {
    fn from(df: DataFrame) -> Self {
        Self::Plan(df.into_unoptimized_plan())
    }
}

impl From<LogicalPlan> for TransactionSource {
    fn from(p: LogicalPlan) -> Self {
        Self::Plan(p)
    }
}

impl TransactionSource {
    /// Resolves the source to a plan that scans it.
    pub async fn resolve(&self, session: &dyn Session) -> Result<LogicalPlan> {
        match self {
            Self::Plan(p) => Ok(p.clone()),
            Self::Name(name) => {
                let provider = if let Some(t) = registered_table(session, name).await? {
                    t
                } else {
                    listing_table(session, name).await?
                };
                LogicalPlanBuilder::scan(name.as_str(), provider_as_source(provider), None)?.build()
            }
        }
    }

    /// [`Self::resolve`] for synchronous callers (table functions are planned synchronously).
    ///
    /// In-memory catalogs answer at once; anything that must wait (file listing, schema
    /// inference) needs a multi-threaded tokio runtime.
    pub fn resolve_blocking(&self, session: &dyn Session) -> Result<LogicalPlan> {
        let fut = self.resolve(session);
        block_on(fut)
    }
}

/// Runs a future from synchronous code inside a multi-threaded tokio runtime.
pub(crate) fn block_on<T>(fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let mut fut = Box::pin(fut);
    if let Some(out) = (&mut fut).now_or_never() {
        return out;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(fut))
        }
        _ => plan_err!(
            "clv table functions that read files must run on a multi-threaded tokio runtime \
             (use #[tokio::main] or #[tokio::test(flavor = \"multi_thread\")]), or register the files as a table first"
        ),
    }
}

async fn registered_table(session: &dyn Session, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
    let opts = session.config_options();
    let reference = TableReference::from(name).resolve(&opts.catalog.default_catalog, &opts.catalog.default_schema);
    let Some(catalog) = session.catalog_list().catalog(&reference.catalog) else {
        return Ok(None);
    };
    let Some(schema) = catalog.schema(&reference.schema) else {
        return Ok(None);
    };
    schema.table(&reference.table).await
}

fn looks_like_path(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.contains(['/', '*', '\\'])
        || Path::new(name).exists()
        || name.contains("://")
        || lower.ends_with(".parquet")
        || lower.ends_with(".csv")
}

async fn listing_table(session: &dyn Session, name: &str) -> Result<Arc<dyn TableProvider>> {
    if !looks_like_path(name) {
        return plan_err!("no table named '{name}' is registered, and '{name}' is not a file path or glob");
    }
    if !name.contains(['*', '?']) && !name.contains("://") && !Path::new(name).exists() {
        return crate::input_err!("no table named '{name}' is registered, and no file or folder exists at '{name}'");
    }
    let lower = name.to_ascii_lowercase();
    let (format, ext): (Arc<dyn FileFormat>, &str) = if lower.ends_with(".csv") {
        (Arc::new(CsvFormat::default().with_has_header(true)), ".csv")
    } else {
        (Arc::new(ParquetFormat::default()), ".parquet")
    };
    let url = ListingTableUrl::parse(name)?;
    let options = ListingOptions::new(format).with_file_extension(ext);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_schema(session)
        .await
        .map_err(|e| crate::input_error!("cannot read transactions from '{name}': {e}"))?;
    Ok(Arc::new(ListingTable::try_new(config)?))
}
