//! The text family (text, varchar, bpchar, name, xml, unknown, json), jsonb/jsonpath, `"char"` and bytea.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};
use pyo3::{ffi, PyErr};

use super::type_name_of;

/// Version byte that prefixes jsonb and jsonpath in binary format.
const JSON_VERSION: u8 = 1;

pub fn decode_text(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    // Python validates the UTF-8 while decoding; no second pass in Rust.
    Ok(PyString::from_bytes(py, buf)?.into_any().unbind())
}

pub fn encode_text(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let s = value
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("expected str, got {}", type_name_of(value))))?;
    out.extend_from_slice(s.to_str()?.as_bytes());
    Ok(())
}

/// jsonb / jsonpath: a version byte, then text.
pub fn decode_versioned(py: Python<'_>, buf: &[u8], type_name: &str) -> PyResult<Py<PyAny>> {
    match buf.split_first() {
        Some((&JSON_VERSION, rest)) => decode_text(py, rest),
        Some((v, _)) => Err(PyValueError::new_err(format!("unexpected {type_name} format: {v}"))),
        None => Err(PyValueError::new_err(format!("invalid {type_name} value: empty"))),
    }
}

pub fn encode_versioned(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    out.push(JSON_VERSION);
    encode_text(value, out)
}

/// bytea and `"char"`: the bytes as they are.
pub fn decode_bytea(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    Ok(PyBytes::new(py, buf).into_any().unbind())
}

/// Any object with the buffer protocol (bytes, bytearray, memoryview, array, ...).
pub fn encode_bytea(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(b) = value.cast::<PyBytes>() {
        out.extend_from_slice(b.as_bytes());
        return Ok(());
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        out.extend_from_slice(&b.to_vec());
        return Ok(());
    }
    let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::uninit();
    // SAFETY: `view` is written by PyObject_GetBuffer before we read it, and only when it returns 0;
    // the buffer stays valid until PyBuffer_Release, which we call exactly once after copying.
    unsafe {
        if ffi::PyObject_GetBuffer(value.as_ptr(), view.as_mut_ptr(), ffi::PyBUF_SIMPLE) != 0 {
            return Err(PyErr::fetch(value.py()));
        }
        let view_ref = view.assume_init_mut();
        let len = usize::try_from(view_ref.len).unwrap_or(0);
        if len > 0 && !view_ref.buf.is_null() {
            out.extend_from_slice(std::slice::from_raw_parts(view_ref.buf.cast::<u8>(), len));
        }
        ffi::PyBuffer_Release(view_ref);
    }
    Ok(())
}
