//! Codecs for types found by introspection (composites, ranges, multiranges) and for user codecs
//! from `set_type_codec` / `set_builtin_type_codec`. The protocol calls these constructors once per
//! type and caches the result.

use std::sync::Arc;

use pyo3::prelude::*;

use super::Codec;
use super::{oids, CompositeCodec, MultirangeCodec, RangeCodec, UserCodec};

impl Codec {
    /// The codec of composite type `oid` with named, typed fields (binary record format); `None`
    /// when this build has no composite codec (the protocol then reads the type as text).
    pub fn composite(py: Python<'_>, oid: u32, fields: Vec<(String, u32, Codec)>) -> PyResult<Option<Codec>> {
        Ok(Some(Codec::Composite(Arc::new(CompositeCodec::new(py, oid, fields)?))))
    }

    /// The codec of range type `oid` over `subtype`; `None` when unsupported (read as text).
    pub fn range(oid: u32, subtype: Codec) -> Option<Codec> {
        Some(Codec::Range(Arc::new(RangeCodec { oid, subtype })))
    }

    /// The codec of multirange type `oid` over the codec of its range type; `None` when unsupported.
    pub fn multirange(oid: u32, range: Codec) -> Option<Codec> {
        Some(Codec::Multirange(Arc::new(MultirangeCodec { oid, range })))
    }

    /// The same codec, told the schema and name of its type (composites use them in messages and
    /// `get_attributes()`); other codecs are returned unchanged.
    #[must_use]
    pub fn with_type_name(self, schema: &str, name: &str) -> Codec {
        match &self {
            Codec::Composite(c) => Codec::Composite(Arc::new(c.renamed(schema, name))),
            _ => self,
        }
    }
}

/// The codec name that makes json/jsonb (and their arrays) Python objects.
pub const JSON_OBJECTS: &str = "asyncpg_rs.json_objects";

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

/// Core types that asyncpg exchanges in text format only; aliasing one of them gives a text-format
/// `str` codec.
const TEXT_ONLY: &[&str] = &[
    "money",
    "macaddr",
    "macaddr8",
    "tsvector",
    "tsquery",
    "gtsvector",
    "aclitem",
    "refcursor",
    "regproc",
    "regprocedure",
    "regoper",
    "regoperator",
    "regclass",
    "regtype",
    "regconfig",
    "regdictionary",
    "regnamespace",
    "regrole",
    "regcollation",
    "pg_node_tree",
    "pg_ndistinct",
    "pg_dependencies",
    "pg_mcv_list",
    "anyenum",
];

impl Codec {
    /// A codec that calls the user's `encoder`/`decoder` (from `set_type_codec`). `base` is the
    /// codec the type had before (builtin or introspected), used by the tuple format. A type
    /// without a tuple layout raises `InterfaceError`, as in asyncpg.
    pub fn user(
        py: Python<'_>,
        oid: u32,
        type_name: &str,
        encoder: Py<PyAny>,
        decoder: Py<PyAny>,
        format: UserFormat,
        base: Option<Codec>,
    ) -> PyResult<Codec> {
        Ok(Codec::User(UserCodec::new(
            py,
            oid,
            type_name,
            encoder,
            decoder,
            format,
            base.as_ref(),
        )?))
    }

    /// The builtin codec called `name` (`int4`, `text`, `pg_contrib.hstore`, ...) for type `oid`
    /// (`set_builtin_type_codec`); `None` if there is no such codec.
    pub fn builtin_by_name(oid: u32, name: &str) -> Option<Codec> {
        if name == "pg_contrib.hstore" {
            return Some(Codec::Hstore(oid));
        }
        if name == JSON_OBJECTS {
            // json, jsonb and their arrays (the `json_objects` connection option).
            return match oid {
                oids::JSON | oids::JSONB => Some(Codec::JsonObjects(oid)),
                _ => {
                    let elem = oids::array_element(oid).filter(|e| *e == oids::JSON || *e == oids::JSONB)?;
                    Some(Codec::Array(Arc::new(super::ArrayCodec::new(
                        oid,
                        elem,
                        Codec::JsonObjects(elem),
                    ))))
                }
            };
        }
        if TEXT_ONLY.contains(&name) {
            return Some(Codec::TextFormat(oid));
        }
        let core = Codec::for_oid(oids::oid_by_name(name)?)?;
        Some(match core {
            // Keep the aliased type's OID where the codec carries one.
            Codec::Text(_) => Codec::Text(oid),
            Codec::Bits(_) => Codec::Bits(oid),
            Codec::Snapshot(_) => Codec::Snapshot(oid),
            other => other,
        })
    }

    /// Format code on the wire: 1 binary, 0 text (user codecs with `format='text'`, arrays of them,
    /// and the text-only aliases).
    pub fn format_code(&self) -> i16 {
        match self {
            Codec::User(u) if u.format == UserFormat::Text => 0,
            Codec::TextFormat(_) | Codec::TextArray(_) => 0,
            Codec::Array(a) => a.elem.format_code(),
            _ => 1,
        }
    }
}
