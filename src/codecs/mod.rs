//! PostgreSQL binary format <-> Python objects. Knows nothing of connections.
//!
//! INTERFACE (stable, used by `protocol`):
//! - `Codec`: cheap to clone; one per column / parameter of a statement.
//! - `Codec::for_oid(oid) -> Option<Codec>`: the builtin codec for a type OID, or `None` when the
//!   type is unknown (the protocol then asks for text format and decodes with `Codec::text()`).
//! - `Codec::decode(py, bytes) -> PyResult<Py<PyAny>>`: binary column value -> Python object.
//! - `Codec::encode(value, out) -> PyResult<()>`: Python object -> binary parameter bytes appended to
//!   `out`; errors are TypeError/ValueError/OverflowError with asyncpg's wording (the protocol wraps them
//!   into `DataError("invalid input for query argument $N: ...")`).
//! - `Codec::type_name()`: PostgreSQL's name for the type (`int4`, `_text`, ...).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::IntoPyObjectExt;

/// A codec for one PostgreSQL type (stub: int4 and text only; replaced by the full table).
#[derive(Clone, Debug)]
pub enum Codec {
    /// int4
    Int4,
    /// text family, and the text-format fallback
    Text,
    /// bytea
    Bytea,
}

impl Codec {
    /// The builtin codec for `oid`, or `None` for a type we do not know.
    pub fn for_oid(oid: u32) -> Option<Codec> {
        match oid {
            23 => Some(Codec::Int4),
            25 | 1043 | 19 | 1042 => Some(Codec::Text),
            17 => Some(Codec::Bytea),
            _ => None,
        }
    }

    /// The codec used for columns in text format.
    pub fn text() -> Codec {
        Codec::Text
    }

    /// PostgreSQL's name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Codec::Int4 => "int4",
            Codec::Text => "text",
            Codec::Bytea => "bytea",
        }
    }

    /// Decode one non-NULL binary value.
    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        match self {
            Codec::Int4 => {
                let b: [u8; 4] = buf.try_into().map_err(|_| PyValueError::new_err("invalid int4 length"))?;
                i32::from_be_bytes(b).into_py_any(py)
            }
            Codec::Text => {
                let s = std::str::from_utf8(buf).map_err(|e| PyValueError::new_err(e.to_string()))?;
                Ok(PyString::new(py, s).into_any().unbind())
            }
            Codec::Bytea => Ok(PyBytes::new(py, buf).into_any().unbind()),
        }
    }

    /// Encode one non-None value, appending its binary form to `out`.
    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        match self {
            Codec::Int4 => {
                let v: i32 = value.extract()?;
                out.extend_from_slice(&v.to_be_bytes());
            }
            Codec::Text => {
                let s = value
                    .cast::<PyString>()
                    .map_err(|_| PyTypeError::new_err("expected str"))?;
                out.extend_from_slice(s.to_str()?.as_bytes());
            }
            Codec::Bytea => {
                let b = value.cast::<PyBytes>().map_err(|_| PyTypeError::new_err("expected bytes"))?;
                out.extend_from_slice(b.as_bytes());
            }
        }
        Ok(())
    }
}
