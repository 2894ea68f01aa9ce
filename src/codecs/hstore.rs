//! hstore (contrib, `set_builtin_type_codec(..., codec_name='pg_contrib.hstore')`) <-> dict of
//! str -> str or None.
//!
//! Wire format: the number of pairs (i32), then for each pair the key and the value as
//! length-prefixed text (the value -1 for NULL).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::type_name_of;
use super::wire::{write_datum, Reader};

pub fn decode_hstore(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "hstore");
    let n = r.count(8)?;
    let dict = PyDict::new(py);
    for _ in 0..n {
        let key = r.datum()?.ok_or_else(|| r.error("NULL key"))?;
        let key = PyString::from_bytes(py, key)?;
        match r.datum()? {
            Some(v) => dict.set_item(key, PyString::from_bytes(py, v)?)?,
            None => dict.set_item(key, py.None())?,
        }
    }
    r.finish()?;
    Ok(dict.into_any().unbind())
}

fn write_str(item: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let s = item
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("expected str, got {}", type_name_of(item))))?;
    write_datum(out, |out| {
        out.extend_from_slice(s.to_str()?.as_bytes());
        Ok(())
    })
}

/// A mapping (its `items()`), or an iterable of (key, value) pairs.
pub fn encode_hstore(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let n = value.len()?;
    let count = i32::try_from(n).map_err(|_| PyValueError::new_err("too many items in hstore"))?;
    let items = if value.hasattr(intern!(py, "items"))? {
        value.call_method0(intern!(py, "items"))?
    } else {
        value.clone()
    };
    let at = out.len();
    out.extend_from_slice(&count.to_be_bytes());
    let mut written = 0usize;
    for pair in items.try_iter()? {
        let pair = pair?;
        let mut it = pair.try_iter()?;
        let (Some(k), Some(v)) = (it.next().transpose()?, it.next().transpose()?) else {
            return Err(PyValueError::new_err("need more than 1 value to unpack"));
        };
        if it.next().is_some() {
            return Err(PyValueError::new_err("too many values to unpack (expected 2)"));
        }
        if k.is_none() {
            return Err(PyValueError::new_err("null value not allowed in hstore key"));
        }
        write_str(&k, out)?;
        if v.is_none() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
        } else {
            write_str(&v, out)?;
        }
        written += 1;
    }
    // An iterable whose length changed while we walked it: write the real count.
    let written = i32::try_from(written).map_err(|_| PyValueError::new_err("too many items in hstore"))?;
    out[at..at + 4].copy_from_slice(&written.to_be_bytes());
    Ok(())
}
