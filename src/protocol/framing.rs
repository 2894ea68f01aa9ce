//! Wire-level helpers without I/O and without session state: C strings, counts, error fields and
//! the text DataRow of the introspection query.

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
pub(super) fn text_row(body: &[u8]) -> Option<Vec<Option<String>>> {
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
