//! Codecs made by `set_type_codec`: the user's Python `encoder` and `decoder` around the wire
//! format, exchanging `str` (format 'text'), `bytes` (format 'binary') or a type-specific tuple
//! (format 'tuple').

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use super::text::encode_bytea;
use super::wire::Reader;
use super::{fixed, type_name_of, Codec, UserFormat};
use crate::errors;

/// The tuple layout of a type, from the codec it had before the user's.
#[derive(Debug)]
pub enum TupleLayout {
    /// `(months, days, microseconds)`
    Interval,
    /// `(days since 2000-01-01,)`
    Date,
    /// `(microseconds since 2000-01-01,)`, timestamp and timestamptz
    Timestamp,
    /// `(microseconds,)`
    Time,
    /// `(microseconds, zone offset in seconds west of UTC)`
    TimeTz,
    /// The composite's Record, in and out through the composite codec.
    Composite(Codec),
}

impl TupleLayout {
    fn of(base: &Codec) -> Option<TupleLayout> {
        Some(match base {
            Codec::Interval => TupleLayout::Interval,
            Codec::Date => TupleLayout::Date,
            Codec::Timestamp | Codec::TimestampTz => TupleLayout::Timestamp,
            Codec::Time => TupleLayout::Time,
            Codec::TimeTz => TupleLayout::TimeTz,
            Codec::Composite(_) => TupleLayout::Composite(base.clone()),
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            TupleLayout::Interval => "interval",
            TupleLayout::Date => "date",
            TupleLayout::Timestamp => "timestamp",
            TupleLayout::Time => "time",
            TupleLayout::TimeTz => "timetz",
            TupleLayout::Composite(_) => "composite",
        }
    }
}

/// A codec with Python callables.
pub struct UserCodec {
    pub oid: u32,
    pub name: String,
    pub format: UserFormat,
    encoder: Py<PyAny>,
    decoder: Py<PyAny>,
    layout: Option<TupleLayout>,
}

impl std::fmt::Debug for UserCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCodec")
            .field("oid", &self.oid)
            .field("name", &self.name)
            .field("format", &self.format)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl UserCodec {
    pub fn new(
        py: Python<'_>,
        oid: u32,
        name: &str,
        encoder: Py<PyAny>,
        decoder: Py<PyAny>,
        format: UserFormat,
        base: Option<&Codec>,
    ) -> PyResult<Arc<UserCodec>> {
        let layout = if format == UserFormat::Tuple {
            match base.and_then(TupleLayout::of) {
                Some(l) => Some(l),
                None => {
                    return Err(errors::client_error(
                        py,
                        "InterfaceError",
                        format!("{name} type does not support the 'tuple' exchange format"),
                    ))
                }
            }
        } else {
            None
        };
        Ok(Arc::new(UserCodec {
            oid,
            name: name.to_owned(),
            format,
            encoder,
            decoder,
            layout,
        }))
    }

    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        let arg: Bound<'_, PyAny> = match (self.format, &self.layout) {
            (UserFormat::Text, _) => PyString::from_bytes(py, buf)?.into_any(),
            (UserFormat::Binary, _) => PyBytes::new(py, buf).into_any(),
            (UserFormat::Tuple, Some(layout)) => decode_tuple(py, layout, buf)?,
            (UserFormat::Tuple, None) => return Err(PyValueError::new_err("no tuple layout")),
        };
        self.decoder.call1(py, (arg,))
    }

    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let py = value.py();
        let data = self.encoder.bind(py).call1((value,))?;
        match (self.format, &self.layout) {
            (UserFormat::Text, _) => {
                let s = data
                    .cast::<PyString>()
                    .map_err(|_| PyTypeError::new_err(format!("expected str, got {}", type_name_of(&data))))?;
                out.extend_from_slice(s.to_str()?.as_bytes());
                Ok(())
            }
            (UserFormat::Binary, _) => encode_bytea(&data, out),
            (UserFormat::Tuple, Some(layout)) => encode_tuple(layout, &data, out),
            (UserFormat::Tuple, None) => Err(PyValueError::new_err("no tuple layout")),
        }
    }
}

fn decode_tuple<'py>(py: Python<'py>, layout: &TupleLayout, buf: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let tuple = match layout {
        TupleLayout::Interval => {
            let mut r = Reader::new(buf, "interval");
            let (us, days, months) = (r.i64()?, r.i32()?, r.i32()?);
            r.finish()?;
            (months, days, us).into_pyobject(py)?
        }
        TupleLayout::Date => (i32::from_be_bytes(fixed(buf, "date")?),).into_pyobject(py)?,
        TupleLayout::Timestamp => (i64::from_be_bytes(fixed(buf, "timestamp")?),).into_pyobject(py)?,
        TupleLayout::Time => (i64::from_be_bytes(fixed(buf, "time")?),).into_pyobject(py)?,
        TupleLayout::TimeTz => {
            let mut r = Reader::new(buf, "timetz");
            let (us, zone) = (r.i64()?, r.i32()?);
            r.finish()?;
            (us, zone).into_pyobject(py)?
        }
        TupleLayout::Composite(base) => return Ok(base.decode(py, buf)?.into_bound(py)),
    };
    Ok(tuple.into_any())
}

fn encode_tuple(layout: &TupleLayout, data: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let TupleLayout::Composite(base) = layout {
        return base.encode(data, out);
    }
    let expected = match layout {
        TupleLayout::Interval => 3,
        TupleLayout::TimeTz => 2,
        _ => 1,
    };
    let n = data.len()?;
    if n != expected {
        // asyncpg's wording, including its timetz message ("time ... elements2").
        let (name, noun) = match layout {
            TupleLayout::TimeTz => ("time", "elements2"),
            _ if expected == 1 => (layout.name(), "element"),
            _ => (layout.name(), "elements"),
        };
        return Err(PyValueError::new_err(format!(
            "{name} tuple encoder: expecting {expected} {noun} in tuple, got {n}"
        )));
    }
    let item = |i: usize| data.get_item(i);
    match layout {
        TupleLayout::Interval => {
            let months: i32 = item(0)?.extract()?;
            let days: i32 = item(1)?.extract()?;
            let us: i64 = item(2)?.extract()?;
            out.extend_from_slice(&us.to_be_bytes());
            out.extend_from_slice(&days.to_be_bytes());
            out.extend_from_slice(&months.to_be_bytes());
        }
        TupleLayout::Date => out.extend_from_slice(&item(0)?.extract::<i32>()?.to_be_bytes()),
        TupleLayout::Timestamp | TupleLayout::Time => out.extend_from_slice(&item(0)?.extract::<i64>()?.to_be_bytes()),
        TupleLayout::TimeTz => {
            let us: i64 = item(0)?.extract()?;
            let zone: i32 = item(1)?.extract()?;
            out.extend_from_slice(&us.to_be_bytes());
            out.extend_from_slice(&zone.to_be_bytes());
        }
        TupleLayout::Composite(_) => {}
    }
    Ok(())
}
