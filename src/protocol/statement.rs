//! A prepared statement as the server described it: parameter types, result columns and their codecs.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::codecs::Codec;
use crate::record::RecordDescriptor;

/// One result column.
pub struct Column {
    pub name: String,
    pub type_oid: u32,
    /// 1 for binary, 0 for text (types without a builtin codec).
    pub format: i16,
    pub codec: Codec,
}

/// One parameter.
pub struct Param {
    pub type_oid: u32,
    /// `None`: unknown type, sent in text format.
    pub codec: Option<Codec>,
}

/// What the server told us about one statement.
pub struct Statement {
    pub name: String,
    pub query: String,
    pub params: Vec<Param>,
    pub columns: Vec<Column>,
    pub desc: Arc<RecordDescriptor>,
    /// Result format codes for Bind, one per column.
    pub result_formats: Vec<i16>,
}

/// A prepared statement handed to Python (`PreparedStatement` wraps it).
#[pyclass(name = "StatementState", module = "asyncpg_rs._native", frozen)]
pub struct PyStatement {
    pub inner: Arc<Statement>,
}

#[pymethods]
impl PyStatement {
    /// The server-side name ('' for the unnamed statement).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The query text.
    #[getter]
    fn query(&self) -> &str {
        &self.inner.query
    }

    /// Parameter types as a list of (oid, builtin type name or None).
    fn parameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Bound<'py, PyTuple>> = self
            .inner
            .params
            .iter()
            .map(|p| {
                PyTuple::new(
                    py,
                    [p.type_oid.into_pyobject(py)?.into_any(), name_of(py, p.codec.as_ref())?],
                )
            })
            .collect::<PyResult<_>>()?;
        PyList::new(py, items)
    }

    /// Result columns as a list of (name, oid, builtin type name or None).
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Bound<'py, PyTuple>> = self
            .inner
            .columns
            .iter()
            .map(|c| {
                let codec = if c.format == 1 { Some(&c.codec) } else { None };
                PyTuple::new(
                    py,
                    [
                        c.name.as_str().into_pyobject(py)?.into_any(),
                        c.type_oid.into_pyobject(py)?.into_any(),
                        name_of(py, codec)?,
                    ],
                )
            })
            .collect::<PyResult<_>>()?;
        PyList::new(py, items)
    }
}

fn name_of<'py>(py: Python<'py>, codec: Option<&Codec>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match codec {
        Some(c) => c.type_name().into_pyobject(py)?.into_any(),
        None => py.None().into_bound(py),
    })
}
