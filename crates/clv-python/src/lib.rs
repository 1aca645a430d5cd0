//! # clv-python
//!
//! The native module of the `clv` Python package (`clv._clv`): every function of clv's one
//! registry ([`clv_core::registry::functions`]) as an object that datafusion-python 55 loads
//! through datafusion-ffi's PyCapsule protocol (`__datafusion_scalar_udf__`,
//! `__datafusion_aggregate_udf__`, `__datafusion_window_udf__`,
//! `__datafusion_table_function__(session)`), and the `clv.` options as a config extension
//! (`__datafusion_extension_options__`) so `SET clv.*` works from Python SQL.
//!
//! The traps of running inside a foreign host and how they are handled: [`runtime`] (clv owns
//! its Tokio runtime), [`hosted`] (table functions plan locally and run with clv's memory
//! pool), [`clv_core::ClvOptions::from_session_config`] (the FFI-aware options lookup).
//! The Python side (version check, registration, the Pythonic layer) is `python/clv`.

#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod constants;
pub mod hosted;
pub mod runtime;
pub mod session_defaults;

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

use datafusion::common::config::{ConfigOptions, ExtensionOptions};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::logical_expr::{LogicalPlan, Statement};
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::DFParser;
use datafusion_ffi::config::extension_options::FFI_ExtensionOptions;
use datafusion_ffi::execution::{FFI_TaskContext, FFI_TaskContextProvider};
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use datafusion_ffi::udtf::FFI_TableFunction;
use datafusion_ffi::udwf::FFI_WindowUDF;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use clv_core::ClvFunction;

use crate::hosted::{HostedTableFunction, Hosting};
use crate::session_defaults::Defaults;

/// A clv error as a Python exception (`RuntimeError` with clv's message).
fn py_err(e: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// One clv function, exported to datafusion-python. Its kind decides which capsule it offers:
/// `clv.register` hands each kind to the matching `SessionContext.register_*`.
#[pyclass(name = "Function", module = "clv._clv", frozen)]
struct PyFunction {
    function: ClvFunction,
    hosting: Hosting,
    /// The session options an aggregate or window function completes its calls with (the
    /// host does not run its `simplify`: see [`session_defaults`]).
    defaults: Defaults,
}

impl PyFunction {
    fn wrong_kind(&self, wanted: &str) -> PyErr {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "clv function {} is a {} function, not a {wanted} function",
            self.function.name(),
            self.function.kind()
        ))
    }
}

#[pymethods]
impl PyFunction {
    /// The SQL name.
    #[getter]
    fn name(&self) -> &str {
        self.function.name()
    }

    /// `table`, `window`, `aggregate` or `scalar`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.function.kind().as_str()
    }

    /// Whether the function reads session options (`SET clv.*`) when a query is planned: an
    /// aggregate or window function with a `simplify` step, which the host does not run, so
    /// it carries the options it was made with and is registered again after a `SET`.
    #[getter]
    fn reads_session_options(&self) -> bool {
        match &self.function {
            ClvFunction::Aggregate(f) => f.inner().simplify().is_some(),
            ClvFunction::Window(f) => f.inner().simplify().is_some(),
            ClvFunction::Scalar(_) | ClvFunction::Table(..) => false,
        }
    }

    /// The reference entry's description.
    #[getter]
    fn description(&self) -> Option<String> {
        self.function.documentation().map(|d| d.description.clone())
    }

    /// The reference entry's syntax.
    #[getter]
    fn syntax(&self) -> Option<String> {
        self.function.documentation().map(|d| d.syntax_example.clone())
    }

    /// The reference entry's SQL example, when it has one.
    #[getter]
    fn sql_example(&self) -> Option<String> {
        self.function.documentation().and_then(|d| d.sql_example.clone())
    }

    fn __repr__(&self) -> String {
        format!("<clv {} function {}>", self.function.kind(), self.function.name())
    }

    fn __datafusion_scalar_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let ClvFunction::Scalar(f) = &self.function else {
            return Err(self.wrong_kind("scalar"));
        };
        let f = Arc::new(ScalarUDF::new_from_impl(constants::ConstantArgs(Arc::clone(f))));
        PyCapsule::new_with_value(py, FFI_ScalarUDF::from(f), c"datafusion_scalar_udf")
    }

    fn __datafusion_aggregate_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let ClvFunction::Aggregate(f) = &self.function else {
            return Err(self.wrong_kind("aggregate"));
        };
        let f = session_defaults::aggregate(f, &self.defaults);
        PyCapsule::new_with_value(py, FFI_AggregateUDF::from(f), c"datafusion_aggregate_udf")
    }

    fn __datafusion_window_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let ClvFunction::Window(f) = &self.function else {
            return Err(self.wrong_kind("window"));
        };
        let f = session_defaults::window(f, &self.defaults);
        PyCapsule::new_with_value(py, FFI_WindowUDF::from(f), c"datafusion_window_udf")
    }

    /// The table function for the calling `session` (a `datafusion.SessionContext`), whose
    /// logical codec encodes its arguments. clv's runtime handle travels with it.
    fn __datafusion_table_function__<'py>(
        &self,
        py: Python<'py>,
        session: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let ClvFunction::Table(f, _) = &self.function else {
            return Err(self.wrong_kind("table"));
        };
        let codec = logical_codec(&session)?;
        let hosted = HostedTableFunction::new(Arc::clone(f.function()), self.hosting.clone());
        // The handle travels with the FFI struct, as datafusion-ffi 55 expects: the host reads
        // it from the struct (an Option<Handle> None would be read with the host's layout) and
        // passes it on to the session objects it hands back. clv also enters its runtime itself
        // wherever its code runs (see `hosted`).
        let ffi = FFI_TableFunction::new_with_ffi_codec(Arc::new(hosted), Some(self.hosting.runtime.clone()), codec);
        PyCapsule::new_with_value(py, ffi, c"datafusion_table_function")
    }
}

/// The logical extension codec of a datafusion-python `SessionContext` (or of the capsule itself).
#[allow(unsafe_code)]
fn logical_codec(session: &Bound<'_, PyAny>) -> PyResult<FFI_LogicalExtensionCodec> {
    let capsule = if session.hasattr("__datafusion_logical_extension_codec__")? {
        session.call_method0("__datafusion_logical_extension_codec__")?
    } else {
        session.clone()
    };
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err("expected a datafusion.SessionContext (for its logical extension codec)")
    })?;
    let pointer: NonNull<FFI_LogicalExtensionCodec> = capsule
        .pointer_checked(Some(c"datafusion_logical_extension_codec"))?
        .cast();
    // SAFETY: the capsule's name was checked, so it holds an FFI_LogicalExtensionCodec, which
    // lives as long as the capsule (borrowed here); the codec is cloned out through its own
    // clone function.
    Ok(unsafe { pointer.as_ref() }.clone())
}

/// Every clv function, from the one registry, ready for datafusion-python.
///
/// `memory_limit` (bytes): the memory pool of clv's runtime environment, which bounds clv's
/// operators inside table functions (the host's pool does not cross the FFI boundary); `None`
/// is unbounded. `session` (a `datafusion.SessionContext`): the aggregate and window functions
/// that read session options complete their calls with its current `clv.` options (a bad value
/// there raises, naming the key); `None` = clv's defaults.
#[pyfunction]
#[pyo3(signature = (memory_limit=None, session=None))]
fn functions(memory_limit: Option<usize>, session: Option<Bound<'_, PyAny>>) -> PyResult<Vec<PyFunction>> {
    let options = match &session {
        Some(session) => session_options(session)?,
        None => clv_core::ClvOptions::default(),
    };
    let defaults = Defaults::new(options);
    let runtime = runtime::handle().map_err(py_err)?;
    let mut env = RuntimeEnvBuilder::new();
    if let Some(limit) = memory_limit {
        if limit == 0 {
            return Err(PyValueError::new_err("memory_limit must be a positive number of bytes"));
        }
        env = env.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let env: Arc<RuntimeEnv> = env.build_arc().map_err(py_err)?;
    let hosting = Hosting { runtime, env };
    Ok(clv_core::registry::functions()
        .into_iter()
        .map(|function| PyFunction {
            function,
            hosting: hosting.clone(),
            defaults: defaults.clone(),
        })
        .collect())
}

/// The `clv.` options of a datafusion-python `SessionContext` as it holds them now (its
/// `SET clv.*` values over clv's defaults), read through its task context provider.
#[allow(unsafe_code)]
fn session_options(session: &Bound<'_, PyAny>) -> PyResult<clv_core::ClvOptions> {
    let capsule = session
        .call_method0("__datafusion_task_context_provider__")
        .map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(
                "expected a datafusion.SessionContext (for its task context provider)",
            )
        })?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| pyo3::exceptions::PyTypeError::new_err("__datafusion_task_context_provider__ is not a capsule"))?;
    let pointer: NonNull<FFI_TaskContextProvider> = capsule
        .pointer_checked(Some(c"datafusion_task_context_provider"))?
        .cast();
    // SAFETY: the capsule's name was checked, so it holds an FFI_TaskContextProvider, alive as
    // long as the capsule (borrowed here). Its functions are the host's, called as
    // datafusion-ffi's own foreign wrappers call them; the returned structs own their data.
    let config = unsafe {
        let provider = pointer.as_ref();
        let task: Result<FFI_TaskContext, _> = (provider.task_ctx)(provider).into();
        let task = task.map_err(|e| py_err(format!("the session's task context: {e}")))?;
        let config = (task.session_config)(&task);
        SessionConfig::try_from(&config).map_err(py_err)?
    };
    clv_core::ClvOptions::from_session_config(config.options()).map_err(py_err)
}

/// When `statement` sets or resets a `clv.` option (`SET clv.<key> = <value>`, `RESET
/// clv.<key>`), its key, after checking the value as clv will read it (an unknown key or a bad
/// value raises with clv's message); `None` for any other statement, which is left to the host.
#[pyfunction]
fn clv_option_statement(statement: &str) -> PyResult<Option<String>> {
    let Ok(mut statements) = DFParser::parse_sql(statement) else {
        return Ok(None);
    };
    let (Some(parsed), None) = (statements.pop_front(), statements.pop_front()) else {
        return Ok(None);
    };
    let text = parsed.to_string().to_ascii_uppercase();
    if !(text.starts_with("SET ") || text.starts_with("RESET ")) {
        return Ok(None);
    }
    // Planned as the host plans it (same DataFusion), so the value is the text the host stores.
    let state = SessionStateBuilder::new().build();
    let Ok(plan) = futures::executor::block_on(state.statement_to_plan(parsed)) else {
        return Ok(None);
    };
    let (variable, value) = match plan {
        LogicalPlan::Statement(Statement::SetVariable(s)) => (s.variable, Some(s.value)),
        LogicalPlan::Statement(Statement::ResetVariable(r)) => (r.variable, None),
        _ => return Ok(None),
    };
    let Some(key) = variable.to_ascii_lowercase().strip_prefix("clv.").map(str::to_string) else {
        return Ok(None);
    };
    match value {
        // Checked by the lookup clv's functions use on the host's options (the same message).
        Some(value) => {
            let mut foreign = FFI_ExtensionOptions::default();
            foreign.set(&format!("clv.{key}"), &value).map_err(py_err)?;
            let mut config = ConfigOptions::new();
            config.extensions.insert(foreign);
            clv_core::ClvOptions::from_session_config(&config).map_err(py_err)?;
        }
        None if clv_core::config::ClvOption::find(&key).is_none() => {
            return Err(py_err(format!("RESET clv.{key}: unknown clv option '{key}'")));
        }
        None => {}
    }
    Ok(Some(key))
}

/// The `clv.` session options as a datafusion-python config extension
/// (`SessionConfig().with_extension(Options())`): it opens the host's foreign-options
/// namespace, so `SET clv.<key> = ...` is accepted by the host and reaches clv (parsed and
/// checked by clv when a clv function reads it).
#[pyclass(name = "Options", module = "clv._clv", frozen)]
struct PyOptions;

#[pymethods]
impl PyOptions {
    #[new]
    fn new() -> Self {
        Self
    }

    fn __datafusion_extension_options__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        // Empty: clv's defaults are clv's own; only what the user SETs crosses the boundary
        // (a default entry here could shadow a SET given under an alias).
        let options = FFI_ExtensionOptions::from(HashMap::new());
        PyCapsule::new_with_value(py, options, c"datafusion_extension_options")
    }
}

/// Every option key (without the `clv.` prefix) with its description.
#[pyfunction]
fn option_keys() -> Vec<(&'static str, &'static str)> {
    clv_core::config::OPTIONS
        .iter()
        .map(|o| (o.key, o.description))
        .collect()
}

/// The DataFusion major version clv was built against (the host must match it).
#[pyfunction]
fn datafusion_major() -> u64 {
    datafusion::DATAFUSION_VERSION
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// The `clv._clv` native module.
#[pymodule]
fn _clv(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFunction>()?;
    m.add_class::<PyOptions>()?;
    m.add_function(wrap_pyfunction!(functions, m)?)?;
    m.add_function(wrap_pyfunction!(option_keys, m)?)?;
    m.add_function(wrap_pyfunction!(clv_option_statement, m)?)?;
    m.add_function(wrap_pyfunction!(datafusion_major, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DATAFUSION_VERSION", datafusion::DATAFUSION_VERSION)?;
    Ok(())
}
