//! Message dispatch: every complete backend message in the input buffer goes to the handler of its
//! kind. DataRow, by far the most frequent, is decoded in place (no copy of the body); the rest go
//! through postgres-protocol's parser. Authentication and COPY messages are handled in their rooms.

use bytes::Buf;
use postgres_protocol::message::backend::Message;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyType;

use super::framing::{self, collect_fields, text_row, ColumnError};
use super::queue::{Failure, Kind, Pending};
use super::statement::Statement;
use super::wrap::{decode_error, protocol_err};
use super::PyBaseProtocol;
use crate::errors::{self, Fields};
use crate::record::PyRecord;

impl PyBaseProtocol {
    /// Parse every complete message in the input buffer and dispatch it. A message whose header
    /// is malformed is an error as soon as the header is there (the stream cannot be trusted past
    /// it); the caller then closes the connection and fails every request in flight.
    pub(super) fn process(&mut self, py: Python<'_>) -> PyResult<()> {
        loop {
            let Some((tag, total)) = framing::frame(&self.inbuf).map_err(|e| protocol_err(py, e.0))? else {
                return Ok(());
            };
            match tag {
                // NOTE: DataRow is by far the most frequent message; decoding it in place, without
                // splitting it off into its own buffer, is the row hot path.
                b'D' => self.on_data_row_slice(py, 5, total)?,
                b't' => {
                    let oids = framing::parameter_oids(&self.inbuf[5..total]).map_err(|e| protocol_err(py, e.0))?;
                    self.on_parameter_description(oids);
                }
                _ => {
                    let msg = match Message::parse(&mut self.inbuf) {
                        Ok(Some(m)) => m,
                        Ok(None) => return Err(protocol_err(py, "incomplete message after a complete frame")),
                        Err(e) => {
                            let name = framing::message_name(tag);
                            return Err(protocol_err(py, format!("invalid {name} message from the server: {e}")));
                        }
                    };
                    self.handle(py, msg)?;
                    continue;
                }
            }
            self.inbuf.advance(total);
        }
    }

    /// ParameterDescription: the parameter types of the statement being prepared.
    fn on_parameter_description(&mut self, oids: Vec<u32>) {
        if let Some(Pending {
            kind: Kind::Prepare { params, .. },
            ..
        }) = self.pending.front_mut()
        {
            *params = oids;
        }
    }

    pub(super) fn handle(&mut self, py: Python<'_>, msg: Message) -> PyResult<()> {
        match msg {
            Message::DataRow(_) => Err(protocol_err(py, "unexpected DataRow")),
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
            Message::RowDescription(body) => self.on_row_description(py, &body),
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
            m @ (Message::CopyInResponse(_)
            | Message::CopyData(_)
            | Message::CopyOutResponse(_)
            | Message::CopyDone) => self.on_copy_message(py, m),
            m @ (Message::AuthenticationOk
            | Message::AuthenticationCleartextPassword
            | Message::AuthenticationMd5Password(_)
            | Message::AuthenticationSasl(_)
            | Message::AuthenticationSaslContinue(_)
            | Message::AuthenticationSaslFinal(_)
            | Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential
            | Message::AuthenticationSspi) => self.on_auth_message(py, m),
            _ => Err(protocol_err(py, "unexpected message from the server")),
        }
    }

    pub(super) fn on_error(&mut self, py: Python<'_>, fields: Fields) -> PyResult<()> {
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

    pub(super) fn on_data_row_slice(&mut self, py: Python<'_>, start: usize, end: usize) -> PyResult<()> {
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
                rows.push(text_row(body).map_err(|e| protocol_err(py, e.0))?);
                return Ok(());
            }
            _ => return Ok(()),
        };
        match decode_row_bytes(py, stmt, body, record_class.as_ref().map(|c| c.bind(py))) {
            Ok(rec) => {
                rows.push(rec);
                self.stats.rows += 1;
            }
            Err(e) => p.failure = Some(Failure::Client(e)),
        }
        Ok(())
    }
}

/// Decode a DataRow body (int16 count, then int32 length + bytes per column; -1 is NULL). A row
/// that breaks the format fails its request with a ProtocolError; the framing is intact, so the
/// connection goes on.
fn decode_row_bytes(
    py: Python<'_>,
    stmt: &Statement,
    body: &[u8],
    record_class: Option<&Bound<'_, PyType>>,
) -> PyResult<Py<PyAny>> {
    let mut values = Vec::with_capacity(stmt.columns.len());
    let walked = framing::for_each_column(body, stmt.columns.len(), |i, value| {
        values.push(match value {
            None => py.None(),
            Some(bytes) => {
                let col = &stmt.columns[i];
                col.codec.decode(py, bytes).map_err(|e| decode_error(py, col, &e))?
            }
        });
        Ok(())
    });
    match walked {
        Ok(()) => PyRecord::new_object(py, &stmt.desc, values, record_class),
        Err(ColumnError::Wire(e)) => Err(protocol_err(py, e.0)),
        Err(ColumnError::Value(e)) => Err(e),
    }
}
