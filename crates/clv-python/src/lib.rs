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

use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::Arc;

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::ScalarUDF;
use datafusion_ffi::config::extension_options::FFI_ExtensionOptions;
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
        PyCapsule::new_with_value(py, FFI_AggregateUDF::from(Arc::clone(f)), c"datafusion_aggregate_udf")
    }

    fn __datafusion_window_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let ClvFunction::Window(f) = &self.function else {
            return Err(self.wrong_kind("window"));
        };
        PyCapsule::new_with_value(py, FFI_WindowUDF::from(Arc::clone(f)), c"datafusion_window_udf")
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
/// is unbounded.
#[pyfunction]
#[pyo3(signature = (memory_limit=None))]
fn functions(memory_limit: Option<usize>) -> PyResult<Vec<PyFunction>> {
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
        })
        .collect())
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
    m.add_function(wrap_pyfunction!(datafusion_major, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DATAFUSION_VERSION", datafusion::DATAFUSION_VERSION)?;
    Ok(())
}
