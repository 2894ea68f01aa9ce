//! Builtin type OIDs (PostgreSQL's `pg_type.dat`) for the types that have a binary codec here.

pub const BOOL: u32 = 16;
pub const BYTEA: u32 = 17;
pub const CHAR: u32 = 18;
pub const NAME: u32 = 19;
pub const INT8: u32 = 20;
pub const INT2: u32 = 21;
pub const INT2VECTOR: u32 = 22;
pub const INT4: u32 = 23;
pub const TEXT: u32 = 25;
pub const OID: u32 = 26;
pub const TID: u32 = 27;
pub const XID: u32 = 28;
pub const CID: u32 = 29;
pub const OIDVECTOR: u32 = 30;
pub const JSON: u32 = 114;
pub const XML: u32 = 142;
pub const FLOAT4: u32 = 700;
pub const FLOAT8: u32 = 701;
pub const UNKNOWN: u32 = 705;
pub const CIDR: u32 = 650;
pub const INET: u32 = 869;
pub const BPCHAR: u32 = 1042;
pub const VARCHAR: u32 = 1043;
pub const DATE: u32 = 1082;
pub const TIME: u32 = 1083;
pub const TIMESTAMP: u32 = 1114;
pub const TIMESTAMPTZ: u32 = 1184;
pub const INTERVAL: u32 = 1186;
pub const TIMETZ: u32 = 1266;
pub const NUMERIC: u32 = 1700;
pub const CSTRING: u32 = 2275;
pub const VOID: u32 = 2278;
pub const UUID: u32 = 2950;
pub const PG_LSN: u32 = 3220;
pub const JSONB: u32 = 3802;
pub const JSONPATH: u32 = 4072;
pub const XID8: u32 = 5069;
pub const POINT: u32 = 600;
pub const LSEG: u32 = 601;
pub const PATH: u32 = 602;
pub const BOX: u32 = 603;
pub const POLYGON: u32 = 604;
pub const LINE: u32 = 628;
pub const CIRCLE: u32 = 718;
pub const BIT: u32 = 1560;
pub const VARBIT: u32 = 1562;
pub const RECORD: u32 = 2249;
pub const TXID_SNAPSHOT: u32 = 2970;
pub const PG_SNAPSHOT: u32 = 5038;
pub const INT4RANGE: u32 = 3904;
pub const NUMRANGE: u32 = 3906;
pub const TSRANGE: u32 = 3908;
pub const TSTZRANGE: u32 = 3910;
pub const DATERANGE: u32 = 3912;
pub const INT8RANGE: u32 = 3926;
pub const INT4MULTIRANGE: u32 = 4451;
pub const NUMMULTIRANGE: u32 = 4532;
pub const TSMULTIRANGE: u32 = 4533;
pub const TSTZMULTIRANGE: u32 = 4534;
pub const DATEMULTIRANGE: u32 = 4535;
pub const INT8MULTIRANGE: u32 = 4536;

/// Builtin range types: (range OID, subtype OID, multirange OID).
pub const RANGES: &[(u32, u32, u32)] = &[
    (INT4RANGE, INT4, INT4MULTIRANGE),
    (NUMRANGE, NUMERIC, NUMMULTIRANGE),
    (TSRANGE, TIMESTAMP, TSMULTIRANGE),
    (TSTZRANGE, TIMESTAMPTZ, TSTZMULTIRANGE),
    (DATERANGE, DATE, DATEMULTIRANGE),
    (INT8RANGE, INT8, INT8MULTIRANGE),
];

/// (type OID, name, array type OID) for every scalar with a codec.
const SCALARS: &[(u32, &str, u32)] = &[
    (BOOL, "bool", 1000),
    (BYTEA, "bytea", 1001),
    (CHAR, "char", 1002),
    (NAME, "name", 1003),
    (INT8, "int8", 1016),
    (INT2, "int2", 1005),
    (INT4, "int4", 1007),
    (TEXT, "text", 1009),
    (OID, "oid", 1028),
    (TID, "tid", 1010),
    (XID, "xid", 1011),
    (CID, "cid", 1012),
    (JSON, "json", 199),
    (XML, "xml", 143),
    (FLOAT4, "float4", 1021),
    (FLOAT8, "float8", 1022),
    (UNKNOWN, "unknown", 0),
    (CIDR, "cidr", 651),
    (INET, "inet", 1041),
    (BPCHAR, "bpchar", 1014),
    (VARCHAR, "varchar", 1015),
    (DATE, "date", 1182),
    (TIME, "time", 1183),
    (TIMESTAMP, "timestamp", 1115),
    (TIMESTAMPTZ, "timestamptz", 1185),
    (INTERVAL, "interval", 1187),
    (TIMETZ, "timetz", 1270),
    (NUMERIC, "numeric", 1231),
    (CSTRING, "cstring", 1263),
    (VOID, "void", 0),
    (UUID, "uuid", 2951),
    (PG_LSN, "pg_lsn", 3221),
    (JSONB, "jsonb", 3807),
    (JSONPATH, "jsonpath", 4073),
    (XID8, "xid8", 271),
    (POINT, "point", 1017),
    (LSEG, "lseg", 1018),
    (PATH, "path", 1019),
    (BOX, "box", 1020),
    (POLYGON, "polygon", 1027),
    (LINE, "line", 629),
    (CIRCLE, "circle", 719),
    (BIT, "bit", 1561),
    (VARBIT, "varbit", 1563),
    (RECORD, "record", 2287),
    (TXID_SNAPSHOT, "txid_snapshot", 2949),
    (PG_SNAPSHOT, "pg_snapshot", 5039),
    (INT4RANGE, "int4range", 3905),
    (NUMRANGE, "numrange", 3907),
    (TSRANGE, "tsrange", 3909),
    (TSTZRANGE, "tstzrange", 3911),
    (DATERANGE, "daterange", 3913),
    (INT8RANGE, "int8range", 3927),
    (INT4MULTIRANGE, "int4multirange", 6150),
    (NUMMULTIRANGE, "nummultirange", 6151),
    (TSMULTIRANGE, "tsmultirange", 6152),
    (TSTZMULTIRANGE, "tstzmultirange", 6153),
    (DATEMULTIRANGE, "datemultirange", 6155),
    (INT8MULTIRANGE, "int8multirange", 6157),
];

/// Types whose binary form is an array although they are not `_elem` arrays.
const VECTORS: &[(u32, &str, u32)] = &[(INT2VECTOR, "int2vector", INT2), (OIDVECTOR, "oidvector", OID)];

/// The element type of a builtin array type.
pub fn array_element(oid: u32) -> Option<u32> {
    if oid == 0 {
        return None;
    }
    if let Some(v) = VECTORS.iter().find(|v| v.0 == oid) {
        return Some(v.2);
    }
    SCALARS.iter().find(|s| s.2 == oid).map(|s| s.0)
}

/// PostgreSQL's name of a builtin type with a codec (`_int4` for arrays).
pub fn type_name(oid: u32) -> Option<&'static str> {
    if let Some(s) = SCALARS.iter().find(|s| s.0 == oid) {
        return Some(s.1);
    }
    if let Some(v) = VECTORS.iter().find(|v| v.0 == oid) {
        return Some(v.1);
    }
    ARRAY_NAMES.iter().find(|a| a.0 == oid).map(|a| a.1)
}

/// Every builtin non-array type with a binary codec: (OID, PostgreSQL's name).
pub fn scalar_types() -> impl Iterator<Item = (u32, &'static str)> {
    SCALARS
        .iter()
        .map(|s| (s.0, s.1))
        .chain(VECTORS.iter().map(|v| (v.0, v.1)))
}

/// The OID of a builtin type with a codec, by PostgreSQL's name (`int4`, `_text`, `int2vector`).
pub fn oid_by_name(name: &str) -> Option<u32> {
    SCALARS
        .iter()
        .map(|s| (s.0, s.1))
        .chain(VECTORS.iter().map(|v| (v.0, v.1)))
        .chain(ARRAY_NAMES.iter().copied())
        .find(|(_, n)| *n == name)
        .map(|(oid, _)| oid)
}

/// Array type names (static strings, so `type_name` needs no allocation).
const ARRAY_NAMES: &[(u32, &str)] = &[
    (1000, "_bool"),
    (1001, "_bytea"),
    (1002, "_char"),
    (1003, "_name"),
    (1016, "_int8"),
    (1005, "_int2"),
    (1007, "_int4"),
    (1009, "_text"),
    (1028, "_oid"),
    (1010, "_tid"),
    (1011, "_xid"),
    (1012, "_cid"),
    (199, "_json"),
    (143, "_xml"),
    (1021, "_float4"),
    (1022, "_float8"),
    (651, "_cidr"),
    (1041, "_inet"),
    (1014, "_bpchar"),
    (1015, "_varchar"),
    (1182, "_date"),
    (1183, "_time"),
    (1115, "_timestamp"),
    (1185, "_timestamptz"),
    (1187, "_interval"),
    (1270, "_timetz"),
    (1231, "_numeric"),
    (1263, "_cstring"),
    (2951, "_uuid"),
    (3221, "_pg_lsn"),
    (3807, "_jsonb"),
    (4073, "_jsonpath"),
    (271, "_xid8"),
    (1017, "_point"),
    (1018, "_lseg"),
    (1019, "_path"),
    (1020, "_box"),
    (1027, "_polygon"),
    (629, "_line"),
    (719, "_circle"),
    (1561, "_bit"),
    (1563, "_varbit"),
    (2287, "_record"),
    (2949, "_txid_snapshot"),
    (5039, "_pg_snapshot"),
    (3905, "_int4range"),
    (3907, "_numrange"),
    (3909, "_tsrange"),
    (3911, "_tstzrange"),
    (3913, "_daterange"),
    (3927, "_int8range"),
    (6150, "_int4multirange"),
    (6151, "_nummultirange"),
    (6152, "_tsmultirange"),
    (6153, "_tstzmultirange"),
    (6155, "_datemultirange"),
    (6157, "_int8multirange"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_array_has_a_name() {
        for s in SCALARS.iter().filter(|s| s.2 != 0) {
            let name = type_name(s.2).expect("array name");
            assert_eq!(name, format!("_{}", s.1));
            assert_eq!(array_element(s.2), Some(s.0));
        }
        assert_eq!(ARRAY_NAMES.len(), SCALARS.iter().filter(|s| s.2 != 0).count());
    }
}
