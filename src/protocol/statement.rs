//! A prepared statement as the server described it: parameter types, result columns and their codecs;
//! and `Bind`, the one writer of Bind messages (every Bind the protocol sends goes through it).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::framing::{begin_message, end_message, put_cstr, put_i16};
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
    /// Set when the statement is retired (evicted, invalidated, its connection gone) with no
    /// PreparedStatement using it, or by `mark_closed()`: it is then closed on the server and any
    /// use raises "is closed".
    pub closed: AtomicBool,
    /// PreparedStatement objects using it (asyncpg's `StatementState.refs`).
    pub uses: AtomicUsize,
}

impl Statement {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    pub fn set_closed(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    pub fn in_use(&self) -> bool {
        self.uses.load(Ordering::Relaxed) > 0
    }

    /// Out of the cache: closed at once unless a PreparedStatement still uses it.
    pub fn retire(&self) {
        if !self.in_use() {
            self.set_closed();
        }
    }

    /// Nothing can use it any more: close it on the server with the next request.
    pub fn can_close(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1 || (self.is_closed() && !self.in_use())
    }
}

/// A prepared statement handed to Python (`PreparedStatement` wraps it).
#[pyclass(name = "StatementState", module = "asyncpg_rs._native", frozen)]
pub struct PyStatement {
    pub inner: Arc<Statement>,
}

impl PyStatement {
    pub fn new(inner: Arc<Statement>) -> Self {
        PyStatement { inner }
    }
}

#[pymethods]
impl PyStatement {
    /// True once the statement can no longer be used (asyncpg's `StatementState.closed`).
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Mark the statement closed: later use raises InterfaceError (asyncpg's
    /// `StatementState.mark_closed()`).
    fn mark_closed(&self) {
        self.inner.set_closed();
    }

    /// A PreparedStatement starts using this statement.
    fn attach(&self) {
        self.inner.uses.fetch_add(1, Ordering::Relaxed);
    }

    /// A PreparedStatement is gone.
    fn detach(&self) {
        let _ = self
            .inner
            .uses
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

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

/// A Bind message being written: `start` writes the names and parameter formats, `value` each
/// parameter in order, `finish` the result formats and the length word (checked against the
/// server's limit). On any error the caller truncates the buffer to where it started.
pub(super) struct Bind {
    at: usize,
}

impl Bind {
    /// Start a Bind of `statement` into `portal` with one format code per parameter.
    pub(super) fn start(
        py: Python<'_>,
        out: &mut BytesMut,
        portal: &str,
        statement: &str,
        formats: impl ExactSizeIterator<Item = i16>,
    ) -> PyResult<Bind> {
        let n = formats.len();
        let at = begin_message(out, b'B');
        put_cstr(py, out, portal)?;
        put_cstr(py, out, statement)?;
        put_i16(py, out, n)?;
        for f in formats {
            out.put_i16(f);
        }
        put_i16(py, out, n)?;
        Ok(Bind { at })
    }

    /// The next parameter value (`None`: NULL). Err(()) when it is too long for its length word.
    #[inline]
    pub(super) fn value(out: &mut BytesMut, value: Option<&[u8]>) -> Result<(), ()> {
        match value {
            None => out.put_i32(-1),
            Some(v) => {
                out.put_i32(i32::try_from(v.len()).map_err(|_| ())?);
                out.extend_from_slice(v);
            }
        }
        Ok(())
    }

    /// The result format codes, then the length word.
    pub(super) fn finish(self, py: Python<'_>, out: &mut BytesMut, result_formats: &[i16]) -> PyResult<()> {
        put_i16(py, out, result_formats.len())?;
        for f in result_formats {
            out.put_i16(*f);
        }
        end_message(py, out, self.at, "Bind")
    }
}
