//! The extended query protocol: Parse/Describe to prepare, Bind/Execute/Sync to run, the statement
//! cache in front of it (named statements, or the unnamed one described once with named statements
//! off), stale-plan retries, portals (cursors), and statements built from what the server described.

use std::sync::Arc;

use bytes::BufMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::RowDescriptionBody;
use postgres_protocol::message::frontend;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PySequence, PyString, PyType};

use super::framing::check_cstr;
use super::queue::Failure;
use super::queue::{set_exception, set_result, Args, Described, Kind, Pending, Then, MODE_ROW, MODE_VAL};
use super::statement::{Bind, Column, Param, PyStatement, Statement};
use super::types::lookup_codec;
use super::wrap::{argument_error, io_err, protocol_err, type_name};
use super::PyBaseProtocol;
use crate::codecs::Codec;
use crate::errors;
use crate::record::RecordDescriptor;

use std::sync::atomic::{AtomicBool, AtomicUsize};

/// Named statements created by every connection of the process (asyncpg's `connection._uid`).
pub(super) static STATEMENT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl PyBaseProtocol {
    /// RowDescription: the columns of a statement being prepared, or of an unnamed portal (whose
    /// columns may differ from the cached statement's after a schema change).
    pub(super) fn on_row_description(&mut self, py: Python<'_>, body: &RowDescriptionBody) -> PyResult<()> {
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
    /// Prepare `query` as a named statement outside the cache; resolves to a `StatementState`.
    pub(super) fn prepare_new(&mut self, py: Python<'_>, query: &str, name: Option<String>) -> PyResult<Py<PyAny>> {
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

    /// Bind `args` to the named portal `portal` (a cursor); resolves to None.
    pub(super) fn send_bind_portal(
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
        // The unnamed statement may have been replaced since (type introspection uses it too).
        let written = if stmt.name.is_empty() {
            self.write_unnamed_parse(py, &stmt)
        } else {
            Ok(())
        }
        .and_then(|()| self.write_bind(py, portal, &stmt, args, None));
        if let Err(e) = written {
            self.outbuf.truncate(mark);
            return Err(e);
        }
        frontend::sync(&mut self.outbuf);
        self.push_and_flush(py, Kind::Sync)
    }

    /// Fetch up to `count` rows (0: all) from portal `portal`; resolves to (rows, more_available).
    pub(super) fn send_execute_portal(
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

    /// The statement for `query` from the cache, or prepared (and cached) now; resolves to a
    /// `StatementState`. With named statements off, the unnamed statement described once.
    pub(super) fn statement_or_prepare(&mut self, py: Python<'_>, query: &str) -> PyResult<Py<PyAny>> {
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
            // The cache hands out one StatementState per cached statement, as asyncpg's does.
            let state = match self.cache.state_of(py, query)? {
                Some(state) => state.into_any(),
                None => Py::new(py, PyStatement::new(stmt))?.into_any(),
            };
            set_result(py, &fut, state);
            return Ok(fut);
        }
        if self.cache.accepts(query) {
            let name = self.next_stmt_name();
            self.send_prepare(py, name, query.to_owned(), true, None)
        } else {
            self.send_prepare(py, String::new(), query.to_owned(), false, None)
        }
    }

    /// What to do after preparing: the arguments, the result shape and the record class (the
    /// connection's default when the call gives none).
    pub(super) fn then(
        &self,
        py: Python<'_>,
        args: Args,
        mode: u8,
        column: usize,
        record_class: Option<Py<PyType>>,
    ) -> Then {
        let record_class = record_class.or_else(|| self.record_class.as_ref().map(|c| c.clone_ref(py)));
        Then {
            args,
            mode,
            column,
            record_class,
            retried: false,
        }
    }

    /// The statement is described and its types known: cache it, then run it or hand it over.
    pub(super) fn finish_prepare(&mut self, py: Python<'_>, fut: Py<PyAny>, d: Described) -> PyResult<()> {
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
            None => {
                let state = match self
                    .cache
                    .state_of(py, &stmt.query)?
                    .filter(|s| Arc::ptr_eq(&s.get().inner, &stmt))
                {
                    Some(state) => state.into_any(),
                    None => Py::new(py, PyStatement::new(stmt))?.into_any(),
                };
                set_result(py, &fut, state);
            }
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

    /// The session is over: cached statements are gone with it (their states read `closed`), and
    /// nothing is left to close on the server.
    pub(super) fn close_statements(&mut self) {
        self.cache.close_all();
        self.to_close.clear();
        let mut unnamed = Vec::new();
        self.described.clear(&mut unnamed);
    }

    pub(super) fn next_stmt_name(&mut self) -> String {
        STATEMENT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stmt_counter += 1;
        format!("__asyncpg_rs_stmt_{:x}__", self.stmt_counter)
    }

    pub(super) fn write_pending_closes(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.to_close.is_empty() {
            return Ok(());
        }
        let mut kept = Vec::new();
        for stmt in std::mem::take(&mut self.to_close) {
            if stmt.name.is_empty() {
                continue;
            }
            if !stmt.can_close() {
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
    pub(super) fn run(&mut self, py: Python<'_>, query: &str, then: Then) -> PyResult<Py<PyAny>> {
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

    pub(super) fn send_prepare(
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

    pub(super) fn send_prepare_with(
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
    pub(super) fn send_execute(
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

    /// Parse the unnamed statement again: it may have been replaced by a request pipelined behind
    /// ours. The parameter types we learned go with it, unless there are more than Parse can list
    /// (an int16 count): then the server infers them again, and the Bind that follows refuses the
    /// arguments with asyncpg's message.
    pub(super) fn write_unnamed_parse(&mut self, py: Python<'_>, stmt: &Statement) -> PyResult<()> {
        let types = if stmt.params.len() > 32767 {
            &[][..]
        } else {
            &stmt.params[..]
        };
        frontend::parse("", &stmt.query, types.iter().map(|p| p.type_oid), &mut self.outbuf).map_err(|e| io_err(py, e))
    }

    pub(super) fn write_execute(&mut self, py: Python<'_>, stmt: &Statement, then: &Then) -> PyResult<()> {
        self.write_pending_closes(py)?;
        if stmt.name.is_empty() {
            self.write_unnamed_parse(py, stmt)?;
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
    pub(super) fn write_bind(
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
        if n > 32767 {
            // As asyncpg, before the count is compared with the statement's: the wire's int16.
            return Err(errors::client_error(
                py,
                "InterfaceError",
                "the number of query arguments cannot exceed 32767",
            ));
        }
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
        let formats = stmt
            .params
            .iter()
            .map(|p| p.codec.as_ref().map_or(0, Codec::format_code));
        let bind = Bind::start(py, out, portal, &stmt.name, formats)?;
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
            Bind::value(out, Some(&scratch))
                .map_err(|()| argument_error(py, i, row, &value, &PyTypeError::new_err("value is too large")))?;
        }
        bind.finish(py, out, &stmt.result_formats)
    }
}

/// Bind's result format codes: one code when all columns agree (so a later change in the number of
/// columns, e.g. `SELECT *` after `ALTER TABLE ... ADD COLUMN`, does not break the Bind), else one each.
pub(super) fn result_formats(columns: &[Column]) -> Vec<i16> {
    match columns.first() {
        None => Vec::new(),
        Some(first) if columns.iter().all(|c| c.format == first.format) => vec![first.format],
        Some(_) => columns.iter().map(|c| c.format).collect(),
    }
}

pub(super) fn build_statement(
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
        closed: AtomicBool::new(false),
        uses: AtomicUsize::new(0),
    })
}

/// A statement rebuilt from the RowDescription of a portal (names, types and formats as sent).
pub(super) fn redescribe(
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
        closed: AtomicBool::new(false),
        uses: AtomicUsize::new(0),
    }))
}
