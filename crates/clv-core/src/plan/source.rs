//! Where transactions come from: a registered table, a Parquet/CSV path or glob, or a plan.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
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
        let o = crate::config::ClvOptions::from_session_config(session.config_options());
        self.resolve_with(session, &o).await
    }

    /// [`Self::resolve`] with the options `o` (a path is read with `o`'s columns and id type).
    pub async fn resolve_with(&self, session: &dyn Session, o: &crate::config::ClvOptions) -> Result<LogicalPlan> {
        match self {
            Self::Plan(p) => Ok(p.clone()),
            Self::Name(name) => match registered_table(session, name).await? {
                Some(t) => LogicalPlanBuilder::scan(name.as_str(), provider_as_source(t), None)?.build(),
                None => listing_plan(session, name, o).await,
            },
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

    /// [`Self::resolve_with`] for synchronous callers (see [`Self::resolve_blocking`]).
    pub fn resolve_blocking_with(&self, session: &dyn Session, o: &crate::config::ClvOptions) -> Result<LogicalPlan> {
        block_on(self.resolve_with(session, o))
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

async fn listing_plan(session: &dyn Session, name: &str, o: &crate::config::ClvOptions) -> Result<LogicalPlan> {
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
    files_plan(session, name, &url, &options, o)
        .await
        .map_err(|e| match crate::error::ClvError::find(&e) {
            Some(_) => e,
            None => crate::input_error!("cannot read transactions from '{name}': {e}"),
        })
}

/// The files of one listing (a file, a folder or a glob) as one plan whose columns are mapped
/// by **name**: files whose schemas differ (columns in another order, a column missing, an
/// Int32 next to an Int64 id, integer next to decimal amounts) are read in groups of equal
/// schemas and combined by column name, each column in the type that holds every file's
/// values ([`widen`]). A CSV file is otherwise read by column position, so a second file with
/// the header `amount,customer_id,order_date` would swap columns silently. A column of
/// `contract` (the transaction columns) missing from some of the files is an error naming
/// them; another column missing from a file is NULL for its rows. Files of one schema (the
/// usual case) are read exactly as a plain listing table reads them, except that in CSV files
/// the id columns are read as text and become integers only as `o.id_type` allows (see
/// [`crate::config::IdType`]): "007" and "7" never merge silently.
pub async fn files_plan(
    session: &dyn Session,
    name: &str,
    url: &ListingTableUrl,
    options: &ListingOptions,
    o: &crate::config::ClvOptions,
) -> Result<LogicalPlan> {
    use datafusion::logical_expr::{cast, ident, lit};
    use futures::TryStreamExt;

    let mut contract = vec![
        o.customer_column.as_str(),
        o.time_column.as_str(),
        o.amount_column.as_str(),
    ];
    contract.extend(o.order_column.as_deref());
    let ids: Vec<(&str, &str)> = std::iter::once(("customer id", o.customer_column.as_str()))
        .chain(o.order_column.as_deref().map(|c| ("order id", c)))
        .collect();
    let csv = options.format.get_ext() == "csv";
    let store = session.runtime_env().object_store(url.object_store())?;
    let files: Vec<_> = url
        .list_all_files(session, store.as_ref(), &options.file_extension)
        .await?
        .try_collect()
        .await?;
    // A file's URL: a local path, or the object store's URL followed by the file's location.
    let local = url.scheme() == "file";
    let store_url = url.object_store();
    let shown = |f: &datafusion::object_store::ObjectMeta| {
        if local {
            format!("/{}", f.location)
        } else {
            format!("{}{}", store_url.as_str(), f.location)
        }
    };
    let mut groups: Vec<(datafusion::arrow::datatypes::SchemaRef, Vec<_>)> = vec![];
    // Per CSV id column: whether every file's values looked like integers.
    let mut integer_ids: Vec<(String, bool)> = vec![];
    for f in &files {
        let mut schema = options
            .format
            .infer_schema(session, &store, std::slice::from_ref(f))
            .await
            .map_err(|e| crate::input_error!("cannot read '{}': {e}", shown(f)))?;
        if csv {
            schema = text_ids(&schema, &ids, &mut integer_ids);
        }
        match groups.iter_mut().find(|(s, _)| s.fields() == schema.fields()) {
            Some((_, members)) => members.push(f.clone()),
            None => groups.push((schema, vec![f.clone()])),
        }
    }
    let table = |schema: datafusion::arrow::datatypes::SchemaRef, paths: Vec<ListingTableUrl>| -> Result<_> {
        let config = ListingTableConfig::new_with_multi_paths(paths)
            .with_listing_options(options.clone())
            .with_schema(schema);
        Ok(provider_as_source(Arc::new(ListingTable::try_new(config)?)))
    };
    // A CSV id column of plain-looking integers becomes Int64, checked (id_type auto; with
    // `integer` the contract does the same check, with `string` it stays text).
    let convert: Vec<(&str, &str)> = ids
        .iter()
        .filter(|(_, c)| o.id_type == crate::config::IdType::Auto && integer_ids.iter().any(|(n, all)| n == c && *all))
        .copied()
        .collect();
    if groups.len() <= 1 && convert.is_empty() && !csv {
        let config = ListingTableConfig::new(url.clone())
            .with_listing_options(options.clone())
            .infer_schema(session)
            .await?;
        let provider = provider_as_source(Arc::new(ListingTable::try_new(config)?));
        return LogicalPlanBuilder::scan(name, provider, None)?.build();
    }
    // The columns by name, in the order they first appear, each in its widened type.
    let mut columns: Vec<(String, DataType, String)> = vec![];
    for (schema, members) in &groups {
        for field in schema.fields() {
            let file = shown(&members[0]);
            match columns.iter_mut().find(|(n, ..)| n == field.name()) {
                Some((n, t, first)) => {
                    *t = widen(t, field.data_type()).ok_or_else(|| {
                        crate::input_error!(
                            "column '{n}' is {t} in '{first}' but {} in '{file}': the files of one input must \
                             hold compatible types; convert one of them",
                            field.data_type()
                        )
                    })?;
                }
                None => columns.push((field.name().clone(), field.data_type().clone(), file)),
            }
        }
    }
    let mut plan: Option<LogicalPlanBuilder> = None;
    for (k, (schema, members)) in groups.into_iter().enumerate() {
        for (column, ..) in &columns {
            if contract.contains(&column.as_str()) && schema.field_with_name(column).is_err() {
                return crate::input_err!(
                    "column '{column}' is missing from '{}' but present in other files of '{name}'; every file \
                     needs the transaction columns",
                    shown(&members[0])
                );
            }
        }
        let paths = members
            .iter()
            .map(|f| ListingTableUrl::parse(shown(f)))
            .collect::<Result<Vec<_>>>()?;
        let exprs = columns
            .iter()
            .map(|(column, t, _)| {
                let value = match schema.field_with_name(column) {
                    Ok(_) => cast(ident(column), t.clone()),
                    Err(_) => cast(lit(datafusion::common::ScalarValue::Null), t.clone()),
                };
                Ok(match convert.iter().find(|(_, c)| c == column) {
                    Some((role, _)) => crate::plan::transactions::checked_integer_id(value, role, column)?,
                    None => value,
                }
                .alias(column))
            })
            .collect::<Result<Vec<_>>>()?;
        let group = LogicalPlanBuilder::scan(format!("{name}_{k}"), table(Arc::clone(&schema), paths)?, None)?
            .project(exprs)?
            .build()?;
        plan = Some(match plan {
            None => LogicalPlanBuilder::from(group),
            Some(p) => p.union(group)?,
        });
    }
    plan.map_or_else(|| datafusion::common::internal_err!("no files"), |p| p.build())
}

/// `schema` with the id columns `ids` (role, name) as text, noting in `integer` whether each
/// was inferred as an integer (in every file so far).
fn text_ids(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    ids: &[(&str, &str)],
    integer: &mut Vec<(String, bool)>,
) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{Field, Schema};
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if !ids.iter().any(|(_, c)| c == f.name()) {
                return f.as_ref().clone();
            }
            let is_integer = f.data_type().is_integer();
            match integer.iter_mut().find(|(n, _)| n == f.name()) {
                Some((_, all)) => *all &= is_integer,
                None => integer.push((f.name().clone(), is_integer)),
            }
            f.as_ref().clone().with_data_type(DataType::Utf8)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The type that holds the values of both `a` and `b` without loss, if there is one: the
/// wider integer, a decimal for integers and decimals, Float64 for floats, text for texts,
/// the finer timestamp of one time zone; a column without values (type Null) takes the other.
pub fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a.clone());
    }
    let int_digits = |t: &DataType| match t {
        Int8 | UInt8 => Some(3u8),
        Int16 | UInt16 => Some(5),
        Int32 | UInt32 => Some(10),
        Int64 => Some(19),
        UInt64 => Some(20),
        _ => None,
    };
    Some(match (a, b) {
        (Null, t) | (t, Null) => t.clone(),
        (Dictionary(_, v), t) | (t, Dictionary(_, v)) => return widen(v, t),
        (x, y) if x.is_signed_integer() && y.is_signed_integer() => {
            if int_digits(x) >= int_digits(y) {
                x.clone()
            } else {
                y.clone()
            }
        }
        (x, y) if x.is_integer() && y.is_integer() => {
            // Unsigned with signed, or two unsigned: Int64 holds both unless one is UInt64.
            if matches!(x, UInt64) || matches!(y, UInt64) {
                if x.is_unsigned_integer() && y.is_unsigned_integer() {
                    UInt64
                } else {
                    Decimal128(20, 0)
                }
            } else if x.is_unsigned_integer() && y.is_unsigned_integer() {
                if int_digits(x) >= int_digits(y) {
                    x.clone()
                } else {
                    y.clone()
                }
            } else {
                Int64
            }
        }
        (Decimal128(p, s), t) | (t, Decimal128(p, s)) if t.is_integer() => {
            let digits = (*p as i8 - *s).max(int_digits(t)? as i8);
            Decimal128((digits + *s).min(38) as u8, *s)
        }
        (Decimal128(p1, s1), Decimal128(p2, s2)) => {
            let s = (*s1).max(*s2);
            let digits = (*p1 as i8 - *s1).max(*p2 as i8 - *s2);
            Decimal128((digits + s).min(38) as u8, s)
        }
        (x, y) if x.is_floating() && (y.is_floating() || y.is_integer() || matches!(y, Decimal128(..))) => Float64,
        (x, y) if y.is_floating() && (x.is_integer() || matches!(x, Decimal128(..))) => Float64,
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => Utf8,
        (Date32, Date64) | (Date64, Date32) => Date64,
        (Timestamp(u1, z1), Timestamp(u2, z2)) if z1 == z2 => {
            let finer = |u: &datafusion::arrow::datatypes::TimeUnit| match u {
                datafusion::arrow::datatypes::TimeUnit::Second => 0,
                datafusion::arrow::datatypes::TimeUnit::Millisecond => 1,
                datafusion::arrow::datatypes::TimeUnit::Microsecond => 2,
                datafusion::arrow::datatypes::TimeUnit::Nanosecond => 3,
            };
            Timestamp(if finer(u1) >= finer(u2) { *u1 } else { *u2 }, z1.clone())
        }
        (Date32 | Date64, Timestamp(u, z)) | (Timestamp(u, z), Date32 | Date64) => Timestamp(*u, z.clone()),
        _ => return None,
    })
}
