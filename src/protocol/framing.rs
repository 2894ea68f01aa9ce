//! The wire format without I/O and without session state: where a backend message ends (`frame`,
//! which checks the length as soon as a header arrives), the strict reading of DataRow and
//! ParameterDescription bodies, the SCRAM server-first checks, and the helpers that write frontend
//! messages (C strings, counts, one length-patched frame). Every rejection is a `WireError` whose
//! text names the message and the fault; nothing here panics on any input (see the fuzz tests).

use bytes::{BufMut, BytesMut};
use fallible_iterator::FallibleIterator;
use pyo3::prelude::*;

use crate::errors::{self, Fields};

pub(super) fn collect_fields(mut it: postgres_protocol::message::backend::ErrorFields<'_>) -> std::io::Result<Fields> {
    let mut out = Vec::new();
    while let Some(f) = it.next()? {
        out.push((f.type_(), String::from_utf8_lossy(f.value_bytes()).into_owned()));
    }
    Ok(out)
}

/// Strings sent as C strings cannot hold NUL: refuse them before anything is written.
pub(super) fn check_cstr(py: Python<'_>, s: &str) -> PyResult<()> {
    if s.as_bytes().contains(&0) {
        return Err(errors::client_error(
            py,
            "InterfaceError",
            "string contains embedded null",
        ));
    }
    Ok(())
}

pub(super) fn put_cstr(py: Python<'_>, out: &mut BytesMut, s: &str) -> PyResult<()> {
    if s.as_bytes().contains(&0) {
        return Err(errors::client_error(py, "InterfaceError", "string contains a NUL byte"));
    }
    out.extend_from_slice(s.as_bytes());
    out.put_u8(0);
    Ok(())
}

/// Start a frontend message of type `tag`: returns where its length word is, for `end_message`.
#[inline]
pub(super) fn begin_message(out: &mut BytesMut, tag: u8) -> usize {
    out.put_u8(tag);
    let at = out.len();
    out.put_i32(0);
    at
}

/// Finish the message begun at `at`: patch its length word, refusing (before anything is sent) a
/// message longer than the server accepts. The caller truncates the buffer on error.
#[inline]
pub(super) fn end_message(py: Python<'_>, out: &mut BytesMut, at: usize, what: &str) -> PyResult<()> {
    let len = out.len() - at;
    match i32::try_from(len) {
        Ok(n) if len <= MAX_FRONTEND_MESSAGE => {
            out[at..at + 4].copy_from_slice(&n.to_be_bytes());
            Ok(())
        }
        _ => Err(errors::client_error(
            py,
            "InterfaceError",
            format!("the {what} message would be {len} bytes long, more than the server accepts (1 GiB)"),
        )),
    }
}

pub(super) fn put_i16(py: Python<'_>, out: &mut BytesMut, n: usize) -> PyResult<()> {
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

/// A DataRow of text values (the introspection query).
pub(super) fn text_row(body: &[u8]) -> Result<Vec<Option<String>>, WireError> {
    let count = data_row_count(body)?;
    let mut out = Vec::with_capacity(count);
    for_each_column(body, count, |_, value| {
        out.push(value.map(|v| String::from_utf8_lossy(v).into_owned()));
        Ok::<(), WireError>(())
    })
    .map_err(|e| match e {
        ColumnError::Wire(w) | ColumnError::Value(w) => w,
    })?;
    Ok(out)
}

/// A violation of the wire format: the text says which message and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest backend message accepted, length word included. The server builds each message in one
/// buffer limited to 1 GiB (MaxAllocSize), so anything longer is not PostgreSQL speaking.
pub const MAX_BACKEND_MESSAGE: usize = 0x4000_0000 + 16;

/// Longest frontend message the server accepts (PQ_LARGE_MESSAGE_LIMIT, MaxAllocSize - 1 bytes
/// after the type byte, length word included).
pub const MAX_FRONTEND_MESSAGE: usize = 0x3fff_ffff;

/// The name of a backend message type, for error messages.
pub fn message_name(tag: u8) -> &'static str {
    match tag {
        b'R' => "Authentication",
        b'K' => "BackendKeyData",
        b'2' => "BindComplete",
        b'3' => "CloseComplete",
        b'C' => "CommandComplete",
        b'd' => "CopyData",
        b'c' => "CopyDone",
        b'G' => "CopyInResponse",
        b'H' => "CopyOutResponse",
        b'W' => "CopyBothResponse",
        b'D' => "DataRow",
        b'I' => "EmptyQueryResponse",
        b'E' => "ErrorResponse",
        b'V' => "FunctionCallResponse",
        b'v' => "NegotiateProtocolVersion",
        b'n' => "NoData",
        b'N' => "NoticeResponse",
        b'A' => "NotificationResponse",
        b't' => "ParameterDescription",
        b'S' => "ParameterStatus",
        b'1' => "ParseComplete",
        b's' => "PortalSuspended",
        b'Z' => "ReadyForQuery",
        b'T' => "RowDescription",
        _ => "unknown",
    }
}

/// The exact length word of messages whose size is fixed (protocol 3.0), if `tag` is one.
fn fixed_length(tag: u8) -> Option<usize> {
    match tag {
        b'1' | b'2' | b'3' | b'n' | b's' | b'I' | b'c' => Some(4),
        b'Z' => Some(5),
        b'K' => Some(12),
        _ => None,
    }
}

/// Where the first message in `buf` ends: `Ok(None)` until its header and body are complete, then
/// its type byte and its total size (type byte included). The length word is checked as soon as
/// the header is there: below 4, above `MAX_BACKEND_MESSAGE`, or not the fixed size of a fixed-size
/// message is an error at once, never a wait for bytes that will not come.
#[inline]
pub fn frame(buf: &[u8]) -> Result<Option<(u8, usize)>, WireError> {
    let Some(&[tag, a, b, c, d]) = buf.get(..5) else {
        return Ok(None);
    };
    let len = i32::from_be_bytes([a, b, c, d]);
    let ok = match fixed_length(tag) {
        Some(n) => usize::try_from(len).is_ok_and(|l| l == n),
        None => usize::try_from(len).is_ok_and(|l| (4..=MAX_BACKEND_MESSAGE).contains(&l)),
    };
    if !ok {
        let name = message_name(tag);
        let shown = char::from(tag).escape_default();
        return Err(WireError(match fixed_length(tag) {
            Some(n) => format!("invalid {name} message ('{shown}'): length {len}, expected {n}"),
            None => format!("invalid {name} message ('{shown}'): length {len} out of range"),
        }));
    }
    #[allow(clippy::cast_sign_loss)] // checked above: 4 <= len
    let total = len as usize + 1;
    Ok(if buf.len() >= total { Some((tag, total)) } else { None })
}

/// The column count of a DataRow body.
#[inline]
pub fn data_row_count(body: &[u8]) -> Result<usize, WireError> {
    match body.get(..2) {
        Some(&[a, b]) => Ok(usize::from(u16::from_be_bytes([a, b]))),
        _ => Err(WireError("invalid DataRow message: no column count".into())),
    }
}

/// Why a DataRow could not be read: the wire format, or the caller's handling of one value.
#[derive(Debug)]
pub enum ColumnError<E> {
    Wire(WireError),
    Value(E),
}

/// Walk the columns of a DataRow body whose column count is `expected` (as RowDescription said):
/// `f(index, Some(bytes))` or `f(index, None)` for NULL. The count must match, each length must be
/// -1 or a length that fits, and no byte may be left after the last column.
#[inline]
pub fn for_each_column<E>(
    body: &[u8],
    expected: usize,
    mut f: impl FnMut(usize, Option<&[u8]>) -> Result<(), E>,
) -> Result<(), ColumnError<E>> {
    let wire = |msg: String| ColumnError::Wire(WireError(msg));
    let count = data_row_count(body).map_err(ColumnError::Wire)?;
    if count != expected {
        return Err(wire(format!(
            "invalid DataRow message: {count} columns, RowDescription announced {expected}"
        )));
    }
    let mut pos = 2;
    for i in 0..count {
        let Some(&[a, b, c, d]) = body.get(pos..pos + 4) else {
            return Err(wire(format!("invalid DataRow message: column {i} truncated")));
        };
        let len = i32::from_be_bytes([a, b, c, d]);
        pos += 4;
        if len == -1 {
            f(i, None).map_err(ColumnError::Value)?;
            continue;
        }
        let value = usize::try_from(len)
            .ok()
            .and_then(|n| body.get(pos..pos.checked_add(n)?))
            .ok_or_else(|| {
                wire(if len < 0 {
                    format!("invalid DataRow message: column {i} has length {len}")
                } else {
                    format!("invalid DataRow message: column {i} length {len} overruns the message")
                })
            })?;
        pos += value.len();
        f(i, Some(value)).map_err(ColumnError::Value)?;
    }
    if pos != body.len() {
        return Err(wire(format!(
            "invalid DataRow message: {} bytes after the last column",
            body.len() - pos
        )));
    }
    Ok(())
}

/// The parameter type OIDs of a ParameterDescription body. The count is an int16 on the wire, so
/// a statement with more than 65535 parameters arrives with the count wrapped: the body's length
/// decides, as long as it agrees with the count modulo 65536 (anything else is malformed).
pub fn parameter_oids(body: &[u8]) -> Result<Vec<u32>, WireError> {
    let bad = |why: &str| WireError(format!("invalid ParameterDescription message: {why}"));
    let Some(&[a, b]) = body.get(..2) else {
        return Err(bad("no parameter count"));
    };
    let count = usize::from(u16::from_be_bytes([a, b]));
    let rest = &body[2..];
    if rest.len() % 4 != 0 || (rest.len() / 4) % 0x1_0000 != count {
        return Err(bad(&format!(
            "{count} parameters announced, {} bytes follow",
            rest.len()
        )));
    }
    Ok(rest
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The SCRAM-SHA-256 server-first-message checked against our client-first-message before any key
/// is derived from it: the nonce extends ours (and is longer), the salt is non-empty base64 and
/// the iteration count is at least 1.
pub fn check_scram_server_first(client_first: &[u8], server_first: &[u8]) -> Result<(), WireError> {
    let bad = |why: String| WireError(format!("invalid SCRAM server-first-message: {why}"));
    let client = std::str::from_utf8(client_first).map_err(|_| bad("our own message is not UTF-8".into()))?;
    let client_nonce = client
        .rsplit(',')
        .find_map(|a| a.strip_prefix("r="))
        .ok_or_else(|| bad("no client nonce".into()))?;
    let server = std::str::from_utf8(server_first).map_err(|_| bad("not UTF-8".into()))?;
    let mut nonce = None;
    let mut salt = None;
    let mut iterations = None;
    for attr in server.split(',') {
        if let Some(v) = attr.strip_prefix("r=") {
            nonce = Some(v);
        } else if let Some(v) = attr.strip_prefix("s=") {
            salt = Some(v);
        } else if let Some(v) = attr.strip_prefix("i=") {
            iterations = Some(v);
        }
    }
    let nonce = nonce.ok_or_else(|| bad("no nonce".into()))?;
    if !nonce.starts_with(client_nonce) || nonce.len() <= client_nonce.len() {
        return Err(bad("the nonce does not extend the client's".into()));
    }
    let salt = salt.ok_or_else(|| bad("no salt".into()))?;
    let base64 = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let body = salt.trim_end_matches('=');
    if body.is_empty() || salt.len() % 4 != 0 || salt.len() - body.len() > 2 || !body.bytes().all(base64) {
        return Err(bad(format!("salt {salt:?} is not base64")));
    }
    let iterations = iterations.ok_or_else(|| bad("no iteration count".into()))?;
    match iterations.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err(bad(format!("iteration count {iterations:?} (must be at least 1)"))),
    }
}
