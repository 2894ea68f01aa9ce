//! Codecs for types found by introspection (composites, ranges, multiranges) and for user codecs
//! from `set_type_codec`. The protocol calls these constructors once per type and caches the result.

use pyo3::prelude::*;

use super::Codec;

impl Codec {
    /// The codec of composite type `oid` with named, typed fields (binary record format); `None`
    /// when this build has no composite codec (the protocol then reads the type as text).
    pub fn composite(_py: Python<'_>, _oid: u32, _fields: Vec<(String, u32, Codec)>) -> PyResult<Option<Codec>> {
        Ok(None)
    }

    /// The codec of range type `oid` over `subtype`; `None` when unsupported (read as text).
    pub fn range(_oid: u32, _subtype: Codec) -> Option<Codec> {
        None
    }

    /// The codec of multirange type `oid` over the codec of its range type; `None` when unsupported.
    pub fn multirange(_oid: u32, _range: Codec) -> Option<Codec> {
        None
    }
}

/// How a user codec exchanges values with its Python callables (`set_type_codec(format=...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFormat {
    /// `str` in and out; the value travels in text format.
    Text,
    /// `bytes` in and out: the type's binary wire format.
    Binary,
    /// Type-specific tuples (composite fields, interval parts, ...), binary on the wire.
    Tuple,
}

impl Codec {
    /// A codec that calls the user's `encoder`/`decoder` (from `set_type_codec`). `base` is the
    /// codec the type had before (builtin or introspected), used by the tuple format.
    pub fn user(
        _py: Python<'_>,
        _oid: u32,
        type_name: &str,
        _encoder: Py<PyAny>,
        _decoder: Py<PyAny>,
        _format: UserFormat,
        _base: Option<Codec>,
    ) -> PyResult<Codec> {
        Err(pyo3::exceptions::PyNotImplementedError::new_err(format!(
            "custom codecs are not available yet (type {type_name})"
        )))
    }

    /// The builtin codec called `name` (`int4`, `text`, `pg_contrib.hstore`, ...) for type `oid`
    /// (`set_builtin_type_codec`); `None` if there is no such codec.
    pub fn builtin_by_name(_oid: u32, _name: &str) -> Option<Codec> {
        None
    }

    /// Format code on the wire: 1 binary, 0 text (user codecs with `format='text'`).
    pub fn format_code(&self) -> i16 {
        1
    }
}
