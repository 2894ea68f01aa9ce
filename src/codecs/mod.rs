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
//! - `Codec::oid()`: the type OID the codec was made for (`Codec::text()` says 25).
//!
//! - `Codec::for_text_oid(oid)`: the codec for a type exchanged in text format (when `for_oid` gives
//!   `None`): `Codec::text()`, or a list-making codec for arrays such as `money[]`, as asyncpg does.
//!
//! - Introspected and user types: `Codec::composite`, `range`, `multirange`, `user`, `builtin_by_name`
//!   and `format_code` (custom.rs); `Codec::with_type_name(schema, name)` lets a composite name itself
//!   in messages and `get_attributes()`.
//!
//! Types that asyncpg reads in text format (money, macaddr, regtype, ...) have no binary codec here:
//! `for_oid` gives `None` and the text fallback returns the server's text, as asyncpg does.

mod array;
mod bits;
mod classes;
mod composite;
mod custom;
mod datetime;
mod geometry;
mod hstore;
mod json;
mod network;
mod numeric;
mod oids;
mod range;
mod snapshot;
mod strcache;
mod text;
mod text_array;
mod user;
mod uuid;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_custom;

use std::sync::Arc;

use pyo3::prelude::*;

pub use array::ArrayCodec;
pub use composite::CompositeCodec;
pub use custom::UserFormat;
pub use oids::array_element;
pub use range::{MultirangeCodec, RangeCodec};
pub use user::UserCodec;

/// A codec for one PostgreSQL type, dispatched with `match` (no trait objects on the hot path).
#[derive(Clone, Debug)]
pub enum Codec {
    /// bool
    Bool,
    /// int2
    Int2,
    /// int4
    Int4,
    /// int8
    Int8,
    /// Unsigned 32-bit types: oid, xid, cid (the field is the type OID).
    Uint4(u32),
    /// Unsigned 64-bit types: xid8 (the field is the type OID).
    Uint8(u32),
    /// pg_lsn, read and written as a signed int8 as asyncpg does.
    PgLsn,
    /// float4
    Float4,
    /// float8
    Float8,
    /// numeric <-> decimal.Decimal
    Numeric,
    /// The text family: text, varchar, bpchar, name, xml, unknown, cstring (the field is the type OID);
    /// also the text-format fallback.
    Text(u32),
    /// `"char"` (OID 18): one byte, as `bytes`.
    Char,
    /// bytea
    Bytea,
    /// uuid <-> uuid.UUID
    Uuid,
    /// date
    Date,
    /// time (naive)
    Time,
    /// timetz (aware time)
    TimeTz,
    /// timestamp (naive datetime)
    Timestamp,
    /// timestamptz (datetime in UTC)
    TimestampTz,
    /// interval <-> timedelta
    Interval,
    /// json (str)
    Json,
    /// jsonb (str; version byte on the wire)
    Jsonb,
    /// jsonpath (str; version byte on the wire)
    Jsonpath,
    /// json or jsonb as Python objects (the `json_objects` option; the field is the type OID).
    JsonObjects(u32),
    /// void (None)
    Void,
    /// inet <-> ipaddress Address / Interface
    Inet,
    /// cidr <-> ipaddress Network
    Cidr,
    /// tid <-> (block, offset)
    Tid,
    /// Arrays (and int2vector / oidvector) over an element codec.
    Array(Arc<ArrayCodec>),
    /// Text-format arrays of types asyncpg reads as text (money[], regtype[], ...): lists of str.
    /// Made by `Codec::for_text_oid`, never by `for_oid` (these columns must be sent as text).
    TextArray(u32),
    /// A type exchanged as `str` in text format (`set_builtin_type_codec` to money, macaddr, ...).
    TextFormat(u32),
    /// point <-> `types.Point`
    Point,
    /// line <-> `types.Line`
    Line,
    /// lseg <-> `types.LineSegment`
    Lseg,
    /// box <-> `types.Box`
    Box,
    /// path <-> `types.Path`
    Path,
    /// polygon <-> `types.Polygon`
    Polygon,
    /// circle <-> `types.Circle`
    Circle,
    /// bit and varbit <-> `types.BitString` (the field is the type OID)
    Bits(u32),
    /// txid_snapshot and pg_snapshot <-> `(xmin, xmax, (xip, ...))` (the field is the type OID)
    Snapshot(u32),
    /// The anonymous `record` type -> tuple (fields by their own OIDs; never sent).
    Record,
    /// A composite type <-> Record.
    Composite(Arc<CompositeCodec>),
    /// A range type <-> `types.Range`.
    Range(Arc<RangeCodec>),
    /// A multirange type <-> list of `types.Range`.
    Multirange(Arc<MultirangeCodec>),
    /// hstore <-> dict (`set_builtin_type_codec(..., codec_name='pg_contrib.hstore')`; the field is
    /// the type OID).
    Hstore(u32),
    /// A codec from `set_type_codec` (Python callables).
    User(Arc<UserCodec>),
}

impl Codec {
    /// The builtin codec for `oid`, or `None` for a type we do not know.
    pub fn for_oid(oid: u32) -> Option<Codec> {
        use oids::*;
        Some(match oid {
            BOOL => Codec::Bool,
            INT2 => Codec::Int2,
            INT4 => Codec::Int4,
            INT8 => Codec::Int8,
            OID | XID | CID => Codec::Uint4(oid),
            XID8 => Codec::Uint8(oid),
            PG_LSN => Codec::PgLsn,
            FLOAT4 => Codec::Float4,
            FLOAT8 => Codec::Float8,
            NUMERIC => Codec::Numeric,
            TEXT | VARCHAR | BPCHAR | NAME | XML | UNKNOWN | CSTRING => Codec::Text(oid),
            CHAR => Codec::Char,
            BYTEA => Codec::Bytea,
            UUID => Codec::Uuid,
            DATE => Codec::Date,
            TIME => Codec::Time,
            TIMETZ => Codec::TimeTz,
            TIMESTAMP => Codec::Timestamp,
            TIMESTAMPTZ => Codec::TimestampTz,
            INTERVAL => Codec::Interval,
            JSON => Codec::Json,
            JSONB => Codec::Jsonb,
            JSONPATH => Codec::Jsonpath,
            VOID => Codec::Void,
            INET => Codec::Inet,
            CIDR => Codec::Cidr,
            TID => Codec::Tid,
            POINT => Codec::Point,
            LINE => Codec::Line,
            LSEG => Codec::Lseg,
            BOX => Codec::Box,
            PATH => Codec::Path,
            POLYGON => Codec::Polygon,
            CIRCLE => Codec::Circle,
            BIT | VARBIT => Codec::Bits(oid),
            TXID_SNAPSHOT | PG_SNAPSHOT => Codec::Snapshot(oid),
            RECORD => Codec::Record,
            _ => {
                if let Some(&(range, sub, _)) = RANGES.iter().find(|r| r.0 == oid || r.2 == oid) {
                    let range_codec = Codec::Range(Arc::new(RangeCodec {
                        oid: range,
                        subtype: Codec::for_oid(sub)?,
                    }));
                    if oid == range {
                        return Some(range_codec);
                    }
                    return Some(Codec::Multirange(Arc::new(MultirangeCodec {
                        oid,
                        range: range_codec,
                    })));
                }
                let elem = oids::array_element(oid)?;
                let elem_codec = Codec::for_oid(elem)?;
                Codec::Array(Arc::new(ArrayCodec::new(oid, elem, elem_codec)))
            }
        })
    }

    /// The codec used for columns in text format.
    pub fn text() -> Codec {
        Codec::Text(oids::TEXT)
    }

    /// The codec for a column or parameter of type `oid` exchanged in text format (used when
    /// `for_oid` gives `None`): a list-making codec for the builtin arrays that asyncpg decodes
    /// element-wise as text (`money[]` -> `['$1.50']`), else `Codec::text()`.
    pub fn for_text_oid(oid: u32) -> Codec {
        if text_array::TEXT_ARRAY_TYPES.iter().any(|t| t.0 == oid) {
            Codec::TextArray(oid)
        } else {
            Codec::text()
        }
    }

    /// The type OID this codec was made for.
    pub fn oid(&self) -> u32 {
        use oids::*;
        match self {
            Codec::Bool => BOOL,
            Codec::Int2 => INT2,
            Codec::Int4 => INT4,
            Codec::Int8 => INT8,
            Codec::Uint4(oid) | Codec::Uint8(oid) | Codec::Text(oid) => *oid,
            Codec::PgLsn => PG_LSN,
            Codec::Float4 => FLOAT4,
            Codec::Float8 => FLOAT8,
            Codec::Numeric => NUMERIC,
            Codec::Char => CHAR,
            Codec::Bytea => BYTEA,
            Codec::Uuid => UUID,
            Codec::Date => DATE,
            Codec::Time => TIME,
            Codec::TimeTz => TIMETZ,
            Codec::Timestamp => TIMESTAMP,
            Codec::TimestampTz => TIMESTAMPTZ,
            Codec::Interval => INTERVAL,
            Codec::Json => JSON,
            Codec::Jsonb => JSONB,
            Codec::Jsonpath => JSONPATH,
            Codec::Void => VOID,
            Codec::Inet => INET,
            Codec::Cidr => CIDR,
            Codec::Tid => TID,
            Codec::Array(a) => a.oid,
            Codec::TextArray(oid)
            | Codec::TextFormat(oid)
            | Codec::Bits(oid)
            | Codec::Snapshot(oid)
            | Codec::Hstore(oid)
            | Codec::JsonObjects(oid) => *oid,
            Codec::Point => POINT,
            Codec::Line => LINE,
            Codec::Lseg => LSEG,
            Codec::Box => BOX,
            Codec::Path => PATH,
            Codec::Polygon => POLYGON,
            Codec::Circle => CIRCLE,
            Codec::Record => RECORD,
            Codec::Composite(c) => c.oid,
            Codec::Range(r) => r.oid,
            Codec::Multirange(m) => m.oid,
            Codec::User(u) => u.oid,
        }
    }

    /// PostgreSQL's name of the type.
    pub fn type_name(&self) -> &str {
        match self {
            Codec::Composite(c) if !c.name.is_empty() => return &c.name,
            Codec::Composite(_) => return "composite",
            Codec::User(u) => return &u.name,
            Codec::Hstore(_) => return "hstore",
            _ => {}
        }
        let oid = self.oid();
        oids::type_name(oid)
            .or_else(|| text_array::TEXT_ARRAY_TYPES.iter().find(|t| t.0 == oid).map(|t| t.1))
            .unwrap_or("unknown")
    }

    /// Decode one non-NULL binary value.
    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        match self {
            Codec::Bool => numeric::decode_bool(py, buf),
            Codec::Int2 => numeric::decode_int2(py, buf),
            Codec::Int4 => numeric::decode_int4(py, buf),
            Codec::Int8 | Codec::PgLsn => numeric::decode_int8(py, buf),
            Codec::Uint4(_) => numeric::decode_uint4(py, buf),
            Codec::Uint8(_) => numeric::decode_uint8(py, buf),
            Codec::Float4 => numeric::decode_float4(py, buf),
            Codec::Float8 => numeric::decode_float8(py, buf),
            Codec::Numeric => numeric::decode_numeric(py, buf),
            Codec::Text(_) | Codec::Json => text::decode_text(py, buf),
            Codec::Char | Codec::Bytea => text::decode_bytea(py, buf),
            Codec::Uuid => uuid::decode_uuid(py, buf),
            Codec::Date => datetime::decode_date(py, buf),
            Codec::Time => datetime::decode_time(py, buf),
            Codec::TimeTz => datetime::decode_timetz(py, buf),
            Codec::Timestamp => datetime::decode_timestamp(py, buf),
            Codec::TimestampTz => datetime::decode_timestamptz(py, buf),
            Codec::Interval => datetime::decode_interval(py, buf),
            Codec::Jsonb => text::decode_versioned(py, buf, "jsonb"),
            Codec::Jsonpath => text::decode_versioned(py, buf, "jsonpath"),
            Codec::JsonObjects(oid) => json::decode_json_objects(py, buf, *oid == oids::JSONB),
            Codec::Void => Ok(py.None()),
            Codec::Inet => network::decode_inet(py, buf, false),
            Codec::Cidr => network::decode_inet(py, buf, true),
            Codec::Tid => numeric::decode_tid(py, buf),
            Codec::Array(a) => a.decode(py, buf),
            Codec::TextArray(_) => text_array::decode_text_array(py, buf),
            Codec::TextFormat(_) => text::decode_text(py, buf),
            Codec::Point => geometry::decode_point(py, buf),
            Codec::Line => geometry::decode_line(py, buf),
            Codec::Lseg => geometry::decode_lseg(py, buf),
            Codec::Box => geometry::decode_box(py, buf),
            Codec::Path => geometry::decode_path(py, buf),
            Codec::Polygon => geometry::decode_polygon(py, buf),
            Codec::Circle => geometry::decode_circle(py, buf),
            Codec::Bits(_) => bits::decode_bits(py, buf),
            Codec::Snapshot(_) => snapshot::decode_snapshot(py, buf),
            Codec::Record => composite::decode_record(py, buf),
            Codec::Composite(c) => c.decode(py, buf),
            Codec::Range(r) => r.decode(py, buf),
            Codec::Multirange(m) => m.decode(py, buf),
            Codec::Hstore(_) => hstore::decode_hstore(py, buf),
            Codec::User(u) => u.decode(py, buf),
        }
    }

    /// Encode one non-None value, appending its binary form to `out`.
    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        match self {
            Codec::Bool => numeric::encode_bool(value, out),
            Codec::Int2 => numeric::encode_int2(value, out),
            Codec::Int4 => numeric::encode_int4(value, out),
            Codec::Int8 | Codec::PgLsn => numeric::encode_int8(value, out),
            Codec::Uint4(_) => numeric::encode_uint4(value, out),
            Codec::Uint8(_) => numeric::encode_uint8(value, out),
            Codec::Float4 => numeric::encode_float4(value, out),
            Codec::Float8 => numeric::encode_float8(value, out),
            Codec::Numeric => numeric::encode_numeric(value, out),
            Codec::Text(_) | Codec::Json => text::encode_text(value, out),
            Codec::Char | Codec::Bytea => text::encode_bytea(value, out),
            Codec::Uuid => uuid::encode_uuid(value, out),
            Codec::Date => datetime::encode_date(value, out),
            Codec::Time => datetime::encode_time(value, out),
            Codec::TimeTz => datetime::encode_timetz(value, out),
            Codec::Timestamp => datetime::encode_timestamp(value, out),
            Codec::TimestampTz => datetime::encode_timestamptz(value, out),
            Codec::Interval => datetime::encode_interval(value, out),
            Codec::Jsonb | Codec::Jsonpath => text::encode_versioned(value, out),
            Codec::JsonObjects(oid) => json::encode_json_objects(value, out, *oid == oids::JSONB),
            Codec::Void => Ok(()),
            Codec::Inet => network::encode_inet(value, out, false),
            Codec::Cidr => network::encode_inet(value, out, true),
            Codec::Tid => numeric::encode_tid(value, out),
            Codec::Array(a) => a.encode(value, out),
            Codec::TextArray(_) => text_array::encode_text_array(value, out),
            Codec::TextFormat(_) => text::encode_text(value, out),
            Codec::Point => geometry::encode_point(value, out),
            Codec::Line => geometry::encode_line(value, out),
            Codec::Lseg | Codec::Box => geometry::encode_two_points(value, out),
            Codec::Path => geometry::encode_path(value, out),
            Codec::Polygon => geometry::encode_polygon(value, out),
            Codec::Circle => geometry::encode_circle(value, out),
            Codec::Bits(_) => bits::encode_bits(value, out),
            Codec::Snapshot(_) => snapshot::encode_snapshot(value, out),
            Codec::Record => composite::encode_record(value, out),
            Codec::Composite(c) => c.encode(value, out),
            Codec::Range(r) => r.encode(value, out),
            Codec::Multirange(m) => m.encode(value, out),
            Codec::Hstore(_) => hstore::encode_hstore(value, out),
            Codec::User(u) => u.encode(value, out),
        }
    }
}

/// The fixed-size big-endian field at the start of a value that must be exactly `N` bytes long.
fn fixed<const N: usize>(buf: &[u8], type_name: &str) -> PyResult<[u8; N]> {
    buf.try_into().map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "invalid {type_name} value: expected {N} bytes, got {}",
            buf.len()
        ))
    })
}

/// `type(value).__name__`, for error messages.
fn type_name_of(value: &Bound<'_, PyAny>) -> String {
    use pyo3::types::PyTypeMethods;
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// `_native._codec_decode(oid, data)`: decode one binary value with the builtin codec (tests, benchmarks).
#[pyfunction]
#[pyo3(name = "_codec_decode")]
fn py_codec_decode(py: Python<'_>, oid: u32, data: &[u8]) -> PyResult<Py<PyAny>> {
    codec_or_err(oid)?.decode(py, data)
}

/// `_native._codec_encode(oid, value)`: encode one value with the builtin codec (tests, benchmarks).
#[pyfunction]
#[pyo3(name = "_codec_encode")]
fn py_codec_encode<'py>(
    py: Python<'py>,
    oid: u32,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let mut out = Vec::new();
    codec_or_err(oid)?.encode(value, &mut out)?;
    Ok(pyo3::types::PyBytes::new(py, &out))
}

fn codec_or_err(oid: u32) -> PyResult<Codec> {
    Codec::for_oid(oid)
        .ok_or_else(|| pyo3::exceptions::PyLookupError::new_err(format!("no binary codec for OID {oid}")))
}

/// `_native._builtin_type_oids()`: (OID, name) of every builtin non-array type this driver
/// handles, with a binary codec or read as text as asyncpg does (`money`, `regtype`, ...); the
/// data behind the `asyncpg.protocol.protocol.BUILTIN_TYPE_OID_MAP` stand-in.
#[pyfunction]
#[pyo3(name = "_builtin_type_oids")]
fn py_builtin_type_oids() -> Vec<(u32, &'static str)> {
    oids::scalar_types()
        .chain(text_array::TEXT_SCALAR_TYPES.iter().copied())
        .collect()
}

/// Adds the codec test hooks (`_codec_decode`, `_codec_encode`) to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_builtin_type_oids, m)?)?;
    m.add_function(wrap_pyfunction!(py_codec_decode, m)?)?;
    m.add_function(wrap_pyfunction!(py_codec_encode, m)?)?;
    m.add_function(wrap_pyfunction!(json::py_json_decode, m)?)?;
    m.add_function(wrap_pyfunction!(json::py_json_encode, m)?)?;
    Ok(())
}
