//! Ranges and multiranges over any subtype codec <-> `asyncpg_rs.types.Range` (a multirange is a
//! list of them).
//!
//! Range wire format: a flags byte, then the lower and the upper bound as length-prefixed values of
//! the subtype, each left out when the range is empty or that bound is infinite. Multirange: the
//! number of ranges (i32), then each range length-prefixed.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PySequence, PyTuple};

use super::wire::{write_datum, Reader};
use super::{classes, Codec};

const EMPTY: u8 = 0x01;
const LB_INC: u8 = 0x02;
const UB_INC: u8 = 0x04;
const LB_INF: u8 = 0x08;
const UB_INF: u8 = 0x10;

/// The codec of one range type.
#[derive(Debug)]
pub struct RangeCodec {
    /// The range type's OID.
    pub oid: u32,
    /// The subtype codec.
    pub subtype: Codec,
}

impl RangeCodec {
    /// A subtype exchanged in text format (a text-format user codec) cannot sit in a binary range.
    fn check_binary_subtype(&self, py: Python<'_>, verb: &str) -> PyResult<()> {
        if self.subtype.format_code() == 0 {
            let name = super::oids::type_name(self.oid).map_or_else(|| format!("OID {}", self.oid), str::to_owned);
            return Err(crate::errors::client_error(
                py,
                "UnsupportedClientFeatureError",
                format!("cannot {verb} type {name}: text encoding of range types is not supported"),
            ));
        }
        Ok(())
    }

    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        self.check_binary_subtype(py, "decode")?;
        let mut r = Reader::new(buf, "range");
        let flags = r.u8()?;
        let kwargs = PyDict::new(py);
        if flags & EMPTY != 0 {
            r.finish()?;
            kwargs.set_item(intern!(py, "empty"), true)?;
            return Ok(classes::range(py)?.call((), Some(&kwargs))?.unbind());
        }
        let mut bound = |inf: u8| -> PyResult<Py<PyAny>> {
            if flags & inf != 0 {
                return Ok(py.None());
            }
            match r.datum()? {
                Some(b) => self.subtype.decode(py, b),
                None => Ok(py.None()),
            }
        };
        let lower = bound(LB_INF)?;
        let upper = bound(UB_INF)?;
        r.finish()?;
        kwargs.set_item(intern!(py, "lower_inc"), flags & LB_INC != 0)?;
        kwargs.set_item(intern!(py, "upper_inc"), flags & UB_INC != 0)?;
        Ok(classes::range(py)?.call((lower, upper), Some(&kwargs))?.unbind())
    }

    /// A Range, or a list/tuple of 0 (empty), 1 (lower) or 2 bounds, both inclusive; `None` is an
    /// infinite bound.
    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let py = value.py();
        self.check_binary_subtype(py, "encode")?;
        let (lower, upper, mut flags) = if value.is_instance(classes::range(py)?)? {
            if value.getattr(intern!(py, "isempty"))?.is_truthy()? {
                out.push(EMPTY);
                return Ok(());
            }
            let mut flags = 0;
            if value.getattr(intern!(py, "lower_inc"))?.is_truthy()? {
                flags |= LB_INC;
            }
            if value.getattr(intern!(py, "upper_inc"))?.is_truthy()? {
                flags |= UB_INC;
            }
            (
                value.getattr(intern!(py, "lower"))?,
                value.getattr(intern!(py, "upper"))?,
                flags,
            )
        } else if value.is_instance_of::<PyTuple>() || value.is_instance_of::<PyList>() {
            let seq = value.cast::<PySequence>()?;
            match seq.len()? {
                0 => {
                    out.push(EMPTY);
                    return Ok(());
                }
                1 => (seq.get_item(0)?, py.None().into_bound(py), LB_INC | UB_INC),
                2 => (seq.get_item(0)?, seq.get_item(1)?, LB_INC | UB_INC),
                n => {
                    return Err(PyValueError::new_err(format!(
                        "expected 0, 1 or 2 elements in range (got {n})"
                    )))
                }
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "list, tuple or Range object expected (got type {})",
                value.get_type().repr()?
            )));
        };
        if lower.is_none() {
            flags = (flags & !LB_INC) | LB_INF;
        }
        if upper.is_none() {
            flags = (flags & !UB_INC) | UB_INF;
        }
        out.push(flags);
        for b in [&lower, &upper] {
            if !b.is_none() {
                write_datum(out, |out| self.subtype.encode(b, out))?;
            }
        }
        Ok(())
    }
}

/// The codec of one multirange type.
#[derive(Debug)]
pub struct MultirangeCodec {
    /// The multirange type's OID.
    pub oid: u32,
    /// The codec of its range type.
    pub range: Codec,
}

impl MultirangeCodec {
    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        let mut r = Reader::new(buf, "multirange");
        let n = r.count(5)?;
        let list = PyList::empty(py);
        for _ in 0..n {
            let b = r.datum()?.ok_or_else(|| r.error("NULL range"))?;
            list.append(self.range.decode(py, b)?)?;
        }
        r.finish()?;
        Ok(list.into_any().unbind())
    }

    /// A sequence of ranges (each a Range or a list/tuple of bounds).
    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let seq = value.cast::<PySequence>().map_err(|_| {
            let tname = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            PyTypeError::new_err(format!("expected a sequence (got type '{tname}')"))
        })?;
        let n = seq.len()?;
        let count = i32::try_from(n).map_err(|_| PyValueError::new_err("too many ranges"))?;
        out.extend_from_slice(&count.to_be_bytes());
        for i in 0..n {
            let item = seq.get_item(i)?;
            write_datum(out, |out| self.range.encode(&item, out))?;
        }
        Ok(())
    }
}
