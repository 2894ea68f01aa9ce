//! txid_snapshot and pg_snapshot <-> `(xmin, xmax, (xip, ...))`, as in asyncpg.
//!
//! Wire format: the number of in-progress ids (i32), xmin and xmax (int8), then each id (int8).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::wire::Reader;

pub fn decode_snapshot(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "snapshot");
    let n = r.count(8)?;
    let xmin = r.u64()?;
    let xmax = r.u64()?;
    let mut xip = Vec::with_capacity(n);
    for _ in 0..n {
        xip.push(r.u64()?);
    }
    r.finish()?;
    let xip = PyTuple::new(py, xip)?;
    Ok((xmin, xmax, xip).into_pyobject(py)?.into_any().unbind())
}

/// A list or tuple `(xmin, xmax, iterable of in-progress ids)`.
pub fn encode_snapshot(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if !(value.is_instance_of::<PyTuple>() || value.is_instance_of::<PyList>()) {
        return Err(PyTypeError::new_err(format!(
            "list or tuple expected (got type {})",
            value.get_type().repr()?
        )));
    }
    let xmin: u64 = value.get_item(0)?.extract()?;
    let xmax: u64 = value.get_item(1)?.extract()?;
    let mut xip = Vec::new();
    for x in value.get_item(2)?.try_iter()? {
        xip.push(x?.extract::<u64>()?);
    }
    let n = i32::try_from(xip.len()).map_err(|_| PyValueError::new_err("too many transaction ids"))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&xmin.to_be_bytes());
    out.extend_from_slice(&xmax.to_be_bytes());
    for x in xip {
        out.extend_from_slice(&x.to_be_bytes());
    }
    Ok(())
}
