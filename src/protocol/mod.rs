//! One PostgreSQL session, driven by asyncio on the event-loop thread.
//!
//! `BaseProtocol` is an asyncio Protocol written in Rust: the transport hands it bytes in
//! `data_received`, it parses backend messages (postgres-protocol, no I/O), decodes rows straight into
//! Python objects and resolves the asyncio futures of the requests in flight. No thread hop happens on
//! the query path (the bridge design "D" of docs/architecture.md). Requests are pipelined: each one is a
//! batch of frontend messages ending in Sync, so responses come back in order, one ReadyForQuery each.
//!
//! This file owns the session's state (`PyBaseProtocol`) and its Python face: the one `#[pymethods]`
//! block, whose methods are thin shims over the rooms below.
//!
//! - `queue`: the requests in flight, their completion, failing them all when the connection ends
//! - `dispatch`: backend messages to handlers; DataRow decoding
//! - `auth`: startup and authentication
//! - `extended`: Parse/Bind/Execute, the statement cache, portals, stale-plan retries
//! - `types`: codec choice per OID, user codec overrides, driving type introspection
//! - `copy`: COPY TO/FROM
//! - `batch`: streamed executemany
//! - `gc`: what the cycle collector may visit and clear
//! - `framing`: wire helpers without I/O; `wrap`: errors as asyncpg's exceptions
//! - `statement`, `cache`, `introspection`: a described statement, the LRU cache, the catalog query

mod auth;
mod batch;
pub mod cache;
mod copy;
mod dispatch;
mod extended;
mod framing;
mod gc;
pub mod introspection;
mod queue;
pub mod statement;
mod stats;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_shapes;
mod types;
mod wrap;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::authentication::sasl;
use postgres_protocol::message::frontend;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::codecs::Codec;
use cache::StatementCache;
use framing::check_cstr;
use queue::{Args, Kind, Pending, MODE_ALL, MODE_NONE, MODE_ROW, MODE_STATUS, MODE_VAL};
use statement::{PyStatement, Statement};
use wrap::io_err;

enum State {
    New,
    Ready,
    Closed,
}

/// The asyncio protocol of one connection (subclassed in `asyncpg_rs.protocol`).
#[pyclass(name = "BaseProtocol", module = "asyncpg_rs._native", subclass)]
pub struct PyBaseProtocol {
    event_loop: Py<PyAny>,
    /// How requests make their futures, decided at the first one (queue.rs `new_future`).
    future_maker: std::sync::OnceLock<queue::FutureMaker>,
    transport: Option<Py<PyAny>>,
    state: State,
    inbuf: BytesMut,
    outbuf: BytesMut,
    pending: VecDeque<Pending>,
    user: String,
    password: Option<String>,
    scram: Option<sasl::ScramSha256>,
    /// What the authentication exchange negotiated (AuthenticationOk seen, channel binding).
    auth: auth::AuthState,
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
    /// Streamed executemany: bytes in the current 32 KB packet, and full packets not yet written.
    many_packet: (usize, usize),
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
    /// Called through `loop.call_soon` when a cached statement turned out stale (the schema changed
    /// under it), with True when a type changed: a pool drops the statement (or type) caches of
    /// its other connections.
    #[pyo3(get, set)]
    stale_callback: Option<Py<PyAny>>,
    /// Number of queries sent, for the pool's `max_queries`.
    #[pyo3(get)]
    queries_count: u64,
    /// Command status of the last finished extended-protocol execution (`SELECT 1`, ...).
    #[pyo3(get)]
    last_status: Option<String>,
    /// Errors, rows and bytes (`stats()`).
    stats: stats::Stats,
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
            future_maker: std::sync::OnceLock::new(),
            transport: None,
            state: State::New,
            inbuf: BytesMut::with_capacity(64 * 1024),
            outbuf: BytesMut::with_capacity(4096),
            pending: VecDeque::new(),
            user: String::new(),
            password: None,
            scram: None,
            auth: auth::AuthState::default(),
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
            many_packet: (0, 0),
            record_class,
            notification_callback: None,
            notice_callback: None,
            lost_callback: None,
            stale_callback: None,
            queries_count: 0,
            last_status: None,
            stats: stats::Stats::default(),
        }
    }

    // ----- asyncio.Protocol -----

    fn connection_made(&mut self, transport: Py<PyAny>) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, py: Python<'_>, data: &Bound<'_, PyBytes>) {
        let data = data.as_bytes();
        self.stats.bytes_received += data.len() as u64;
        self.inbuf.extend_from_slice(data);
        if let Err(e) = self.process(py) {
            self.abort(py, e);
        }
    }

    fn eof_received(&mut self) -> bool {
        false
    }

    fn connection_lost(slf: &Bound<'_, Self>, _exc: Option<Py<PyAny>>) -> PyResult<()> {
        Self::lose_connection(slf)
    }

    // ----- the cycle collector (gc.rs) -----

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.traverse_refs(&visit)
    }

    fn __clear__(&mut self) {
        self.clear_refs()
    }

    // ----- session -----

    /// Send the StartupMessage; the future resolves once the server is ready for queries.
    /// `channel_binding` is libpq's `disable`/`prefer`/`require`; `tls_server_end_point` the
    /// RFC 5929 hash of the server certificate when the session runs over TLS.
    /// `gss_step` computes GSSAPI tokens (see `auth::AuthState::gss_step`).
    #[pyo3(signature = (user, database, password=None, server_settings=None, channel_binding=None, tls_server_end_point=None, gss_step=None))]
    #[allow(clippy::too_many_arguments)]
    fn startup(
        &mut self,
        py: Python<'_>,
        user: String,
        database: String,
        password: Option<String>,
        server_settings: Option<Vec<(String, String)>>,
        channel_binding: Option<&str>,
        tls_server_end_point: Option<Vec<u8>>,
        gss_step: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.auth = auth::AuthState::new(py, channel_binding, tls_server_end_point, gss_step)?;
        self.send_startup(py, user, database, password, server_settings)
    }

    /// True once the server sent AuthenticationOk (asyncpg's `_auth_received`): an error before
    /// it lets libpq's `allow`/`prefer` try the other transport, an error after it does not.
    #[getter]
    fn _auth_received(&self) -> bool {
        self.auth.received
    }

    /// The SASL mechanism used (`SCRAM-SHA-256` or `SCRAM-SHA-256-PLUS`), None without SASL.
    #[getter]
    fn _sasl_mechanism(&self) -> Option<&'static str> {
        self.auth.mechanism
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

    /// Queue the simple query `query` without a future and without flushing (the pool's reset on
    /// release: it leaves with the next request). `on_failure` is called, through
    /// `loop.call_soon`, only if the query fails.
    fn reset_nowait(&mut self, py: Python<'_>, query: &str, on_failure: Py<PyAny>) -> PyResult<()> {
        self.check_open(py)?;
        check_cstr(py, query)?;
        self.write_pending_closes(py)?;
        frontend::query(query, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.queries_count += 1;
        self.pending.push_back(Pending {
            fut: on_failure,
            kind: Kind::Background,
            failure: None,
            status: None,
        });
        Ok(())
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
        self.prepare_new(py, query, name)
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
        self.send_bind_portal(py, stmt, args, portal)
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
        self.send_execute_portal(py, stmt, portal, count, record_class)
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
        self.send_copy_out(py, query, sink)
    }

    /// Start a `COPY ... FROM STDIN` command. Returns (started, done): `started` resolves when the
    /// server accepts data (send it with `copy_data`, end with `copy_done` or `copy_fail`); `done`
    /// resolves to the command status.
    fn copy_in(&mut self, py: Python<'_>, query: &str) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        self.send_copy_in(py, query)
    }

    /// Send one CopyData message.
    fn copy_data(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.send_copy_data(py, data)
    }

    /// End the data of a COPY FROM STDIN.
    fn copy_done(&mut self, py: Python<'_>) -> PyResult<()> {
        self.check_open(py)?;
        frontend::copy_done(&mut self.outbuf);
        self.flush(py)
    }

    /// Abort a COPY FROM STDIN with `message`.
    fn copy_fail(&mut self, py: Python<'_>, message: &str) -> PyResult<()> {
        self.send_copy_fail(py, message)
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
        self.send_copy_records(py, stmt, records, header, trailer)
    }

    /// The statement for `query` from the cache, or prepared (and cached) now; resolves to a
    /// `StatementState`. With named statements off, the unnamed statement described once.
    fn statement_for(&mut self, py: Python<'_>, query: &str) -> PyResult<Py<PyAny>> {
        self.statement_or_prepare(py, query)
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
        self.batch_start(py, stmt, mode, record_class)
    }

    /// Add argument sets (Bind/Execute each), written in groups of four 32 KB packets. Returns 0
    /// once the server has reported an error for this request (the rest would be ignored: stop
    /// producing it), 2 when a group was written (wait for the transport before producing more),
    /// else 1.
    fn many_batch(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        batch: &Bound<'_, PyList>,
        first: bool,
        offset: usize,
    ) -> PyResult<u8> {
        self.batch_send(py, stmt, batch, first, offset)
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
        self.batch_abort(py, in_transaction)
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
        self.override_codec(py, oid, type_name, encoder, decoder, format)
    }

    /// Use the builtin codec `codec_name` for type `oid` (`set_builtin_type_codec`).
    fn set_builtin_type_codec(&mut self, py: Python<'_>, oid: u32, type_name: &str, codec_name: &str) -> PyResult<()> {
        self.alias_codec(py, oid, type_name, codec_name)
    }

    /// Drop the user's codec for type `oid` (`reset_type_codec`).
    fn reset_type_codec(&mut self, oid: u32) {
        self.overrides.remove(&oid);
        self.forget_types();
    }

    /// (name, kind, schema) of an introspected type, as asyncpg's `Type` has them.
    fn type_info(&self, oid: u32) -> Option<(String, &'static str, String)> {
        self.type_info.get(&oid).cloned()
    }

    /// Forget cached statements and introspected types (`reload_schema_state`).
    fn clear_type_cache(&mut self) {
        self.forget_types();
    }

    /// Number of statements in the cache.
    /// `(queries, errors, rows, bytes_sent, bytes_received)` since the connection was opened.
    fn stats(&self) -> (u64, u64, u64, u64, u64) {
        let s = self.stats;
        (self.queries_count, s.errors, s.rows, s.bytes_sent, s.bytes_received)
    }

    fn statement_cache_len(&self) -> usize {
        self.cache.len()
    }

    // The statement cache as asyncpg's `Connection._stmt_cache` shows it (see `_StatementCache`
    // in connection.py): one cache, read and tuned here.

    /// `statement_cache_size`, as changed by `set_statement_cache_max_size`.
    fn statement_cache_max_size(&self) -> usize {
        self.cache.capacity
    }

    /// Change the statement cache size; statements beyond it are closed with the next request.
    fn set_statement_cache_max_size(&mut self, size: usize) {
        self.cache.set_capacity(size, &mut self.to_close);
    }

    /// `max_cached_statement_lifetime` in seconds (0: forever).
    fn statement_cache_max_lifetime(&self) -> f64 {
        self.cache.max_lifetime.map_or(0.0, |d| d.as_secs_f64())
    }

    fn set_statement_cache_max_lifetime(&mut self, seconds: f64) {
        let lifetime = (seconds > 0.0 && seconds.is_finite()).then(|| Duration::from_secs_f64(seconds));
        self.cache.max_lifetime = lifetime;
        self.described.max_lifetime = lifetime;
    }

    /// The `StatementState` of every cached statement, least recently used first.
    fn cached_statements(&mut self, py: Python<'_>) -> PyResult<Vec<Py<PyStatement>>> {
        self.cache.states(py)
    }

    /// The `StatementState` cached for `query`, or None; `promote` makes it most recently used.
    #[pyo3(signature = (query, promote=true))]
    fn cached_statement(&mut self, py: Python<'_>, query: &str, promote: bool) -> PyResult<Option<Py<PyStatement>>> {
        self.cache.peek(py, query, promote)
    }

    /// Statements evicted from the cache that nothing uses any more, waiting to be closed on the
    /// server with the next request (asyncpg's `Connection._stmts_to_close`); their states read
    /// `closed`.
    fn statements_to_close(&self, py: Python<'_>) -> PyResult<Vec<Py<PyStatement>>> {
        self.to_close
            .iter()
            .filter(|s| !s.name.is_empty() && s.can_close())
            .map(|s| {
                s.set_closed();
                Py::new(py, PyStatement::new(s.clone()))
            })
            .collect()
    }

    /// Named statements created so far by all connections (asyncpg's `connection._uid`).
    #[staticmethod]
    fn statement_uid() -> u64 {
        extended::STATEMENT_UID.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Send Terminate and close the transport.
    /// Send Terminate; with `close`, close the transport now, else let the server close it (the
    /// caller waits for `connection_lost`, with its own time limit).
    #[pyo3(signature = (close=true))]
    fn terminate(&mut self, py: Python<'_>, close: bool) -> PyResult<()> {
        if let (State::Ready, Some(t)) = (&self.state, &self.transport) {
            frontend::terminate(&mut self.outbuf);
            self.stats.bytes_sent += self.outbuf.len() as u64;
            let data = PyBytes::new(py, &self.outbuf);
            self.outbuf.clear();
            let _ = t.call_method1(py, intern!(py, "write"), (data,));
        }
        self.state = State::Closed;
        self.close_statements();
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
        self.close_statements();
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
