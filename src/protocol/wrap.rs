//! How failures become asyncpg's exceptions: protocol and I/O errors, a column that cannot be
//! decoded, an argument that cannot be encoded (with its position, as asyncpg words it).

use pyo3::prelude::*;

use super::statement::Column;
use crate::codecs::Codec;
use crate::errors;

pub(super) fn protocol_err(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    errors::client_error(py, "ProtocolError", msg)
}

pub(super) fn io_err(py: Python<'_>, e: std::io::Error) -> PyErr {
    errors::client_error(py, "InterfaceError", e.to_string())
}

pub(super) fn decode_error(py: Python<'_>, col: &Column, e: &PyErr) -> PyErr {
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

pub(super) fn argument_error(
    py: Python<'_>,
    index: usize,
    row: Option<usize>,
    value: &Bound<'_, PyAny>,
    e: &PyErr,
) -> PyErr {
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

pub(super) fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}
