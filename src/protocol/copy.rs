//! COPY: `COPY ... TO STDOUT` streams CopyData chunks to a Python sink; `COPY ... FROM STDIN` waits for
//! CopyInResponse, then Python sends raw chunks or records encoded here as binary COPY tuples.

use bytes::{BufMut, BytesMut};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySequence};

use super::framing::{begin_message, check_cstr, end_message};
use super::queue::{set_result, Failure, Kind, Pending};
use super::statement::{PyStatement, Statement};
use super::wrap::{io_err, protocol_err, type_name};
use super::PyBaseProtocol;
use crate::errors;

impl PyBaseProtocol {
    /// A COPY message from the server: start of COPY IN, data of COPY OUT, or its end.
    pub(super) fn on_copy_message(&mut self, py: Python<'_>, msg: Message) -> PyResult<()> {
        match msg {
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
            _ => Err(protocol_err(py, "unexpected message from the server")),
        }
    }
    /// Run a `COPY ... TO STDOUT` command; `sink(bytes)` is called for every data chunk, on the loop
    /// thread. Resolves to the command status.
    pub(super) fn send_copy_out(&mut self, py: Python<'_>, query: &str, sink: Py<PyAny>) -> PyResult<Py<PyAny>> {
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
    pub(super) fn send_copy_in(&mut self, py: Python<'_>, query: &str) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
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
    pub(super) fn send_copy_data(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.check_open(py)?;
        let at = begin_message(&mut self.outbuf, b'd');
        self.outbuf.extend_from_slice(data);
        if let Err(e) = end_message(py, &mut self.outbuf, at, "CopyData") {
            self.outbuf.truncate(at - 1);
            return Err(e);
        }
        self.flush(py)
    }

    /// Abort a COPY FROM STDIN with `message`.
    pub(super) fn send_copy_fail(&mut self, py: Python<'_>, message: &str) -> PyResult<()> {
        self.check_open(py)?;
        let message = message.replace('\0', " ");
        let message = message.as_str();
        frontend::copy_fail(message, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        self.flush(py)
    }

    /// Encode `records` as binary COPY tuples with the codecs of the columns of `stmt` (a
    /// `SELECT cols FROM table` statement) and send them as one CopyData message, written straight
    /// into the output buffer. `header` starts the binary COPY stream, `trailer` ends it.
    pub(super) fn send_copy_records<'py>(
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
    let ncols = i16::try_from(stmt.columns.len()).map_err(|_| {
        errors::client_error(
            py,
            "InterfaceError",
            format!(
                "cannot COPY {} columns: a binary COPY tuple holds at most 32767",
                stmt.columns.len()
            ),
        )
    })?;
    let at = begin_message(out, b'd');
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
    end_message(py, out, at, "CopyData")
}
