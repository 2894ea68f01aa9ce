//! One PostgreSQL session, driven by asyncio on the event-loop thread.
//!
//! `BaseProtocol` is an asyncio Protocol written in Rust: the transport hands it bytes in
//! `data_received`, it parses backend messages (postgres-protocol, no I/O), decodes rows straight into
//! Python objects and resolves the asyncio futures of the requests in flight. No thread hop happens on
//! the query path (the bridge design "D" of docs/architecture.md). Requests are pipelined: each one is a
//! batch of frontend messages ending in Sync, so responses come back in order, one ReadyForQuery each.

pub mod cache;
pub mod introspection;
pub mod statement;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{DataRowBody, Message};
use postgres_protocol::message::frontend;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PySequence, PyString, PyType};
use pyo3::{intern, IntoPyObjectExt};

use crate::codecs::Codec;
use crate::errors::{self, Fields};
use crate::record::{PyRecord, RecordDescriptor};
use cache::StatementCache;
use statement::{Column, Param, PyStatement, Statement};

/// Result shapes a request can ask for.
const MODE_STATUS: u8 = 0;
const MODE_ALL: u8 = 1;
const MODE_ROW: u8 = 2;
const MODE_VAL: u8 = 3;
const MODE_NONE: u8 = 4;

/// What to do with a statement once it is prepared.
struct Then {
    args: Args,
    mode: u8,
    column: usize,
    record_class: Option<Py<PyType>>,
    /// Set once the request was re-prepared after a schema change; it is not retried twice.
    retried: bool,
}

enum Args {
    One(Py<PyAny>),
    Many(Py<PyList>),
}

impl Args {
    fn clone_ref(&self, py: Python<'_>) -> Args {
        match self {
            Args::One(a) => Args::One(a.clone_ref(py)),
            Args::Many(a) => Args::Many(a.clone_ref(py)),
        }
    }
}

enum Failure {
    Server(Fields),
    Client(PyErr),
}

enum Kind {
    Startup,
    Simple {
        query: String,
    },
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
struct Described {
    name: String,
    query: String,
    cache: bool,
    params: Vec<u32>,
    columns: Vec<(String, u32)>,
    then: Option<Then>,
}

struct Pending {
    fut: Py<PyAny>,
    kind: Kind,
    failure: Option<Failure>,
    status: Option<String>,
}

enum State {
    New,
    Ready,
    Closed,
}

/// The asyncio protocol of one connection (subclassed in `asyncpg_rs.protocol`).
#[pyclass(name = "BaseProtocol", module = "asyncpg_rs._native", subclass)]
pub struct PyBaseProtocol {
    event_loop: Py<PyAny>,
    transport: Option<Py<PyAny>>,
    state: State,
    inbuf: BytesMut,
    outbuf: BytesMut,
    pending: VecDeque<Pending>,
    user: String,
    password: Option<String>,
    scram: Option<sasl::ScramSha256>,
    backend_pid: i32,
    backend_secret: i32,
    settings: HashMap<String, String>,
    tx_status: u8,
    cache: StatementCache,
    /// With named statements off (`statement_cache_size=0`, pgbouncer): what the server said about
    /// each query, so that repeats go in one round trip (Parse/Bind/Describe/Execute/Sync, unnamed).
    described: StatementCache,
    /// Codecs of types found by introspection, by OID.
    type_cache: HashMap<u32, Codec>,
    /// Codecs set by the user (`set_type_codec`), by OID; they win over everything else.
    overrides: HashMap<u32, Codec>,
    /// Name, kind and schema of introspected types, as asyncpg's `Type` shows them.
    type_info: HashMap<u32, (String, &'static str, String)>,
    /// OIDs already looked up (found or not), so that unknown types are queried once.
    introspected: HashSet<u32>,
    /// Statements to Close with the next request, once nothing else (a PreparedStatement) holds them.
    to_close: Vec<Arc<Statement>>,
    stmt_counter: u64,
    /// Default record class (None: Record).
    record_class: Option<Py<PyType>>,
    /// Called with (pid, channel, payload) for NOTIFY, through `loop.call_soon`.
    #[pyo3(get, set)]
    notification_callback: Option<Py<PyAny>>,
    /// Called with a PostgresLogMessage for notices, through `loop.call_soon`.
    #[pyo3(get, set)]
    notice_callback: Option<Py<PyAny>>,
    /// Called with no arguments when the connection is lost, through `loop.call_soon`.
    #[pyo3(get, set)]
    lost_callback: Option<Py<PyAny>>,
    /// Number of queries sent, for the pool's `max_queries`.
    #[pyo3(get)]
    queries_count: u64,
    /// Command status of the last finished extended-protocol execution (`SELECT 1`, ...).
    #[pyo3(get)]
    last_status: Option<String>,
}

fn protocol_err(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    errors::client_error(py, "ProtocolError", msg)
}

fn io_err(py: Python<'_>, e: std::io::Error) -> PyErr {
    errors::client_error(py, "InterfaceError", e.to_string())
}

#[pymethods]
impl PyBaseProtocol {
    #[new]
    #[pyo3(signature = (event_loop, statement_cache_size=100, max_cacheable_statement_size=15360, max_cached_statement_lifetime=300.0, record_class=None))]
    fn new(
        event_loop: Py<PyAny>,
        statement_cache_size: usize,
        max_cacheable_statement_size: usize,
        max_cached_statement_lifetime: f64,
        record_class: Option<Py<PyType>>,
    ) -> Self {
        let lifetime = if max_cached_statement_lifetime > 0.0 && max_cached_statement_lifetime.is_finite() {
            Some(Duration::from_secs_f64(max_cached_statement_lifetime))
        } else {
            None
        };
        PyBaseProtocol {
            event_loop,
            transport: None,
            state: State::New,
            inbuf: BytesMut::with_capacity(64 * 1024),
            outbuf: BytesMut::with_capacity(4096),
            pending: VecDeque::new(),
            user: String::new(),
            password: None,
            scram: None,
            backend_pid: 0,
            backend_secret: 0,
            settings: HashMap::new(),
            tx_status: b'I',
            cache: StatementCache::new(statement_cache_size, max_cacheable_statement_size, lifetime),
            described: StatementCache::new(256, max_cacheable_statement_size, lifetime),
            to_close: Vec::new(),
            type_cache: HashMap::new(),
            type_info: HashMap::new(),
            overrides: HashMap::new(),
            introspected: HashSet::new(),
            stmt_counter: 0,
            record_class,
            notification_callback: None,
            notice_callback: None,
            lost_callback: None,
            queries_count: 0,
            last_status: None,
        }
    }

    // ----- asyncio.Protocol -----

    fn connection_made(&mut self, transport: Py<PyAny>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, py: Python<'_>, data: &Bound<'_, PyBytes>) {
        self.inbuf.extend_from_slice(data.as_bytes());
        if let Err(e) = self.process(py) {
            self.abort(py, e);
        }
    }

    fn eof_received(&mut self) -> bool {
        false
    }

    fn connection_lost(slf: &Bound<'_, Self>, _exc: Option<Py<PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let callback = {
            let mut this = slf.try_borrow_mut()?;
            this.state = State::Closed;
            this.transport = None;
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

    // ----- session -----

    /// Send the StartupMessage; the future resolves once the server is ready for queries.
    #[pyo3(signature = (user, database, password=None, server_settings=None))]
    fn startup(
        &mut self,
        py: Python<'_>,
        user: String,
        database: String,
        password: Option<String>,
        server_settings: Option<Vec<(String, String)>>,
    ) -> PyResult<Py<PyAny>> {
        let mut params: Vec<(String, String)> = vec![
            ("user".into(), user.clone()),
            ("database".into(), database),
            ("client_encoding".into(), "utf8".into()),
        ];
        for (k, v) in server_settings.unwrap_or_default() {
            if let Some(p) = params.iter_mut().find(|(pk, _)| *pk == k) {
                p.1 = v;
            } else {
                params.push((k, v));
            }
        }
        self.user = user;
        self.password = password;
        frontend::startup_message(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &mut self.outbuf)
            .map_err(|e| io_err(py, e))?;
        let fut = self.new_future(py)?;
        self.pending.push_back(Pending {
            fut: fut.clone_ref(py),
            kind: Kind::Startup,
            failure: None,
            status: None,
        });
        self.flush(py)?;
        Ok(fut)
    }

    /// Run `query` with the simple protocol (no arguments, several statements allowed); resolves to
    /// the status of the last command. With `flush=False` the message waits in the output buffer
    /// for the next request (or `flush_output`), saving a write: the pool's reset uses this.
    #[pyo3(signature = (query, flush=true))]
    fn simple_query(&mut self, py: Python<'_>, query: &str, flush: bool) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        check_cstr(py, query)?;
        self.write_pending_closes(py)?;
        frontend::query(query, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.queries_count += 1;
        if flush {
            return self.push_and_flush(
                py,
                Kind::Simple {
                    query: query.to_owned(),
                },
            );
        }
        let fut = self.new_future(py)?;
        self.pending.push_back(Pending {
            fut: fut.clone_ref(py),
            kind: Kind::Simple {
                query: query.to_owned(),
            },
            failure: None,
            status: None,
        });
        Ok(fut)
    }

    /// Write whatever waits in the output buffer.
    fn flush_output(&mut self, py: Python<'_>) -> PyResult<()> {
        if matches!(self.state, State::Closed) {
            return Ok(());
        }
        self.flush(py)
    }

    /// Run `query` with `args` through the extended protocol and the statement cache.
    /// `mode`: 0 status string, 1 list of records, 2 first record or None, 3 value of `column` of the
    /// first row, 4 None.
    #[pyo3(signature = (query, args, mode, column=0, record_class=None))]
    fn query(
        &mut self,
        py: Python<'_>,
        query: &Bound<'_, PyString>,
        args: &Bound<'_, PyAny>,
        mode: u8,
        column: usize,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let then = self.then(py, Args::One(args.clone().unbind()), mode, column, record_class);
        let query = query.to_str()?;
        check_cstr(py, query)?;
        self.run(py, query, then)
    }

    /// Run `query` once per argument sequence in `args_list`, pipelined under one Sync (atomic).
    /// `mode` 4 returns None (executemany), 1 returns all rows (fetchmany).
    #[pyo3(signature = (query, args_list, mode, record_class=None))]
    fn query_many(
        &mut self,
        py: Python<'_>,
        query: &str,
        args_list: Bound<'_, PyList>,
        mode: u8,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let then = self.then(py, Args::Many(args_list.unbind()), mode, 0, record_class);
        check_cstr(py, query)?;
        self.run(py, query, then)
    }

    /// Prepare `query` as a named statement outside the cache; resolves to a `StatementState`.
    #[pyo3(signature = (query, name=None))]
    fn prepare(&mut self, py: Python<'_>, query: &str, name: Option<String>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        check_cstr(py, query)?;
        if let Some(n) = &name {
            check_cstr(py, n)?;
        }
        let name = match name {
            Some(n) => n,
            // As asyncpg: prepare() makes its own statement (never the cached one), named unless
            // named statements are off (pgbouncer mode).
            None if self.cache.capacity == 0 => String::new(),
            None => self.next_stmt_name(),
        };
        self.send_prepare(py, name, query.to_owned(), false, None)
    }

    /// Run a prepared statement with `args`; modes as in `query`.
    #[pyo3(signature = (stmt, args, mode, column=0, record_class=None))]
    fn execute_statement(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        args: &Bound<'_, PyAny>,
        mode: u8,
        column: usize,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let then = self.then(py, Args::One(args.clone().unbind()), mode, column, record_class);
        let fut = self.new_future(py)?;
        self.send_execute(py, fut.clone_ref(py), stmt.get().inner.clone(), then, false)?;
        Ok(fut)
    }

    /// Run a prepared statement once per argument sequence, under one Sync.
    #[pyo3(signature = (stmt, args_list, mode, record_class=None))]
    fn execute_statement_many(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        args_list: Bound<'_, PyList>,
        mode: u8,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let then = self.then(py, Args::Many(args_list.unbind()), mode, 0, record_class);
        let fut = self.new_future(py)?;
        self.send_execute(py, fut.clone_ref(py), stmt.get().inner.clone(), then, false)?;
        Ok(fut)
    }

    /// Bind `args` to the named portal `portal` (a cursor); resolves to None.
    fn bind_portal(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        args: &Bound<'_, PyAny>,
        portal: &str,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let stmt = stmt.get().inner.clone();
        check_cstr(py, portal)?;
        self.write_pending_closes(py)?;
        let mark = self.outbuf.len();
        if let Err(e) = self.write_bind(py, portal, &stmt, args, None) {
            self.outbuf.truncate(mark);
            return Err(e);
        }
        frontend::sync(&mut self.outbuf);
        self.push_and_flush(py, Kind::Sync)
    }

    /// Fetch up to `count` rows (0: all) from portal `portal`; resolves to (rows, more_available).
    #[pyo3(signature = (stmt, portal, count, record_class=None))]
    fn execute_portal(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        portal: &str,
        count: i32,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let record_class = record_class.or_else(|| self.record_class.as_ref().map(|c| c.clone_ref(py)));
        check_cstr(py, portal)?;
        self.write_pending_closes(py)?;
        frontend::execute(portal, count, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        frontend::sync(&mut self.outbuf);
        self.queries_count += 1;
        let kind = Kind::Portal {
            stmt: stmt.get().inner.clone(),
            rows: Vec::new(),
            record_class,
            suspended: false,
        };
        self.push_and_flush(py, kind)
    }

    /// Close a portal or statement (`kind` b'P' or b'S') by name; resolves to None.
    fn close_object(&mut self, py: Python<'_>, kind: &str, name: &str) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let variant = if kind == "P" { b'P' } else { b'S' };
        check_cstr(py, name)?;
        self.write_pending_closes(py)?;
        frontend::close(variant, name, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        frontend::sync(&mut self.outbuf);
        self.push_and_flush(py, Kind::Sync)
    }

    /// A request that only waits for every earlier request to finish; resolves to None.
    fn sync(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        self.write_pending_closes(py)?;
        frontend::sync(&mut self.outbuf);
        self.push_and_flush(py, Kind::Sync)
    }

    /// Run a `COPY ... TO STDOUT` command; `sink(bytes)` is called for every data chunk, on the loop
    /// thread. Resolves to the command status.
    fn copy_out(&mut self, py: Python<'_>, query: &str, sink: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        check_cstr(py, query)?;
        self.write_pending_closes(py)?;
        frontend::query(query, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.queries_count += 1;
        self.push_and_flush(py, Kind::CopyOut { sink })
    }

    /// Start a `COPY ... FROM STDIN` command. Returns (started, done): `started` resolves when the
    /// server accepts data (send it with `copy_data`, end with `copy_done` or `copy_fail`); `done`
    /// resolves to the command status.
    fn copy_in(&mut self, py: Python<'_>, query: &str) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        self.check_open(py)?;
        check_cstr(py, query)?;
        self.write_pending_closes(py)?;
        frontend::query(query, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.queries_count += 1;
        let started = self.new_future(py)?;
        let done = self.push_and_flush(
            py,
            Kind::CopyIn {
                started: Some(started.clone_ref(py)),
            },
        )?;
        Ok((started, done))
    }

    /// Send one CopyData message.
    fn copy_data(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.check_open(py)?;
        let len = i32::try_from(data.len() + 4).map_err(|_| protocol_err(py, "COPY data chunk too large"))?;
        self.outbuf.put_u8(b'd');
        self.outbuf.put_i32(len);
        self.outbuf.extend_from_slice(data);
        self.flush(py)
    }

    /// End the data of a COPY FROM STDIN.
    fn copy_done(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        frontend::copy_done(&mut self.outbuf);
        self.flush(py)
    }

    /// Abort a COPY FROM STDIN with `message`.
    fn copy_fail(&mut self, py: Python<'_>, message: &str) -> PyResult<()> {
        self.check_open(py)?;
        let message = message.replace('\0', " ");
        let message = message.as_str();
        frontend::copy_fail(message, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.flush(py)
    }

    /// Encode `records` as binary COPY tuples with the codecs of the columns of `stmt` (a
    /// `SELECT cols FROM table` statement) and send them as one CopyData message, written straight
    /// into the output buffer. `header` starts the binary COPY stream, `trailer` ends it.
    fn copy_records<'py>(
        &mut self,
        py: Python<'py>,
        stmt: &Bound<'py, PyStatement>,
        records: &Bound<'py, PyAny>,
        header: bool,
        trailer: bool,
    ) -> PyResult<()> {
        self.check_open(py)?;
        let stmt = stmt.get().inner.clone();
        for col in &stmt.columns {
            if col.format != 1 {
                return Err(errors::client_error(
                    py,
                    "InternalClientError",
                    format!(
                        "no binary format encoder for type {} (OID {})",
                        col.codec.type_name(),
                        col.type_oid
                    ),
                ));
            }
        }
        let mark = self.outbuf.len();
        let result = encode_copy_message(py, &stmt, records, header, trailer, &mut self.outbuf);
        if let Err(e) = result {
            self.outbuf.truncate(mark);
            return Err(e);
        }
        self.flush(py)
    }

    /// The statement for `query` from the cache, or prepared (and cached) now; resolves to a
    /// `StatementState`. With named statements off, the unnamed statement described once.
    fn statement_for(&mut self, py: Python<'_>, query: &str) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        check_cstr(py, query)?;
        let cached = if self.cache.accepts(query) {
            self.cache.get(query, &mut self.to_close)
        } else {
            let mut unnamed = Vec::new();
            self.described.get(query, &mut unnamed)
        };
        if let Some(stmt) = cached {
            let fut = self.new_future(py)?;
            set_result(py, &fut, Py::new(py, PyStatement { inner: stmt })?.into_any());
            return Ok(fut);
        }
        if self.cache.accepts(query) {
            let name = self.next_stmt_name();
            self.send_prepare(py, name, query.to_owned(), true, None)
        } else {
            self.send_prepare(py, String::new(), query.to_owned(), false, None)
        }
    }

    /// Start an executemany/fetchmany whose argument sets are sent in batches (`many_batch`),
    /// all under one Sync (`many_end`). The caller keeps other requests off the connection until
    /// then. Resolves like `execute_statement_many`.
    #[pyo3(signature = (stmt, mode, record_class=None))]
    fn many_start(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        mode: u8,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let mut then = self.then(py, Args::Many(PyList::empty(py).unbind()), mode, 0, record_class);
        // Batches already sent cannot be sent again: no transparent re-prepare.
        then.retried = true;
        let fut = self.new_future(py)?;
        self.queries_count += 1;
        self.pending.push_back(Pending {
            fut: fut.clone_ref(py),
            kind: Kind::Execute {
                stmt: stmt.get().inner.clone(),
                then,
                rows: Vec::new(),
                cached: false,
                invalidated: false,
                bound: false,
            },
            failure: None,
            status: None,
        });
        Ok(fut)
    }

    /// Send one batch of argument sets (Bind/Execute each). Returns False once the server has
    /// reported an error for this request: the rest would be ignored, stop producing it.
    fn many_batch(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        batch: &Bound<'_, PyList>,
        first: bool,
        offset: usize,
    ) -> PyResult<bool> {
        self.check_open(py)?;
        if self.pending.back().is_some_and(|p| p.failure.is_some()) {
            return Ok(false);
        }
        let stmt = stmt.get().inner.clone();
        let mark = self.outbuf.len();
        let written = (|| -> PyResult<()> {
            if first {
                self.write_pending_closes(py)?;
                if stmt.name.is_empty() {
                    frontend::parse(
                        "",
                        &stmt.query,
                        stmt.params.iter().map(|p| p.type_oid),
                        &mut self.outbuf,
                    )
                    .map_err(|e| io_err(py, e))?;
                }
            }
            for (i, args) in batch.iter().enumerate() {
                self.write_bind(py, "", &stmt, &args, Some(offset + i))?;
                if first && i == 0 && stmt.name.is_empty() {
                    frontend::describe(b'P', "", &mut self.outbuf).map_err(|e| io_err(py, e))?;
                }
                frontend::execute("", 0, &mut self.outbuf).map_err(|e| io_err(py, e))?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            // Whole messages of this batch up to the bad one are dropped too: nothing half-written.
            self.outbuf.truncate(mark);
            return Err(e);
        }
        self.flush(py)?;
        Ok(true)
    }

    /// End a batched executemany: Sync, after which the request's future resolves.
    fn many_end(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        frontend::sync(&mut self.outbuf);
        self.flush(py)
    }

    /// Abandon a batched executemany after a client-side failure: inside a transaction block just
    /// Sync (the block is the user's), else roll the implicit transaction back first, so that
    /// nothing of it stays.
    fn many_abort(&mut self, py: Python<'_>, in_transaction: bool) -> PyResult<()> {
        if matches!(self.state, State::Closed) {
            return Ok(());
        }
        if !in_transaction {
            frontend::parse("", "ROLLBACK", std::iter::empty(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
            let out = &mut self.outbuf;
            out.put_u8(b'B');
            out.put_i32(12);
            out.put_u8(0);
            out.put_u8(0);
            out.put_i16(0);
            out.put_i16(0);
            out.put_i16(0);
            frontend::execute("", 0, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        }
        frontend::sync(&mut self.outbuf);
        self.flush(py)
    }

    /// Forget every cached statement (they are closed on the server with the next request).
    fn clear_statement_cache(&mut self) {
        self.cache.clear(&mut self.to_close);
        let mut unnamed = Vec::new();
        self.described.clear(&mut unnamed);
    }

    /// Use the Python `encoder`/`decoder` for type `oid` (`set_type_codec`). `format` is 'text',
    /// 'binary' or 'tuple'. Cached statements and types are dropped, as in asyncpg.
    fn set_type_codec(
        &mut self,
        py: Python<'_>,
        oid: u32,
        type_name: &str,
        encoder: Py<PyAny>,
        decoder: Py<PyAny>,
        format: &str,
    ) -> PyResult<()> {
        let format = match format {
            "text" => crate::codecs::UserFormat::Text,
            "binary" => crate::codecs::UserFormat::Binary,
            "tuple" => crate::codecs::UserFormat::Tuple,
            other => {
                return Err(errors::client_error(
                    py,
                    "InterfaceError",
                    format!("invalid `format` argument, expected 'text', 'binary' or 'tuple', got {other:?}"),
                ))
            }
        };
        self.overrides.remove(&oid);
        let base = self.codec_for(oid);
        let codec = Codec::user(py, oid, type_name, encoder, decoder, format, base)?;
        self.overrides.insert(oid, codec);
        self.clear_type_cache();
        Ok(())
    }

    /// Use the builtin codec `codec_name` for type `oid` (`set_builtin_type_codec`).
    fn set_builtin_type_codec(&mut self, py: Python<'_>, oid: u32, type_name: &str, codec_name: &str) -> PyResult<()> {
        let codec = Codec::builtin_by_name(oid, codec_name).ok_or_else(|| {
            errors::client_error(
                py,
                "InterfaceError",
                format!("cannot alias {type_name} to unknown codec {codec_name:?}"),
            )
        })?;
        self.overrides.insert(oid, codec);
        self.clear_type_cache();
        Ok(())
    }

    /// Drop the user's codec for type `oid` (`reset_type_codec`).
    fn reset_type_codec(&mut self, oid: u32) {
        self.overrides.remove(&oid);
        self.clear_type_cache();
    }

    /// (name, kind, schema) of an introspected type, as asyncpg's `Type` has them.
    fn type_info(&self, oid: u32) -> Option<(String, &'static str, String)> {
        self.type_info.get(&oid).cloned()
    }

    /// Forget cached statements and introspected types (`reload_schema_state`).
    fn clear_type_cache(&mut self) {
        self.clear_statement_cache();
        self.type_cache.clear();
        self.type_info.clear();
        self.introspected.clear();
    }

    /// Number of statements in the cache.
    fn statement_cache_len(&self) -> usize {
        self.cache.len()
    }

    /// Send Terminate and close the transport.
    /// Send Terminate; with `close`, close the transport now, else let the server close it (the
    /// caller waits for `connection_lost`, with its own time limit).
    #[pyo3(signature = (close=true))]
    fn terminate(&mut self, py: Python<'_>, close: bool) -> PyResult<()> {
        if let (State::Ready, Some(t)) = (&self.state, &self.transport) {
            frontend::terminate(&mut self.outbuf);
            let data = PyBytes::new(py, &self.outbuf);
            self.outbuf.clear();
            let _ = t.call_method1(py, intern!(py, "write"), (data,));
        }
        self.state = State::Closed;
        if close {
            if let Some(t) = &self.transport {
                t.call_method0(py, intern!(py, "close"))?;
            }
        }
        Ok(())
    }

    /// Close the socket at once, without a Terminate message.
    fn abort_transport(&mut self, py: Python<'_>) -> PyResult<()> {
        self.state = State::Closed;
        if let Some(t) = &self.transport {
            t.call_method0(py, intern!(py, "abort"))?;
        }
        Ok(())
    }

    fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether requests are in flight.
    fn is_busy(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether the future `fut` belongs to the request the server is working on now.
    fn is_current(&self, fut: &Bound<'_, PyAny>) -> bool {
        self.pending.front().is_some_and(|p| p.fut.is(fut))
    }

    fn get_backend_pid(&self) -> i32 {
        self.backend_pid
    }

    fn get_backend_secret(&self) -> i32 {
        self.backend_secret
    }

    /// Server parameters reported by ParameterStatus.
    fn get_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.settings {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// The transaction status of the last ReadyForQuery: 'I' idle, 'T' in a block, 'E' failed block.
    fn transaction_status(&self) -> char {
        char::from(self.tx_status)
    }
}

impl PyBaseProtocol {
    /// What to do after preparing: the arguments, the result shape and the record class (the
    /// connection's default when the call gives none).
    fn then(&self, py: Python<'_>, args: Args, mode: u8, column: usize, record_class: Option<Py<PyType>>) -> Then {
        let record_class = record_class.or_else(|| self.record_class.as_ref().map(|c| c.clone_ref(py)));
        Then {
            args,
            mode,
            column,
            record_class,
            retried: false,
        }
    }

    /// The codec for a type OID: the user's, else the builtin one, else one found by introspection.
    fn codec_for(&self, oid: u32) -> Option<Codec> {
        lookup_codec(&self.overrides, &self.type_cache, oid)
    }

    fn unknown_oids(&self, d: &Described) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for &oid in d.params.iter().chain(d.columns.iter().map(|(_, oid)| oid)) {
            if oid != 0 && !out.contains(&oid) && !self.introspected.contains(&oid) && self.codec_for(oid).is_none() {
                out.push(oid);
            }
        }
        out
    }

    fn send_introspection(
        &mut self,
        py: Python<'_>,
        fut: Py<PyAny>,
        oids: Vec<u32>,
        resume: Described,
    ) -> PyResult<()> {
        self.write_pending_closes(py)?;
        frontend::parse("", introspection::INTROSPECTION_QUERY, [1028u32], &mut self.outbuf)
            .map_err(|e| io_err(py, e))?;
        let literal = introspection::oid_array_literal(&oids);
        let out = &mut self.outbuf;
        out.put_u8(b'B');
        let len_at = out.len();
        out.put_i32(0);
        out.put_u8(0); // unnamed portal
        out.put_u8(0); // unnamed statement
        out.put_i16(1);
        out.put_i16(0); // parameter in text format
        out.put_i16(1);
        out.put_i32(i32::try_from(literal.len()).map_err(|_| protocol_err(py, "too many types"))?);
        out.extend_from_slice(literal.as_bytes());
        out.put_i16(0); // all results in text format
        let len = i32::try_from(out.len() - len_at).map_err(|_| protocol_err(py, "message too large"))?;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        frontend::execute("", 0, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        frontend::sync(&mut self.outbuf);
        let kind = Kind::Introspect {
            oids,
            rows: Vec::new(),
            resume: Box::new(resume),
        };
        self.pending.push_back(Pending {
            fut,
            kind,
            failure: None,
            status: None,
        });
        self.flush(py)
    }

    /// The statement is described and its types known: cache it, then run it or hand it over.
    fn finish_prepare(&mut self, py: Python<'_>, fut: Py<PyAny>, d: Described) -> PyResult<()> {
        let Described {
            name,
            query,
            cache,
            params,
            columns,
            then,
        } = d;
        let stmt = {
            let lookup = |oid: u32| self.codec_for(oid);
            Arc::new(build_statement(py, name, query, &params, columns, &lookup)?)
        };
        if cache {
            self.cache.insert(stmt.clone(), &mut self.to_close);
        } else if stmt.name.is_empty() && self.described.accepts(&stmt.query) {
            let mut unnamed = Vec::new();
            self.described.insert(stmt.clone(), &mut unnamed);
        }
        match then {
            None => set_result(py, &fut, Py::new(py, PyStatement { inner: stmt })?.into_any()),
            Some(then) => {
                if fut.call_method0(py, intern!(py, "done"))?.is_truthy(py)? {
                    // Cancelled while preparing: keep the statement, skip the execution.
                    return Ok(());
                }
                if let Err(e) = self.send_execute(py, fut.clone_ref(py), stmt, then, cache) {
                    set_exception(py, &fut, e);
                }
            }
        }
        Ok(())
    }

    fn new_future(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.event_loop.call_method0(py, intern!(py, "create_future"))
    }

    fn check_open(&self, py: Python<'_>) -> PyResult<()> {
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

    fn next_stmt_name(&mut self) -> String {
        self.stmt_counter += 1;
        format!("__asyncpg_rs_stmt_{:x}__", self.stmt_counter)
    }

    fn push_and_flush(&mut self, py: Python<'_>, kind: Kind) -> PyResult<Py<PyAny>> {
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

    fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
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

    fn write_pending_closes(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.to_close.is_empty() {
            return Ok(());
        }
        let mut kept = Vec::new();
        for stmt in std::mem::take(&mut self.to_close) {
            if stmt.name.is_empty() {
                continue;
            }
            if Arc::strong_count(&stmt) > 1 {
                // A PreparedStatement (or a request in flight) still uses it: close it later.
                kept.push(stmt);
                continue;
            }
            frontend::close(b'S', &stmt.name, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        }
        self.to_close = kept;
        Ok(())
    }

    /// Look the query up in the cache and execute, or prepare first.
    fn run(&mut self, py: Python<'_>, query: &str, then: Then) -> PyResult<Py<PyAny>> {
        if self.cache.accepts(query) {
            if let Some(stmt) = self.cache.get(query, &mut self.to_close) {
                let fut = self.new_future(py)?;
                self.send_execute(py, fut.clone_ref(py), stmt, then, true)?;
                return Ok(fut);
            }
            let name = self.next_stmt_name();
            self.send_prepare(py, name, query.to_owned(), true, Some(then))
        } else {
            let mut unnamed = Vec::new();
            if let Some(stmt) = self.described.get(query, &mut unnamed) {
                let fut = self.new_future(py)?;
                self.send_execute(py, fut.clone_ref(py), stmt, then, false)?;
                return Ok(fut);
            }
            self.send_prepare(py, String::new(), query.to_owned(), false, Some(then))
        }
    }

    fn send_prepare(
        &mut self,
        py: Python<'_>,
        name: String,
        query: String,
        cache: bool,
        then: Option<Then>,
    ) -> PyResult<Py<PyAny>> {
        let fut = self.new_future(py)?;
        self.send_prepare_with(py, fut.clone_ref(py), name, query, cache, then)?;
        Ok(fut)
    }

    fn send_prepare_with(
        &mut self,
        py: Python<'_>,
        fut: Py<PyAny>,
        name: String,
        query: String,
        cache: bool,
        then: Option<Then>,
    ) -> PyResult<()> {
        self.write_pending_closes(py)?;
        frontend::parse(&name, &query, std::iter::empty(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
        frontend::describe(b'S', &name, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        frontend::sync(&mut self.outbuf);
        let kind = Kind::Prepare {
            name,
            query,
            cache,
            params: Vec::new(),
            columns: Vec::new(),
            then,
        };
        self.pending.push_back(Pending {
            fut,
            kind,
            failure: None,
            status: None,
        });
        self.flush(py)
    }

    /// Write Bind/Execute (once, or per argument set) and Sync for a described statement.
    fn send_execute(
        &mut self,
        py: Python<'_>,
        fut: Py<PyAny>,
        stmt: Arc<Statement>,
        then: Then,
        cached: bool,
    ) -> PyResult<()> {
        let mark = self.outbuf.len();
        let written = self.write_execute(py, &stmt, &then);
        if let Err(e) = written {
            self.outbuf.truncate(mark);
            return Err(e);
        }
        self.queries_count += 1;
        let kind = Kind::Execute {
            stmt,
            then,
            rows: Vec::new(),
            cached,
            invalidated: false,
            bound: false,
        };
        self.pending.push_back(Pending {
            fut,
            kind,
            failure: None,
            status: None,
        });
        self.flush(py)
    }

    fn write_execute(&mut self, py: Python<'_>, stmt: &Statement, then: &Then) -> PyResult<()> {
        self.write_pending_closes(py)?;
        if stmt.name.is_empty() {
            // The unnamed statement may have been replaced by a request pipelined behind ours:
            // parse it again, with the parameter types we learned.
            frontend::parse(
                "",
                &stmt.query,
                stmt.params.iter().map(|p| p.type_oid),
                &mut self.outbuf,
            )
            .map_err(|e| io_err(py, e))?;
        }
        let max_rows = if then.mode == MODE_ROW || then.mode == MODE_VAL {
            1
        } else {
            0
        };
        match &then.args {
            Args::One(args) => {
                self.write_bind(py, "", stmt, args.bind(py), None)?;
                if stmt.name.is_empty() {
                    frontend::describe(b'P', "", &mut self.outbuf).map_err(|e| io_err(py, e))?;
                }
                frontend::execute("", max_rows, &mut self.outbuf).map_err(|e| io_err(py, e))?;
            }
            Args::Many(list) => {
                for (i, args) in list.bind(py).iter().enumerate() {
                    self.write_bind(py, "", stmt, &args, Some(i))?;
                    if i == 0 && stmt.name.is_empty() {
                        frontend::describe(b'P', "", &mut self.outbuf).map_err(|e| io_err(py, e))?;
                    }
                    frontend::execute("", max_rows, &mut self.outbuf).map_err(|e| io_err(py, e))?;
                }
            }
        }
        frontend::sync(&mut self.outbuf);
        Ok(())
    }

    /// Encode one Bind message: parameter values with their codecs (binary) or as text.
    fn write_bind(
        &mut self,
        py: Python<'_>,
        portal: &str,
        stmt: &Statement,
        args: &Bound<'_, PyAny>,
        row: Option<usize>,
    ) -> PyResult<()> {
        let seq = args.cast::<PySequence>().map_err(|_| {
            let msg = match row {
                Some(r) => format!(
                    "invalid input in executemany() argument sequence element #{r}: expected a sequence, got {}",
                    type_name(args)
                ),
                None => format!(
                    "invalid input for query arguments: expected a sequence, got {}",
                    type_name(args)
                ),
            };
            errors::client_error(py, "DataError", msg)
        })?;
        let n = seq.len()?;
        if n != stmt.params.len() {
            let expected = stmt.params.len();
            return Err(errors::client_error_with_hint(
                py,
                "InterfaceError",
                format!(
                    "the server expects {expected} argument{} for this query, {n} {} passed",
                    if expected == 1 { "" } else { "s" },
                    if n == 1 { "was" } else { "were" }
                ),
                "Check the query against the passed list of arguments.",
            ));
        }
        let out = &mut self.outbuf;
        out.put_u8(b'B');
        let len_at = out.len();
        out.put_i32(0);
        put_cstr(py, out, portal)?;
        put_cstr(py, out, &stmt.name)?;
        put_i16(py, out, stmt.params.len())?;
        for p in &stmt.params {
            out.put_i16(p.codec.as_ref().map_or(0, Codec::format_code));
        }
        put_i16(py, out, stmt.params.len())?;
        let mut scratch: Vec<u8> = Vec::new();
        for (i, p) in stmt.params.iter().enumerate() {
            let value = seq.get_item(i)?;
            if value.is_none() {
                out.put_i32(-1);
                continue;
            }
            scratch.clear();
            let encoded = match &p.codec {
                Some(codec) => codec.encode(&value, &mut scratch),
                // Types read as text (money, macaddr, ...) take str, as in asyncpg.
                None => match value.cast::<PyString>() {
                    Ok(s) => s.to_str().map(|s| scratch.extend_from_slice(s.as_bytes())),
                    Err(_) => Err(PyTypeError::new_err(format!("expected str, got {}", type_name(&value)))),
                },
            };
            if let Err(e) = encoded {
                return Err(argument_error(py, i, row, &value, &e));
            }
            let len = i32::try_from(scratch.len())
                .map_err(|_| argument_error(py, i, row, &value, &PyTypeError::new_err("value is too large")))?;
            out.put_i32(len);
            out.extend_from_slice(&scratch);
        }
        put_i16(py, out, stmt.result_formats.len())?;
        for f in &stmt.result_formats {
            out.put_i16(*f);
        }
        let len = i32::try_from(out.len() - len_at).map_err(|_| protocol_err(py, "Bind message too large"))?;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// Parse every complete message in the input buffer and dispatch it.
    fn process(&mut self, py: Python<'_>) -> PyResult<()> {
        loop {
            // NOTE: DataRow is by far the most frequent message; decoding it in place, without
            // splitting it off into its own buffer, is the row hot path.
            if self.inbuf.len() >= 5 && self.inbuf[0] == b'D' {
                let len = u32::from_be_bytes([self.inbuf[1], self.inbuf[2], self.inbuf[3], self.inbuf[4]]) as usize;
                if self.inbuf.len() > len {
                    self.on_data_row_slice(py, 5, len + 1)?;
                    self.inbuf.advance(len + 1);
                    continue;
                }
            }
            let msg = match Message::parse(&mut self.inbuf) {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(e) => return Err(protocol_err(py, format!("invalid message from the server: {e}"))),
            };
            self.handle(py, msg)?;
        }
    }

    fn handle(&mut self, py: Python<'_>, msg: Message) -> PyResult<()> {
        match msg {
            Message::DataRow(body) => self.on_data_row(py, &body),
            Message::CommandComplete(body) => {
                let tag = body.tag().map_err(|e| protocol_err(py, e.to_string()))?;
                if let Some(p) = self.pending.front_mut() {
                    p.status = Some(tag.to_owned());
                }
                Ok(())
            }
            Message::ReadyForQuery(body) => {
                self.tx_status = body.status();
                match self.pending.pop_front() {
                    Some(p) => self.complete(py, p),
                    None => Err(protocol_err(py, "unexpected ReadyForQuery")),
                }
            }
            Message::ErrorResponse(body) => {
                let fields = collect_fields(body.fields()).map_err(|e| protocol_err(py, e.to_string()))?;
                self.on_error(py, fields)
            }
            Message::BindComplete => {
                if let Some(Pending {
                    kind: Kind::Execute { bound, .. },
                    ..
                }) = self.pending.front_mut()
                {
                    *bound = true;
                }
                Ok(())
            }
            Message::ParseComplete | Message::CloseComplete | Message::NoData | Message::EmptyQueryResponse => Ok(()),
            Message::PortalSuspended => {
                if let Some(Pending {
                    kind: Kind::Portal { suspended, .. },
                    ..
                }) = self.pending.front_mut()
                {
                    *suspended = true;
                }
                Ok(())
            }
            Message::ParameterDescription(body) => {
                let oids: Vec<u32> = body
                    .parameters()
                    .collect()
                    .map_err(|e| protocol_err(py, e.to_string()))?;
                if let Some(Pending {
                    kind: Kind::Prepare { params, .. },
                    ..
                }) = self.pending.front_mut()
                {
                    *params = oids;
                }
                Ok(())
            }
            Message::RowDescription(body) => {
                let cols: Vec<(String, u32, i16)> = body
                    .fields()
                    .map(|f| Ok((f.name().to_owned(), f.type_oid(), f.format())))
                    .collect()
                    .map_err(|e| protocol_err(py, e.to_string()))?;
                match self.pending.front_mut() {
                    Some(Pending {
                        kind: Kind::Prepare { columns, .. },
                        ..
                    }) => {
                        *columns = cols.into_iter().map(|(n, oid, _)| (n, oid)).collect();
                    }
                    Some(Pending {
                        kind: Kind::Execute { stmt, .. },
                        failure,
                        ..
                    }) => {
                        let overrides = &self.overrides;
                        let type_cache = &self.type_cache;
                        let lookup = |oid: u32| lookup_codec(overrides, type_cache, oid);
                        // Describe of an unnamed portal: the table may have changed since we described
                        // the query; decode by what the server says now.
                        let same = stmt.columns.len() == cols.len()
                            && stmt
                                .columns
                                .iter()
                                .zip(&cols)
                                .all(|(c, (n, oid, f))| c.type_oid == *oid && c.format == *f && c.name == *n);
                        if !same {
                            match redescribe(py, stmt, cols, &lookup) {
                                Ok(new) => {
                                    let mut unnamed = Vec::new();
                                    self.described.insert(new.clone(), &mut unnamed);
                                    *stmt = new;
                                }
                                Err(e) => {
                                    self.described.remove(&stmt.query, "");
                                    *failure = Some(Failure::Client(e));
                                }
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(|e| protocol_err(py, e.to_string()))?;
                let value = body.value().map_err(|e| protocol_err(py, e.to_string()))?;
                self.settings.insert(name.to_owned(), value.to_owned());
                Ok(())
            }
            Message::BackendKeyData(body) => {
                self.backend_pid = body.process_id();
                self.backend_secret = body.secret_key();
                Ok(())
            }
            Message::NoticeResponse(body) => {
                let fields = collect_fields(body.fields()).map_err(|e| protocol_err(py, e.to_string()))?;
                if let Some(cb) = &self.notice_callback {
                    let msg = errors::log_message(py, &fields)?;
                    self.event_loop.call_method1(py, intern!(py, "call_soon"), (cb, msg))?;
                }
                Ok(())
            }
            Message::NotificationResponse(body) => {
                if let Some(cb) = &self.notification_callback {
                    let channel = body.channel().map_err(|e| protocol_err(py, e.to_string()))?;
                    let payload = body.message().map_err(|e| protocol_err(py, e.to_string()))?;
                    self.event_loop.call_method1(
                        py,
                        intern!(py, "call_soon"),
                        (cb, body.process_id(), channel, payload),
                    )?;
                }
                Ok(())
            }
            Message::CopyInResponse(_) => {
                if let Some(Pending {
                    kind: Kind::CopyIn { started },
                    ..
                }) = self.pending.front_mut()
                {
                    if let Some(started) = started.take() {
                        set_result(py, &started, py.None());
                    }
                    return Ok(());
                }
                frontend::copy_fail(
                    "use copy_to_table() or copy_records_to_table() for COPY FROM STDIN",
                    &mut self.outbuf,
                )
                .map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::CopyData(body) => {
                if let Some(Pending {
                    kind: Kind::CopyOut { sink },
                    failure,
                    ..
                }) = self.pending.front_mut()
                {
                    if failure.is_none() {
                        if let Err(e) = sink.call1(py, (PyBytes::new(py, body.data()),)) {
                            *failure = Some(Failure::Client(e));
                        }
                    }
                }
                Ok(())
            }
            Message::CopyOutResponse(_) | Message::CopyDone => Ok(()),
            Message::AuthenticationOk => Ok(()),
            Message::AuthenticationCleartextPassword => {
                let pw = self.password.clone().unwrap_or_default();
                frontend::password_message(pw.as_bytes(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationMd5Password(body) => {
                let pw = self.password.clone().unwrap_or_default();
                let hash = md5_hash(self.user.as_bytes(), pw.as_bytes(), body.salt());
                frontend::password_message(hash.as_bytes(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationSasl(body) => {
                let mechs: Vec<String> = body
                    .mechanisms()
                    .map(|m| Ok(m.to_owned()))
                    .collect()
                    .map_err(|e| protocol_err(py, e.to_string()))?;
                if !mechs.iter().any(|m| m == sasl::SCRAM_SHA_256) {
                    return Err(self.auth_unsupported(py, &format!("SASL ({})", mechs.join(", "))));
                }
                let pw = self.password.clone().unwrap_or_default();
                let scram = sasl::ScramSha256::new(pw.as_bytes(), sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, scram.message(), &mut self.outbuf)
                    .map_err(|e| io_err(py, e))?;
                self.scram = Some(scram);
                self.flush(py)
            }
            Message::AuthenticationSaslContinue(body) => {
                let Some(scram) = self.scram.as_mut() else {
                    return Err(protocol_err(py, "unexpected SASL continue message"));
                };
                scram
                    .update(body.data())
                    .map_err(|e| protocol_err(py, format!("SCRAM authentication failed: {e}")))?;
                frontend::sasl_response(scram.message(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
                self.flush(py)
            }
            Message::AuthenticationSaslFinal(body) => {
                let Some(mut scram) = self.scram.take() else {
                    return Err(protocol_err(py, "unexpected SASL final message"));
                };
                scram
                    .finish(body.data())
                    .map_err(|e| protocol_err(py, format!("SCRAM authentication failed: {e}")))
            }
            Message::AuthenticationGss | Message::AuthenticationGssContinue(_) => Err(self.auth_unsupported(py, "GSS")),
            Message::AuthenticationKerberosV5 => Err(self.auth_unsupported(py, "Kerberos V5")),
            Message::AuthenticationScmCredential => Err(self.auth_unsupported(py, "SCM credentials")),
            Message::AuthenticationSspi => Err(self.auth_unsupported(py, "SSPI")),
            _ => Err(protocol_err(py, "unexpected message from the server")),
        }
    }

    fn auth_unsupported(&self, py: Python<'_>, method: &str) -> PyErr {
        errors::client_error(
            py,
            "InterfaceError",
            format!("unsupported authentication method requested by the server: {method}"),
        )
    }

    fn on_error(&mut self, py: Python<'_>, fields: Fields) -> PyResult<()> {
        let Some(p) = self.pending.front_mut() else {
            // An error outside any request (e.g. the server shutting down): FATAL, the connection ends.
            return Ok(());
        };
        if let Kind::Execute {
            stmt,
            then,
            cached,
            invalidated,
            bound,
            ..
        } = &mut p.kind
        {
            if *cached
                && errors::sqlstate(&fields) == "0A000"
                && errors::message(&fields).contains("cached plan must not change result type")
            {
                *invalidated = true;
            }
            if stmt.name.is_empty() {
                // Re-describe next time: the error may come from a changed schema. A failure before
                // BindComplete executed nothing, so it is safe to describe again and retry once.
                self.described.remove(&stmt.query, "");
                if !*bound && !then.retried {
                    *invalidated = true;
                }
            }
        }
        if p.failure.is_none() {
            p.failure = Some(Failure::Server(fields));
        }
        if matches!(p.kind, Kind::Startup) {
            // The server closes the connection after a startup error; nothing else will arrive.
            if let Some(p) = self.pending.pop_front() {
                self.complete(py, p)?;
            }
        }
        Ok(())
    }

    fn on_data_row_slice(&mut self, py: Python<'_>, start: usize, end: usize) -> PyResult<()> {
        let Some(p) = self.pending.front_mut() else {
            return Err(protocol_err(py, "unexpected DataRow"));
        };
        if p.failure.is_some() {
            return Ok(());
        }
        let body = &self.inbuf[start..end];
        let (stmt, rows, record_class) = match &mut p.kind {
            Kind::Execute { stmt, rows, then, .. } => (stmt, rows, &then.record_class),
            Kind::Portal {
                stmt,
                rows,
                record_class,
                ..
            } => (stmt, rows, &*record_class),
            Kind::Introspect { rows, .. } => {
                match text_row(body) {
                    Some(row) => rows.push(row),
                    None => return Err(protocol_err(py, "malformed DataRow message")),
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        match decode_row_bytes(py, stmt, body, record_class.as_ref().map(|c| c.bind(py))) {
            Ok(rec) => rows.push(rec),
            Err(e) => p.failure = Some(Failure::Client(e)),
        }
        Ok(())
    }

    fn on_data_row(&mut self, py: Python<'_>, body: &DataRowBody) -> PyResult<()> {
        let Some(p) = self.pending.front_mut() else {
            return Err(protocol_err(py, "unexpected DataRow"));
        };
        if p.failure.is_some() {
            return Ok(());
        }
        let (stmt, rows, record_class) = match &mut p.kind {
            Kind::Execute { stmt, rows, then, .. } => (stmt, rows, &then.record_class),
            Kind::Portal {
                stmt,
                rows,
                record_class,
                ..
            } => (stmt, rows, &*record_class),
            _ => return Ok(()),
        };
        match decode_row(py, stmt, body, record_class.as_ref().map(|c| c.bind(py))) {
            Ok(rec) => rows.push(rec),
            Err(e) => p.failure = Some(Failure::Client(e)),
        }
        Ok(())
    }

    /// A request is finished (its ReadyForQuery arrived): resolve its future, or move it to its next step.
    fn complete(&mut self, py: Python<'_>, p: Pending) -> PyResult<()> {
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
        if let Some(failure) = failure {
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
                if self.tx_status == b'I' && !then.retried {
                    // The statement went stale (ALTER TABLE ...): prepare again and rerun, as asyncpg does.
                    let named = !stmt.name.is_empty();
                    if named && self.cache.remove(&stmt.query, &stmt.name) {
                        self.to_close.push(stmt.clone());
                    }
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
                        self.clear_type_cache();
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
            return Ok(());
        }
        match kind {
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
            Kind::Introspect { oids, rows, resume } => {
                let types = introspection::parse_rows(&rows);
                let built = {
                    let known = |oid: u32| self.codec_for(oid);
                    introspection::build_codecs(py, &types, &known)?
                };
                self.type_cache.extend(built);
                for oid in types.keys() {
                    if let Some(info) = introspection::describe(*oid, &types, 0) {
                        self.type_info.insert(*oid, info);
                    }
                }
                self.introspected.extend(oids);
                self.introspected.extend(types.keys().copied());
                self.finish_prepare(py, fut, *resume)?;
            }
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

    /// A fatal protocol problem: close the connection and fail everything in flight.
    fn abort(&mut self, py: Python<'_>, err: PyErr) {
        self.state = State::Closed;
        if let Some(t) = &self.transport {
            let _ = t.call_method0(py, intern!(py, "abort"));
        }
        let mut first = Some(err);
        self.fail_all(py, || {
            first.take().unwrap_or_else(|| {
                errors::client_error(
                    py,
                    "ConnectionDoesNotExistError",
                    "connection was closed in the middle of operation",
                )
            })
        });
    }

    fn fail_all(&mut self, py: Python<'_>, mut make: impl FnMut() -> PyErr) {
        for p in std::mem::take(&mut self.pending) {
            if let Kind::CopyIn { started: Some(started) } = &p.kind {
                set_exception(py, started, make());
                set_result(py, &p.fut, py.None());
                continue;
            }
            set_exception(py, &p.fut, make());
        }
    }
}

/// The codec for `oid`: a user override, else the builtin codec (arrays over an overridden element
/// type use the override), else one found by introspection.
fn lookup_codec(overrides: &HashMap<u32, Codec>, type_cache: &HashMap<u32, Codec>, oid: u32) -> Option<Codec> {
    if let Some(c) = overrides.get(&oid) {
        return Some(c.clone());
    }
    if !overrides.is_empty() {
        if let Some(elem) = crate::codecs::array_element(oid) {
            if let Some(e) = overrides.get(&elem) {
                return Some(Codec::Array(Arc::new(crate::codecs::ArrayCodec::new(
                    oid,
                    elem,
                    e.clone(),
                ))));
            }
        }
    }
    Codec::for_oid(oid).or_else(|| type_cache.get(&oid).cloned())
}

/// Bind's result format codes: one code when all columns agree (so a later change in the number of
/// columns, e.g. `SELECT *` after `ALTER TABLE ... ADD COLUMN`, does not break the Bind), else one each.
fn result_formats(columns: &[Column]) -> Vec<i16> {
    match columns.first() {
        None => Vec::new(),
        Some(first) if columns.iter().all(|c| c.format == first.format) => vec![first.format],
        Some(_) => columns.iter().map(|c| c.format).collect(),
    }
}

fn build_statement(
    py: Python<'_>,
    name: String,
    query: String,
    params: &[u32],
    columns: Vec<(String, u32)>,
    lookup: &dyn Fn(u32) -> Option<Codec>,
) -> PyResult<Statement> {
    let params = params
        .iter()
        .map(|&oid| Param {
            type_oid: oid,
            codec: lookup(oid),
        })
        .collect();
    let columns: Vec<Column> = columns
        .into_iter()
        .map(|(name, oid)| match lookup(oid) {
            Some(codec) => Column {
                name,
                type_oid: oid,
                format: codec.format_code(),
                codec,
            },
            None => Column {
                name,
                type_oid: oid,
                format: 0,
                codec: Codec::for_text_oid(oid),
            },
        })
        .collect();
    let desc = RecordDescriptor::new(py, columns.iter().map(|c| c.name.clone()).collect())?;
    let result_formats = result_formats(&columns);
    Ok(Statement {
        name,
        query,
        params,
        columns,
        desc,
        result_formats,
    })
}

/// A statement rebuilt from the RowDescription of a portal (names, types and formats as sent).
fn redescribe(
    py: Python<'_>,
    old: &Statement,
    cols: Vec<(String, u32, i16)>,
    lookup: &dyn Fn(u32) -> Option<Codec>,
) -> PyResult<Arc<Statement>> {
    let mut columns = Vec::with_capacity(cols.len());
    for (name, oid, format) in cols {
        let codec = if format == 1 {
            lookup(oid).ok_or_else(|| {
                errors::client_error(
                    py,
                    "OutdatedSchemaCacheError",
                    format!("the type of column {name:?} changed to an unsupported type (OID {oid}); retry the query"),
                )
            })?
        } else {
            lookup(oid)
                .filter(|c| c.format_code() == 0)
                .unwrap_or_else(|| Codec::for_text_oid(oid))
        };
        columns.push(Column {
            name,
            type_oid: oid,
            format,
            codec,
        });
    }
    let desc = RecordDescriptor::new(py, columns.iter().map(|c| c.name.clone()).collect())?;
    let result_formats = result_formats(&columns);
    let params = old
        .params
        .iter()
        .map(|p| Param {
            type_oid: p.type_oid,
            codec: p.codec.clone(),
        })
        .collect();
    Ok(Arc::new(Statement {
        name: old.name.clone(),
        query: old.query.clone(),
        params,
        columns,
        desc,
        result_formats,
    }))
}

fn decode_row(
    py: Python<'_>,
    stmt: &Statement,
    body: &DataRowBody,
    record_class: Option<&Bound<'_, PyType>>,
) -> PyResult<Py<PyAny>> {
    let buf = body.buffer();
    let mut values = Vec::with_capacity(stmt.columns.len());
    let mut ranges = body.ranges();
    let mut i = 0;
    while let Some(range) = ranges.next().map_err(|e| protocol_err(py, e.to_string()))? {
        let Some(col) = stmt.columns.get(i) else {
            return Err(protocol_err(py, "DataRow has more columns than RowDescription"));
        };
        let value = match range {
            None => py.None(),
            Some(r) => {
                let bytes = buf
                    .get(r)
                    .ok_or_else(|| protocol_err(py, "DataRow value out of bounds"))?;
                col.codec.decode(py, bytes).map_err(|e| decode_error(py, col, &e))?
            }
        };
        values.push(value);
        i += 1;
    }
    if i != stmt.columns.len() {
        return Err(protocol_err(py, "DataRow has fewer columns than RowDescription"));
    }
    PyRecord::new_object(py, &stmt.desc, values, record_class)
}

/// One CopyData message holding `records` as binary COPY tuples (plus the stream's header and
/// trailer when asked), appended to `out`. Values are encoded in place, their length patched after.
fn encode_copy_message(
    py: Python<'_>,
    stmt: &Statement,
    records: &Bound<'_, PyAny>,
    header: bool,
    trailer: bool,
    out: &mut BytesMut,
) -> PyResult<()> {
    let ncols = i16::try_from(stmt.columns.len()).map_err(|_| protocol_err(py, "too many columns"))?;
    out.put_u8(b'd');
    let len_at = out.len();
    out.put_i32(0);
    if header {
        out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        out.extend_from_slice(&[0u8; 8]);
    }
    let mut scratch: Vec<u8> = Vec::new();
    let bad_record = |row: usize, why: String| {
        errors::client_error(
            py,
            "DataError",
            format!("invalid input in copy_records_to_table() record #{row}: {why}"),
        )
    };
    for (row, record) in records.try_iter()?.enumerate() {
        let record = record?;
        let seq = record
            .cast::<PySequence>()
            .map_err(|_| bad_record(row, format!("expected a sequence, got {}", type_name(&record))))?;
        let n = seq.len()?;
        if n != stmt.columns.len() {
            return Err(bad_record(
                row,
                format!("expected {} values, got {n}", stmt.columns.len()),
            ));
        }
        out.put_i16(ncols);
        for (i, col) in stmt.columns.iter().enumerate() {
            let value = seq.get_item(i)?;
            if value.is_none() {
                out.put_i32(-1);
                continue;
            }
            scratch.clear();
            col.codec.encode(&value, &mut scratch).map_err(|e| {
                let msg = format!(
                    "invalid input for column {:?} in copy_records_to_table() record #{row}: {}",
                    col.name,
                    e.value(py)
                );
                errors::client_error(py, "DataError", msg)
            })?;
            let len = i32::try_from(scratch.len()).map_err(|_| protocol_err(py, "value too large"))?;
            out.put_i32(len);
            out.extend_from_slice(&scratch);
        }
    }
    if trailer {
        out.put_i16(-1);
    }
    let len = i32::try_from(out.len() - len_at).map_err(|_| protocol_err(py, "COPY data chunk too large"))?;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A DataRow of text values (the introspection query).
fn text_row(body: &[u8]) -> Option<Vec<Option<String>>> {
    let count = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    let mut out = Vec::with_capacity(count);
    let mut pos = 2;
    for _ in 0..count {
        let len = body.get(pos..pos + 4)?;
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        pos += 4;
        if len < 0 {
            out.push(None);
            continue;
        }
        let end = pos + len as usize;
        out.push(Some(String::from_utf8_lossy(body.get(pos..end)?).into_owned()));
        pos = end;
    }
    Some(out)
}

/// Decode a DataRow body (int16 count, then int32 length + bytes per column; -1 is NULL).
fn decode_row_bytes(
    py: Python<'_>,
    stmt: &Statement,
    body: &[u8],
    record_class: Option<&Bound<'_, PyType>>,
) -> PyResult<Py<PyAny>> {
    let bad = || protocol_err(py, "malformed DataRow message");
    let count = body.get(0..2).ok_or_else(bad)?;
    let count = u16::from_be_bytes([count[0], count[1]]) as usize;
    if count != stmt.columns.len() {
        return Err(protocol_err(py, "DataRow column count does not match RowDescription"));
    }
    let mut values = Vec::with_capacity(count);
    let mut pos = 2;
    for col in &stmt.columns {
        let len = body.get(pos..pos + 4).ok_or_else(bad)?;
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        pos += 4;
        if len < 0 {
            values.push(py.None());
            continue;
        }
        let end = pos + len as usize;
        let bytes = body.get(pos..end).ok_or_else(bad)?;
        pos = end;
        values.push(col.codec.decode(py, bytes).map_err(|e| decode_error(py, col, &e))?);
    }
    PyRecord::new_object(py, &stmt.desc, values, record_class)
}

fn decode_error(py: Python<'_>, col: &Column, e: &PyErr) -> PyErr {
    // The user's decoder speaks for itself, and so do our own client errors
    // (OutdatedSchemaCacheError, ...): only codec failures on bad bytes are wrapped.
    let ours = ["InterfaceError", "InternalClientError"].iter().any(|name| {
        errors::class(py, name)
            .and_then(|c| e.value(py).is_instance(&c))
            .unwrap_or(false)
    });
    if matches!(col.codec, Codec::User(_)) || ours {
        return e.clone_ref(py);
    }
    let msg = format!(
        "could not decode column {:?} of type {}: {}",
        col.name,
        col.codec.type_name(),
        e.value(py)
    );
    errors::client_error(py, "InternalClientError", msg)
}

fn argument_error(py: Python<'_>, index: usize, row: Option<usize>, value: &Bound<'_, PyAny>, e: &PyErr) -> PyErr {
    let mut shown = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<value>".into());
    if shown.chars().count() > 40 {
        shown = shown.chars().take(40).collect::<String>() + "...";
    }
    let place = match row {
        Some(r) => format!(" in element #{r} of executemany() sequence"),
        None => String::new(),
    };
    let is = |name: &str| {
        errors::class(py, name)
            .and_then(|c| e.value(py).is_instance(&c))
            .unwrap_or(false)
    };
    // As asyncpg: internal errors pass as they are; a client error keeps its class and gains
    // the argument's position; anything else is bad input, a DataError.
    if is("InternalClientError") {
        return e.clone_ref(py);
    }
    if is("InterfaceError") {
        // The bare message: with_msg() keeps the detail and hint, which str() would repeat.
        let bare = e
            .value(py)
            .getattr("args")
            .and_then(|a| a.get_item(0))
            .map_or_else(|_| e.value(py).to_string(), |m| m.to_string());
        let msg = format!("invalid input for query argument ${}{place}: {bare}", index + 1);
        if let Ok(new) = e.value(py).call_method1("with_msg", (msg,)) {
            return PyErr::from_value(new);
        }
        return e.clone_ref(py);
    }
    let msg = format!(
        "invalid input for query argument ${}{place}: {} ({})",
        index + 1,
        shown,
        e.value(py)
    );
    let err = errors::client_error(py, "DataError", msg);
    err.set_cause(py, Some(e.clone_ref(py)));
    err
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

fn set_result(py: Python<'_>, fut: &Py<PyAny>, value: Py<PyAny>) {
    // A cancelled future refuses a result; the request is over either way.
    let _ = fut.call_method1(py, intern!(py, "set_result"), (value,));
}

fn set_exception(py: Python<'_>, fut: &Py<PyAny>, err: PyErr) {
    let _ = fut.call_method1(py, intern!(py, "set_exception"), (err.into_value(py),));
}

fn collect_fields(mut it: postgres_protocol::message::backend::ErrorFields<'_>) -> std::io::Result<Fields> {
    let mut out = Vec::new();
    while let Some(f) = it.next()? {
        out.push((f.type_(), String::from_utf8_lossy(f.value_bytes()).into_owned()));
    }
    Ok(out)
}

/// Strings sent as C strings cannot hold NUL: refuse them before anything is written.
fn check_cstr(py: Python<'_>, s: &str) -> PyResult<()> {
    if s.as_bytes().contains(&0) {
        return Err(errors::client_error(
            py,
            "InterfaceError",
            "string contains embedded null",
        ));
    }
    Ok(())
}

fn put_cstr(py: Python<'_>, out: &mut BytesMut, s: &str) -> PyResult<()> {
    if s.as_bytes().contains(&0) {
        return Err(errors::client_error(py, "InterfaceError", "string contains a NUL byte"));
    }
    out.extend_from_slice(s.as_bytes());
    out.put_u8(0);
    Ok(())
}

fn put_i16(py: Python<'_>, out: &mut BytesMut, n: usize) -> PyResult<()> {
    let n = i16::try_from(n).map_err(|_| {
        errors::client_error(
            py,
            "InterfaceError",
            "the number of query arguments cannot exceed 32767",
        )
    })?;
    out.put_i16(n);
    Ok(())
}

/// Register the protocol classes.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBaseProtocol>()?;
    m.add_class::<PyStatement>()?;
    m.add("MODE_STATUS", MODE_STATUS)?;
    m.add("MODE_ALL", MODE_ALL)?;
    m.add("MODE_ROW", MODE_ROW)?;
    m.add("MODE_VAL", MODE_VAL)?;
    m.add("MODE_NONE", MODE_NONE)?;
    Ok(())
}
