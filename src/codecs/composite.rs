//! Composite types (decoded to `Record`) and the anonymous `record` type (decoded to `tuple`).
//!
//! Wire format: the number of fields (i32), then for each field its type OID (u32) and its value,
//! length-prefixed (-1 for NULL).

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyMapping, PyTuple};

use super::wire::{write_datum, Reader};
use super::{classes, oids, Codec};
use crate::errors;
use crate::record::{PyRecord, RecordDescriptor};

/// The codec of one composite type.
pub struct CompositeCodec {
    pub oid: u32,
    /// The type's schema and name when the protocol told us (`Codec::with_type_name`), else empty.
    pub schema: String,
    pub name: String,
    /// (field name, field type OID, field codec), in attribute order.
    pub fields: Vec<(String, u32, Codec)>,
    desc: Arc<RecordDescriptor>,
    index: HashMap<String, usize>,
}

impl std::fmt::Debug for CompositeCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompositeCodec")
            .field("oid", &self.oid)
            .field("name", &self.name)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl CompositeCodec {
    pub fn new(py: Python<'_>, oid: u32, fields: Vec<(String, u32, Codec)>) -> PyResult<CompositeCodec> {
        let names: Vec<String> = fields.iter().map(|f| f.0.clone()).collect();
        let desc = RecordDescriptor::new(py, names.clone())?;
        let index = names.into_iter().enumerate().map(|(i, n)| (n, i)).collect();
        Ok(CompositeCodec {
            oid,
            schema: String::new(),
            name: String::new(),
            fields,
            desc,
            index,
        })
    }

    /// A copy that knows its name.
    pub fn renamed(&self, schema: &str, name: &str) -> CompositeCodec {
        CompositeCodec {
            oid: self.oid,
            schema: schema.to_owned(),
            name: name.to_owned(),
            fields: self.fields.clone(),
            desc: Arc::clone(&self.desc),
            index: self.index.clone(),
        }
    }

    /// The type's name for messages (its OID when the name is unknown).
    fn display_name(&self) -> String {
        if self.name.is_empty() {
            format!("OID {}", self.oid)
        } else {
            self.name.clone()
        }
    }

    /// A field exchanged in text format (a text-format user codec) cannot sit in a binary record.
    fn check_binary_fields(&self, py: Python<'_>, verb: &str) -> PyResult<()> {
        if self.fields.iter().any(|f| f.2.format_code() == 0) {
            let name = if self.schema.is_empty() {
                self.display_name()
            } else {
                format!("\"{}\".\"{}\"", self.schema, self.name)
            };
            return Err(errors::client_error(
                py,
                "UnsupportedClientFeatureError",
                format!("cannot {verb} type {name}: text encoding of composite types is not supported"),
            ));
        }
        Ok(())
    }

    /// The field values as a Vec, in order.
    pub fn decode_values(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Vec<Py<PyAny>>> {
        self.check_binary_fields(py, "decode")?;
        let mut r = Reader::new(buf, "composite");
        let n = r.count(8)?;
        if n != self.fields.len() {
            return Err(errors::client_error(
                py,
                "OutdatedSchemaCacheError",
                format!(
                    "unexpected number of attributes of composite type: {n}, expected {}",
                    self.fields.len()
                ),
            ));
        }
        let mut values = Vec::with_capacity(n);
        for (i, (_, expected, codec)) in self.fields.iter().enumerate() {
            let oid = r.u32()?;
            if oid != *expected {
                return Err(errors::client_error(
                    py,
                    "OutdatedSchemaCacheError",
                    format!(
                        "unexpected data type of composite type attribute {i}: {}, expected {}",
                        oid_repr(oid),
                        oid_repr(*expected)
                    ),
                ));
            }
            values.push(match r.datum()? {
                Some(b) => codec.decode(py, b)?,
                None => py.None(),
            });
        }
        r.finish()?;
        Ok(values)
    }

    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        let values = self.decode_values(py, buf)?;
        PyRecord::new_object(py, &self.desc, values, None)
    }

    /// A sequence of field values in order (a tuple, a Record, a list, ...), or a mapping of field
    /// names to values (missing fields are NULL).
    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let py = value.py();
        self.check_binary_fields(py, "encode")?;
        let by_name;
        let value = if value.is_instance(classes::mapping(py)?)? {
            let mut items: Vec<Bound<'_, PyAny>> = (0..self.fields.len()).map(|_| py.None().into_bound(py)).collect();
            let mapping = value.cast::<PyMapping>()?;
            for key in value.try_iter()? {
                let key = key?;
                let pos = key
                    .extract::<String>()
                    .ok()
                    .and_then(|k| self.index.get(&k).copied())
                    .ok_or_else(|| {
                        let shown = key.repr().map(|r| r.to_string()).unwrap_or_default();
                        PyValueError::new_err(format!(
                            "{shown} is not a valid element of composite type {}",
                            self.display_name()
                        ))
                    })?;
                items[pos] = mapping.get_item(&key)?;
            }
            by_name = PyTuple::new(py, items)?.into_any();
            &by_name
        } else {
            value
        };
        let n = value.len()?;
        let count =
            i32::try_from(n).map_err(|_| PyValueError::new_err("too many elements in composite type record"))?;
        out.extend_from_slice(&count.to_be_bytes());
        for (i, item) in value.try_iter()?.enumerate() {
            let item = item?;
            let Some((_, oid, codec)) = self.fields.get(i) else {
                return Err(pyo3::exceptions::PyIndexError::new_err("tuple index out of range"));
            };
            out.extend_from_slice(&oid.to_be_bytes());
            if item.is_none() {
                out.extend_from_slice(&(-1i32).to_be_bytes());
            } else {
                write_datum(out, |out| codec.encode(&item, out))?;
            }
        }
        Ok(())
    }
}

/// A builtin type's name, else the OID (for messages).
fn oid_repr(oid: u32) -> String {
    oids::type_name(oid).map_or_else(|| oid.to_string(), |n| format!("'{n}'"))
}

/// The anonymous `record` type: fields decoded with the builtin codec of their own OID, into a tuple.
pub fn decode_record(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "record");
    let n = r.count(8)?;
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let oid = r.u32()?;
        values.push(match r.datum()? {
            None => py.None(),
            Some(b) => match Codec::for_oid(oid) {
                Some(codec) => codec.decode(py, b)?,
                None => {
                    return Err(errors::client_error(
                        py,
                        "InternalClientError",
                        format!("no decoder for composite type element in position {i} of type OID {oid}"),
                    ))
                }
            },
        });
    }
    r.finish()?;
    Ok(PyTuple::new(py, values)?.into_any().unbind())
}

/// PostgreSQL cannot read anonymous records.
pub fn encode_record(value: &Bound<'_, PyAny>, _out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item(
        "detail",
        "PostgreSQL does not implement anonymous composite type input.",
    )?;
    kwargs.set_item(
        "hint",
        "Consider declaring an explicit composite type and using it to cast the argument.",
    )?;
    let err = super::classes::unsupported_client_feature_error(py)?
        .call(("input of anonymous composite types is not supported",), Some(&kwargs))?;
    Err(PyErr::from_value(err))
}
