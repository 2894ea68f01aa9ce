//! PostgreSQL binary format <-> Python objects. Knows nothing of connections. The codecs are
//! declared as one table below (`codec_table!`, see declare.rs): one row per codec.
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

#[macro_use]
mod declare;

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
pub use strcache::release_cached_strings;
pub use user::UserCodec;

codec_table! {
    (py, buf, value, out);
    unit {
        /// bool
        Bool = BOOL: numeric::decode_bool(py, buf), numeric::encode_bool(value, out);
        /// int2
        Int2 = INT2: numeric::decode_int2(py, buf), numeric::encode_int2(value, out);
        /// int4
        Int4 = INT4: numeric::decode_int4(py, buf), numeric::encode_int4(value, out);
        /// int8
        Int8 = INT8: numeric::decode_int8(py, buf), numeric::encode_int8(value, out);
        /// pg_lsn, read and written as a signed int8 as asyncpg does.
        PgLsn = PG_LSN: numeric::decode_int8(py, buf), numeric::encode_int8(value, out);
        /// float4
        Float4 = FLOAT4: numeric::decode_float4(py, buf), numeric::encode_float4(value, out);
        /// float8
        Float8 = FLOAT8: numeric::decode_float8(py, buf), numeric::encode_float8(value, out);
        /// numeric <-> decimal.Decimal
        Numeric = NUMERIC: numeric::decode_numeric(py, buf), numeric::encode_numeric(value, out);
        /// `"char"` (OID 18): one byte, as `bytes`.
        Char = CHAR: text::decode_bytea(py, buf), text::encode_bytea(value, out);
        /// bytea
        Bytea = BYTEA: text::decode_bytea(py, buf), text::encode_bytea(value, out);
        /// uuid <-> uuid.UUID
        Uuid = UUID: uuid::decode_uuid(py, buf), uuid::encode_uuid(value, out);
        /// date
        Date = DATE: datetime::decode_date(py, buf), datetime::encode_date(value, out);
        /// time (naive)
        Time = TIME: datetime::decode_time(py, buf), datetime::encode_time(value, out);
        /// timetz (aware time)
        TimeTz = TIMETZ: datetime::decode_timetz(py, buf), datetime::encode_timetz(value, out);
        /// timestamp (naive datetime)
        Timestamp = TIMESTAMP: datetime::decode_timestamp(py, buf), datetime::encode_timestamp(value, out);
        /// timestamptz (datetime in UTC)
        TimestampTz = TIMESTAMPTZ: datetime::decode_timestamptz(py, buf), datetime::encode_timestamptz(value, out);
        /// interval <-> timedelta
        Interval = INTERVAL: datetime::decode_interval(py, buf), datetime::encode_interval(value, out);
        /// json (str)
        Json = JSON: text::decode_text(py, buf), text::encode_text(value, out);
        /// jsonb (str; version byte on the wire)
        Jsonb = JSONB: text::decode_versioned(py, buf, "jsonb"), text::encode_versioned(value, out);
        /// jsonpath (str; version byte on the wire)
        Jsonpath = JSONPATH: text::decode_versioned(py, buf, "jsonpath"), text::encode_versioned(value, out);
        /// void (None)
        Void = VOID: Ok(py.None()), Ok(());
        /// inet <-> ipaddress Address / Interface
        Inet = INET: network::decode_inet(py, buf, false), network::encode_inet(value, out, false);
        /// cidr <-> ipaddress Network
        Cidr = CIDR: network::decode_inet(py, buf, true), network::encode_inet(value, out, true);
        /// tid <-> (block, offset)
        Tid = TID: numeric::decode_tid(py, buf), numeric::encode_tid(value, out);
        /// point <-> `types.Point`
        Point = POINT: geometry::decode_point(py, buf), geometry::encode_point(value, out);
        /// line <-> `types.Line`
        Line = LINE: geometry::decode_line(py, buf), geometry::encode_line(value, out);
        /// lseg <-> `types.LineSegment`
        Lseg = LSEG: geometry::decode_lseg(py, buf), geometry::encode_two_points(value, out);
        /// box <-> `types.Box`
        Box = BOX: geometry::decode_box(py, buf), geometry::encode_two_points(value, out);
        /// path <-> `types.Path`
        Path = PATH: geometry::decode_path(py, buf), geometry::encode_path(value, out);
        /// polygon <-> `types.Polygon`
        Polygon = POLYGON: geometry::decode_polygon(py, buf), geometry::encode_polygon(value, out);
        /// circle <-> `types.Circle`
        Circle = CIRCLE: geometry::decode_circle(py, buf), geometry::encode_circle(value, out);
        /// The anonymous `record` type -> tuple (fields by their own OIDs; never sent).
        Record = RECORD: composite::decode_record(py, buf), composite::encode_record(value, out);
    }
    data {
        /// Unsigned 32-bit types: oid, xid, cid (the field is the type OID).
        Uint4(u32),
        /// Unsigned 64-bit types: xid8 (the field is the type OID).
        Uint8(u32),
        /// The text family: text, varchar, bpchar, name, xml, unknown, cstring (the field is the type
        /// OID); also the text-format fallback.
        Text(u32),
        /// json or jsonb as Python objects (the `json_objects` option; the field is the type OID).
        JsonObjects(u32),
        /// Arrays (and int2vector / oidvector) over an element codec.
        Array(Arc<ArrayCodec>),
        /// Text-format arrays of types asyncpg reads as text (money[], regtype[], ...): lists of str.
        /// Made by `Codec::for_text_oid`, never by `for_oid` (these columns must be sent as text).
        TextArray(u32),
        /// A type exchanged as `str` in text format (`set_builtin_type_codec` to money, macaddr, ...).
        TextFormat(u32),
        /// bit and varbit <-> `types.BitString` (the field is the type OID)
        Bits(u32),
        /// txid_snapshot and pg_snapshot <-> `(xmin, xmax, (xip, ...))` (the field is the type OID)
        Snapshot(u32),
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
    rows {
        Codec::Uint4(oid) => *oid; numeric::decode_uint4(py, buf), numeric::encode_uint4(value, out);
        Codec::Uint8(oid) => *oid; numeric::decode_uint8(py, buf), numeric::encode_uint8(value, out);
        Codec::Text(oid) => *oid; text::decode_text(py, buf), text::encode_text(value, out);
        Codec::JsonObjects(oid) => *oid;
            json::decode_json_objects(py, buf, *oid == oids::JSONB),
            json::encode_json_objects(value, out, *oid == oids::JSONB);
        Codec::Array(a) => a.oid; a.decode(py, buf), a.encode(value, out);
        Codec::TextArray(oid) => *oid;
            text_array::decode_text_array(py, buf),
            text_array::encode_text_array(value, out);
        Codec::TextFormat(oid) => *oid; text::decode_text(py, buf), text::encode_text(value, out);
        Codec::Bits(oid) => *oid; bits::decode_bits(py, buf), bits::encode_bits(value, out);
        Codec::Snapshot(oid) => *oid; snapshot::decode_snapshot(py, buf), snapshot::encode_snapshot(value, out);
        Codec::Composite(c) => c.oid; c.decode(py, buf), c.encode(value, out);
        Codec::Range(r) => r.oid; r.decode(py, buf), r.encode(value, out);
        Codec::Multirange(m) => m.oid; m.decode(py, buf), m.encode(value, out);
        Codec::Hstore(oid) => *oid; hstore::decode_hstore(py, buf), hstore::encode_hstore(value, out);
        Codec::User(u) => u.oid; u.decode(py, buf), u.encode(value, out);
    }
}

impl Codec {
    /// The builtin codec for `oid`, or `None` for a type we do not know.
    pub fn for_oid(oid: u32) -> Option<Codec> {
        use oids::*;
        if let Some(codec) = Codec::unit_for_oid(oid) {
            return Some(codec);
        }
        Some(match oid {
            OID | XID | CID => Codec::Uint4(oid),
            XID8 => Codec::Uint8(oid),
            TEXT | VARCHAR | BPCHAR | NAME | XML | UNKNOWN | CSTRING => Codec::Text(oid),
            BIT | VARBIT => Codec::Bits(oid),
            TXID_SNAPSHOT | PG_SNAPSHOT => Codec::Snapshot(oid),
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
