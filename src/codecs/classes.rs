//! Python classes and constants the codecs use, imported once per interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

macro_rules! cached_class {
    ($(#[$doc:meta])* $fn_name:ident, $module:literal, $attr:literal) => {
        $(#[$doc])*
        pub fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
            static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            CELL.import(py, $module, $attr)
        }
    };
}

cached_class!(
    /// `asyncpg_rs.exceptions.UnsupportedClientFeatureError`
    unsupported_client_feature_error,
    "asyncpg_rs.exceptions",
    "UnsupportedClientFeatureError"
);
cached_class!(
    /// `decimal.Decimal`
    decimal,
    "decimal",
    "Decimal"
);
cached_class!(
    /// `uuid.UUID`
    uuid,
    "uuid",
    "UUID"
);
cached_class!(
    /// `collections.abc.Mapping`
    mapping,
    "collections.abc",
    "Mapping"
);
cached_class!(
    /// `ipaddress.IPv4Address`
    ipv4_address,
    "ipaddress",
    "IPv4Address"
);
cached_class!(
    /// `ipaddress.IPv6Address`
    ipv6_address,
    "ipaddress",
    "IPv6Address"
);
cached_class!(
    /// `ipaddress.IPv4Interface`
    ipv4_interface,
    "ipaddress",
    "IPv4Interface"
);
cached_class!(
    /// `ipaddress.IPv6Interface`
    ipv6_interface,
    "ipaddress",
    "IPv6Interface"
);
cached_class!(
    /// `ipaddress.IPv4Network`
    ipv4_network,
    "ipaddress",
    "IPv4Network"
);
cached_class!(
    /// `ipaddress.IPv6Network`
    ipv6_network,
    "ipaddress",
    "IPv6Network"
);

cached_class!(
    /// `asyncpg_rs.types.Range`
    range,
    "asyncpg_rs.types",
    "Range"
);
cached_class!(
    /// `asyncpg_rs.types.BitString`
    bit_string,
    "asyncpg_rs.types",
    "BitString"
);
cached_class!(
    /// `asyncpg_rs.types.Point`
    point,
    "asyncpg_rs.types",
    "Point"
);
cached_class!(
    /// `asyncpg_rs.types.Box`
    box_,
    "asyncpg_rs.types",
    "Box"
);
cached_class!(
    /// `asyncpg_rs.types.Line`
    line,
    "asyncpg_rs.types",
    "Line"
);
cached_class!(
    /// `asyncpg_rs.types.LineSegment`
    line_segment,
    "asyncpg_rs.types",
    "LineSegment"
);
cached_class!(
    /// `asyncpg_rs.types.Path`
    path,
    "asyncpg_rs.types",
    "Path"
);
cached_class!(
    /// `asyncpg_rs.types.Polygon`
    polygon,
    "asyncpg_rs.types",
    "Polygon"
);
cached_class!(
    /// `asyncpg_rs.types.Circle`
    circle,
    "asyncpg_rs.types",
    "Circle"
);

/// A module-level object (not a class), imported once.
macro_rules! cached_object {
    ($(#[$doc:meta])* $fn_name:ident, $module:literal, $($attr:literal).+) => {
        $(#[$doc])*
        pub fn $fn_name(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.get_or_try_init(py, || {
                let obj = py.import($module)?.into_any();
                $(let obj = obj.getattr($attr)?;)+
                Ok::<_, PyErr>(obj.unbind())
            })
            .map(|o| o.bind(py))
        }
    };
}

cached_object!(
    /// `uuid.SafeUUID.unknown`, what `UUID(int=...)` sets as `is_safe`.
    safe_uuid_unknown,
    "uuid",
    "SafeUUID"."unknown"
);
cached_object!(
    /// `datetime.date.max`
    date_max,
    "datetime",
    "date"."max"
);
cached_object!(
    /// `datetime.date.min`
    date_min,
    "datetime",
    "date"."min"
);
cached_object!(
    /// `datetime.datetime.max`
    datetime_max,
    "datetime",
    "datetime"."max"
);
cached_object!(
    /// `datetime.datetime.min`
    datetime_min,
    "datetime",
    "datetime"."min"
);
cached_object!(
    /// `ipaddress.ip_interface`
    ip_interface,
    "ipaddress",
    "ip_interface"
);
cached_object!(
    /// `ipaddress.ip_network`
    ip_network,
    "ipaddress",
    "ip_network"
);
