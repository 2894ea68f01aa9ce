//! The request queue: what each request in flight waits for (`Kind`), its future and its outcome,
//! and how a finished request resolves (`complete`). Requests are pipelined, each ending in Sync, so
//! the front of `pending` is always the request the server is answering. Also the connection's
//! end: a lost transport or a fatal protocol error fails every pending future.

use std::sync::Arc;

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};
use pyo3::{intern, IntoPyObjectExt};

use super::statement::Statement;
use super::{PyBaseProtocol, State};
use crate::errors::{self, Fields};

/// How a request's future is made.
pub(super) enum FutureMaker {
    /// `asyncio.Future(loop=loop)`: what `BaseEventLoop.create_future` returns, made without its
    /// Python frame.
    ///
    /// NOTE: profiled 2026-12-02 (callgrind, `fetchval('SELECT 1')` on the stock loop): the
    /// Python-level `loop.create_future()` was 2,700 of 53,000 instructions per round trip, the
    /// direct construction about 1,000.
    Direct { class: Py<PyAny>, kwargs: Py<PyDict> },
    /// `loop.create_future()`: a loop with its own future factory (uvloop's is already native).
    Loop,
}

impl FutureMaker {
    fn for_loop(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> FutureMaker {
        let direct = || -> PyResult<Option<FutureMaker>> {
            let asyncio = py.import("asyncio")?;
            let base = asyncio.getattr("BaseEventLoop")?.getattr("create_future")?;
            // The bound method's function: catches a subclass' override and one set on the instance.
            let own = event_loop.getattr("create_future")?.getattr("__func__");
            if !own.is_ok_and(|f| f.is(&base)) {
                return Ok(None);
            }
            let kwargs = PyDict::new(py);
            kwargs.set_item("loop", event_loop)?;
            Ok(Some(FutureMaker::Direct {
                class: asyncio.getattr("Future")?.unbind(),
                kwargs: kwargs.unbind(),
            }))
        };
        direct().ok().flatten().unwrap_or(FutureMaker::Loop)
    }
}

/// Result shapes a request can ask for.
pub(super) const MODE_STATUS: u8 = 0;
pub(super) const MODE_ALL: u8 = 1;
pub(super) const MODE_ROW: u8 = 2;
pub(super) const MODE_VAL: u8 = 3;
pub(super) const MODE_NONE: u8 = 4;

/// What to do with a statement once it is prepared.
pub(super) struct Then {
    pub(super) args: Args,
    pub(super) mode: u8,
    pub(super) column: usize,
    pub(super) record_class: Option<Py<PyType>>,
    /// Set once the request was re-prepared after a schema change; it is not retried twice.
    pub(super) retried: bool,
}

pub(super) enum Args {
    One(Py<PyAny>),
    Many(Py<PyList>),
}

impl Args {
    pub(super) fn clone_ref(&self, py: Python<'_>) -> Args {
        match self {
            Args::One(a) => Args::One(a.clone_ref(py)),
            Args::Many(a) => Args::Many(a.clone_ref(py)),
        }
    }
}

pub(super) enum Failure {
    Server(Fields),
    Client(PyErr),
}

pub(super) enum Kind {
    Startup,
    Simple {
        query: String,
    },
    /// A simple query nobody awaits (the pool's reset sent without waiting): no future; the
    /// request's `fut` slot holds a callable, called (through `loop.call_soon`) only if it fails.
    Background,
    /// Parse + Describe + Sync.
    Prepare {
        name: String,
        query: String,
        cache: bool,
        params: Vec<u32>,
        columns: Vec<(String, u32)>,
        then: Option<Then>,
    },
    /// Bind + Execute (+ more) + Sync on a described statement.
    Execute {
        stmt: Arc<Statement>,
        then: Then,
        rows: Vec<Py<PyAny>>,
        cached: bool,
        invalidated: bool,
        /// BindComplete arrived: the server started executing, a failure is not retried.
        bound: bool,
    },
    /// Execute on a named portal: rows and whether the portal has more.
    Portal {
        stmt: Arc<Statement>,
        rows: Vec<Py<PyAny>>,
        record_class: Option<Py<PyType>>,
        suspended: bool,
    },
    /// Anything that only needs to succeed (Bind of a portal, Close).
    Sync,
    /// COPY ... TO STDOUT: each CopyData chunk goes to `sink` (a Python callable).
    CopyOut {
        sink: Py<PyAny>,
    },
    /// COPY ... FROM STDIN: `started` resolves on CopyInResponse, then Python streams the data.
    CopyIn {
        started: Option<Py<PyAny>>,
    },
    /// The catalog query for unknown type OIDs (text rows); then the prepare it interrupted goes on.
    Introspect {
        oids: Vec<u32>,
        rows: Vec<Vec<Option<String>>>,
        resume: Box<Described>,
    },
}

/// A statement the server has described, waiting for its codecs.
pub(super) struct Described {
    pub(super) name: String,
    pub(super) query: String,
    pub(super) cache: bool,
    pub(super) params: Vec<u32>,
    pub(super) columns: Vec<(String, u32)>,
    pub(super) then: Option<Then>,
}

pub(super) struct Pending {
    pub(super) fut: Py<PyAny>,
    pub(super) kind: Kind,
    pub(super) failure: Option<Failure>,
    pub(super) status: Option<String>,
}

impl PyBaseProtocol {
    pub(super) fn lose_connection(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let callback = {
            let mut this = slf.try_borrow_mut()?;
            this.state = State::Closed;
            this.transport = None;
            this.close_statements();
            this.lost_callback.take()
        };
        // Termination listeners run first (called outside the borrow, so they may use the
        // connection), then the requests in flight fail.
        if let Some(cb) = callback {
            if let Err(e) = cb.call0(py) {
                e.write_unraisable(py, Some(cb.bind(py)));
            }
        }
        let mut this = slf.try_borrow_mut()?;
        let msg = "connection was closed in the middle of operation";
        // A server that said why before closing (FATAL: terminating connection ...) is quoted.
        let server = match this.pending.front() {
            Some(Pending {
                failure: Some(Failure::Server(fields)),
                kind,
                ..
            }) if !matches!(kind, Kind::Startup) => Some(fields.clone()),
            _ => None,
        };
        match server {
            Some(fields) => {
                let cause = errors::server_error(py, &fields, None);
                let text = format!("{msg}: {}", errors::message(&fields));
                this.fail_all(py, || {
                    let err = errors::client_error(py, "ConnectionDoesNotExistError", text.clone());
                    err.set_cause(py, Some(cause.clone_ref(py)));
                    err
                });
            }
            None => this.fail_all(py, || errors::client_error(py, "ConnectionDoesNotExistError", msg)),
        }
        Ok(())
    }

    pub(super) fn new_future(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let maker = self
            .future_maker
            .get_or_init(|| FutureMaker::for_loop(py, self.event_loop.bind(py)));
        match maker {
            FutureMaker::Direct { class, kwargs } => class.bind(py).call((), Some(kwargs.bind(py))).map(Bound::unbind),
            FutureMaker::Loop => self.event_loop.call_method0(py, intern!(py, "create_future")),
        }
    }

    pub(super) fn check_open(&self, py: Python<'_>) -> PyResult<()> {
        match self.state {
            State::Ready => Ok(()),
            State::Closed => Err(errors::client_error(py, "InterfaceError", "connection is closed")),
            State::New => Err(errors::client_error(
                py,
                "InterfaceError",
                "connection is not ready yet",
            )),
        }
    }

    pub(super) fn push_and_flush(&mut self, py: Python<'_>, kind: Kind) -> PyResult<Py<PyAny>> {
        let fut = self.new_future(py)?;
        self.pending.push_back(Pending {
            fut: fut.clone_ref(py),
            kind,
            failure: None,
            status: None,
        });
        self.flush(py)?;
        Ok(fut)
    }

    pub(super) fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        self.stats.bytes_sent += self.outbuf.len() as u64;
        let data = PyBytes::new(py, &self.outbuf);
        self.outbuf.clear();
        match &self.transport {
            Some(t) => {
                t.call_method1(py, intern!(py, "write"), (data,))?;
                Ok(())
            }
            None => Err(errors::client_error(
                py,
                "ConnectionDoesNotExistError",
                "connection is closed",
            )),
        }
    }

    /// A request is finished (its ReadyForQuery arrived): resolve its future, or move it to its next step.
    pub(super) fn complete(&mut self, py: Python<'_>, p: Pending) -> PyResult<()> {
        crate::codecs::release_cached_strings(py);
        let Pending {
            fut,
            kind,
            failure,
            status,
        } = p;
        let (failure, kind) = match (failure, kind) {
            (Some(_), Kind::Introspect { oids, resume, .. }) => {
                // The catalog could not be read (permissions?): go on, reading those types as text.
                self.introspected.extend(oids);
                return self.finish_prepare(py, fut, *resume);
            }
            other => other,
        };
        if let Kind::Background = kind {
            if failure.is_some() {
                self.event_loop
                    .call_method1(py, intern!(py, "call_soon"), (fut,))
                    .map(drop)?;
            }
            return Ok(());
        }
        if let Some(failure) = failure {
            return self.fail_request(py, fut, kind, failure);
        }
        match kind {
            Kind::Background => {}
            Kind::Startup => {
                self.state = State::Ready;
                self.password = None;
                set_result(py, &fut, py.None());
            }
            Kind::Simple { .. } | Kind::CopyOut { .. } => {
                set_result(py, &fut, status.unwrap_or_default().into_py_any(py)?)
            }
            Kind::CopyIn { started } => {
                if let Some(started) = started {
                    set_result(py, &started, py.None());
                }
                set_result(py, &fut, status.unwrap_or_default().into_py_any(py)?);
            }
            Kind::Sync => set_result(py, &fut, py.None()),
            Kind::Prepare {
                name,
                query,
                cache,
                params,
                columns,
                then,
            } => {
                let described = Described {
                    name,
                    query,
                    cache,
                    params,
                    columns,
                    then,
                };
                let unknown = self.unknown_oids(&described);
                if unknown.is_empty() {
                    self.finish_prepare(py, fut, described)?;
                } else {
                    self.send_introspection(py, fut, unknown, described)?;
                }
            }
            Kind::Introspect { oids, rows, resume } => self.finish_introspection(py, fut, oids, &rows, *resume)?,
            Kind::Execute { stmt, then, rows, .. } => {
                self.last_status.clone_from(&status);
                let result = match then.mode {
                    MODE_STATUS => status.unwrap_or_default().into_py_any(py)?,
                    MODE_ALL => PyList::new(py, rows)?.into_any().unbind(),
                    MODE_ROW => rows.into_iter().next().unwrap_or_else(|| py.None()),
                    MODE_VAL => match rows.into_iter().next() {
                        None => py.None(),
                        Some(row) => {
                            if then.column >= stmt.columns.len() {
                                let e = PyIndexError::new_err("record index out of range");
                                set_exception(py, &fut, e);
                                return Ok(());
                            }
                            row.bind(py).get_item(then.column)?.unbind()
                        }
                    },
                    _ => py.None(),
                };
                set_result(py, &fut, result);
            }
            Kind::Portal { rows, suspended, .. } => {
                if status.is_some() {
                    self.last_status.clone_from(&status);
                }
                let list = PyList::new(py, rows)?;
                set_result(py, &fut, (list, suspended).into_py_any(py)?);
            }
        }
        Ok(())
    }

    /// Tell the connection that the schema changed under a cached statement (`stale_callback`,
    /// with `types` when a type changed), before the request's outcome is delivered (both go
    /// through `call_soon`).
    fn notify_stale(&self, py: Python<'_>, types: bool) -> PyResult<()> {
        if let Some(cb) = &self.stale_callback {
            self.event_loop
                .call_method1(py, intern!(py, "call_soon"), (cb.clone_ref(py), types))?;
        }
        Ok(())
    }

    /// A request failed: retry it once if its statement went stale, else fail its future with the
    /// server's error (quoting the query) or the client's.
    fn fail_request(&mut self, py: Python<'_>, fut: Py<PyAny>, kind: Kind, failure: Failure) -> PyResult<()> {
        if let (
            Kind::Execute {
                stmt,
                then,
                invalidated: true,
                ..
            },
            Failure::Server(_),
        ) = (&kind, &failure)
        {
            // The statement went stale (ALTER TABLE ...): it leaves the cache either way.
            let named = !stmt.name.is_empty();
            if named && self.cache.remove(&stmt.query, &stmt.name) {
                stmt.retire();
                self.to_close.push(stmt.clone());
            }
            self.notify_stale(py, false)?;
            if self.tx_status == b'I' && !then.retried {
                // Outside a transaction block: prepare again and rerun, as asyncpg does.
                let name = if named { self.next_stmt_name() } else { String::new() };
                let then = Then {
                    args: then.args.clone_ref(py),
                    mode: then.mode,
                    column: then.column,
                    record_class: then.record_class.as_ref().map(|c| c.clone_ref(py)),
                    retried: true,
                };
                return self.send_prepare_with(py, fut, name, stmt.query.clone(), named, Some(then));
            }
        }
        self.stats.errors += 1;
        let query = match &kind {
            Kind::Prepare { query, .. } | Kind::Simple { query } => Some(query.as_str()),
            Kind::Execute { stmt, .. } | Kind::Portal { stmt, .. } => Some(stmt.query.as_str()),
            _ => None,
        };
        let err = match failure {
            Failure::Server(fields) => errors::server_error(py, &fields, query),
            Failure::Client(e) => {
                if errors::class(py, "OutdatedSchemaCacheError")
                    .is_ok_and(|c| e.value(py).is_instance(&c).unwrap_or(false))
                {
                    // A type changed under us: describe types and statements again next time.
                    self.forget_types();
                    self.notify_stale(py, true)?;
                }
                e
            }
        };
        if matches!(kind, Kind::Startup) {
            self.state = State::Closed;
        }
        if let Kind::CopyIn { started: Some(started) } = &kind {
            // Failed before any data was asked for: the caller is still waiting on `started`.
            set_exception(py, started, err);
            set_result(py, &fut, py.None());
            return Ok(());
        }
        set_exception(py, &fut, err);
        Ok(())
    }

    /// A fatal protocol problem: close the connection and fail everything in flight.
    pub(super) fn abort(&mut self, py: Python<'_>, err: PyErr) {
        self.state = State::Closed;
        self.close_statements();
        if let Some(t) = &self.transport {
            let _ = t.call_method0(py, intern!(py, "abort"));
        }
        // The request the server was answering fails with the error itself; those behind it with
        // ConnectionDoesNotExistError caused by it.
        let reason = err.value(py).to_string();
        let cause = err.clone_ref(py);
        let mut first = Some(err);
        self.fail_all(py, || {
            first.take().unwrap_or_else(|| {
                let e = errors::client_error(
                    py,
                    "ConnectionDoesNotExistError",
                    format!("connection was closed in the middle of operation: {reason}"),
                );
                e.set_cause(py, Some(cause.clone_ref(py)));
                e
            })
        });
    }

    pub(super) fn fail_all(&mut self, py: Python<'_>, mut make: impl FnMut() -> PyErr) {
        for p in std::mem::take(&mut self.pending) {
            if let Kind::Background = p.kind {
                continue; // no future; the connection is gone, which is what its failure would do
            }
            if let Kind::CopyIn { started: Some(started) } = &p.kind {
                set_exception(py, started, make());
                set_result(py, &p.fut, py.None());
                continue;
            }
            set_exception(py, &p.fut, make());
        }
    }
}

pub(super) fn set_result(py: Python<'_>, fut: &Py<PyAny>, value: Py<PyAny>) {
    // A cancelled future refuses a result; the request is over either way.
    let _ = fut.call_method1(py, intern!(py, "set_result"), (value,));
}

pub(super) fn set_exception(py: Python<'_>, fut: &Py<PyAny>, err: PyErr) {
    let _ = fut.call_method1(py, intern!(py, "set_exception"), (err.into_value(py),));
}
