//! Decoders on hand-built bytes (good and malformed), encoders through round trips and error messages.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::Codec;

/// `Python::attach` after starting the interpreter (`cargo test` embeds one; no auto-initialize).
fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    Python::initialize();
    Python::attach(f)
}

fn globals(py: Python<'_>) -> Bound<'_, PyDict> {
    let g = PyDict::new(py);
    for m in ["decimal", "uuid", "datetime", "ipaddress", "math"] {
        g.set_item(m, py.import(m).expect("import")).expect("set");
    }
    g
}

fn eval<'py>(py: Python<'py>, expr: &str) -> Bound<'py, PyAny> {
    let code = CString::new(expr).expect("no NUL");
    py.eval(&code, Some(&globals(py)), None)
        .unwrap_or_else(|e| panic!("eval {expr}: {e}"))
}

fn codec(oid: u32) -> Codec {
    Codec::for_oid(oid).unwrap_or_else(|| panic!("no codec for {oid}"))
}

/// `repr()` of the decoded value, or `Err(message)`.
fn decode_repr(oid: u32, buf: &[u8]) -> Result<String, String> {
    attach(|py| match codec(oid).decode(py, buf) {
        Ok(v) => Ok(v.bind(py).repr().expect("repr").to_string()),
        Err(e) => Err(e.to_string()),
    })
}

fn decodes_to(oid: u32, buf: &[u8], expected_repr: &str) {
    assert_eq!(
        decode_repr(oid, buf).as_deref(),
        Ok(expected_repr),
        "oid {oid} bytes {buf:?}"
    );
}

fn decode_fails(oid: u32, buf: &[u8]) -> String {
    match decode_repr(oid, buf) {
        Ok(v) => panic!("oid {oid}: {buf:?} decoded to {v}, expected an error"),
        Err(e) => e,
    }
}

fn encode(oid: u32, expr: &str) -> Result<Vec<u8>, String> {
    attach(|py| {
        let v = eval(py, expr);
        let mut out = Vec::new();
        codec(oid).encode(&v, &mut out).map(|()| out).map_err(|e| e.to_string())
    })
}

/// encode(expr) then decode gives a value equal to `expected` (a Python expression).
fn round_trips_to(oid: u32, expr: &str, expected: &str) {
    attach(|py| {
        let c = codec(oid);
        let mut out = Vec::new();
        c.encode(&eval(py, expr), &mut out)
            .unwrap_or_else(|e| panic!("encode {expr}: {e}"));
        let back = c.decode(py, &out).unwrap_or_else(|e| panic!("decode {expr}: {e}"));
        let want = eval(py, expected);
        let back = back.bind(py);
        let same = back.eq(&want).expect("eq") && back.get_type().is(want.get_type());
        assert!(same, "oid {oid}: {expr} came back as {back:?}, expected {want:?}");
    });
}

fn round_trips(oid: u32, expr: &str) {
    round_trips_to(oid, expr, expr);
}

#[test]
fn integers() {
    decodes_to(23, &[0, 0, 0, 42], "42");
    decodes_to(23, &[0xff, 0xff, 0xff, 0xfe], "-2");
    decodes_to(21, &[0x80, 0], "-32768");
    decodes_to(20, &i64::MIN.to_be_bytes(), "-9223372036854775808");
    decodes_to(26, &u32::MAX.to_be_bytes(), "4294967295");
    decodes_to(5069, &u64::MAX.to_be_bytes(), "18446744073709551615");
    decodes_to(3220, &u64::MAX.to_be_bytes(), "-1");
    decode_fails(23, &[0, 0, 1]);
    decode_fails(21, &[0, 0, 1]);
    decode_fails(20, &[]);
    for oid in [21, 23, 20, 26, 28, 29, 5069, 3220] {
        round_trips(oid, "7");
    }
    round_trips_to(23, "1.7", "1");
    round_trips_to(23, "decimal.Decimal('-2.5')", "-2");
    round_trips_to(23, "True", "1");
    round_trips(20, "-2**63");
}

#[test]
fn integer_encode_errors() {
    assert_eq!(
        encode(23, "2**31").unwrap_err(),
        "OverflowError: value out of int32 range"
    );
    assert_eq!(
        encode(21, "-2**15-1").unwrap_err(),
        "OverflowError: value out of int16 range"
    );
    assert_eq!(
        encode(20, "2**63").unwrap_err(),
        "OverflowError: value out of int64 range"
    );
    assert_eq!(
        encode(26, "-1").unwrap_err(),
        "OverflowError: value out of uint32 range"
    );
    assert_eq!(
        encode(23, "1.5e20").unwrap_err(),
        "OverflowError: value out of int32 range"
    );
    assert_eq!(
        encode(23, "'x'").unwrap_err(),
        "TypeError: 'str' object cannot be interpreted as an integer"
    );
    assert_eq!(
        encode(23, "None").unwrap_err(),
        "TypeError: 'NoneType' object cannot be interpreted as an integer"
    );
}

#[test]
fn booleans() {
    decodes_to(16, &[1], "True");
    decodes_to(16, &[0], "False");
    decode_fails(16, &[]);
    decode_fails(16, &[1, 0]);
    round_trips(16, "True");
    assert_eq!(
        encode(16, "1").unwrap_err(),
        "TypeError: a boolean is required (got type int)"
    );
}

#[test]
fn floats() {
    decodes_to(701, &1.5f64.to_be_bytes(), "1.5");
    decodes_to(701, &f64::NAN.to_be_bytes(), "nan");
    decodes_to(701, &f64::NEG_INFINITY.to_be_bytes(), "-inf");
    decodes_to(700, &1.1f32.to_be_bytes(), "1.100000023841858");
    decodes_to(700, &f32::INFINITY.to_be_bytes(), "inf");
    decode_fails(700, &[0; 8]);
    decode_fails(701, &[0; 4]);
    round_trips(701, "1e300");
    round_trips(701, "float('-inf')");
    round_trips_to(701, "3", "3.0");
    round_trips_to(700, "0.5", "0.5");
    round_trips_to(700, "float('inf')", "float('inf')");
    assert_eq!(
        encode(700, "1e39").unwrap_err(),
        "OverflowError: value out of float32 range"
    );
    assert_eq!(
        encode(701, "'x'").unwrap_err(),
        "TypeError: must be real number, not str"
    );
}

/// numeric wire bytes: ndigits, weight, sign, dscale, digits.
fn numeric(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u16::try_from(digits.len()).expect("few").to_be_bytes());
    b.extend_from_slice(&weight.to_be_bytes());
    b.extend_from_slice(&sign.to_be_bytes());
    b.extend_from_slice(&dscale.to_be_bytes());
    for d in digits {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b
}

#[test]
fn numeric_decodes_like_asyncpg() {
    decodes_to(1700, &numeric(0, 0, 4, &[123, 4500]), "Decimal('123.4500')");
    decodes_to(1700, &numeric(-1, 0x4000, 4, &[1]), "Decimal('-0.0001')");
    decodes_to(1700, &numeric(0, 0, 0, &[]), "Decimal('0')");
    decodes_to(1700, &numeric(0, 0, 3, &[]), "Decimal('0.000')");
    decodes_to(1700, &numeric(5, 0, 0, &[1]), "Decimal('1E+20')");
    decodes_to(1700, &numeric(1, 0, 0, &[1]), "Decimal('1E+4')");
    decodes_to(1700, &numeric(0, 0, 0, &[1500]), "Decimal('1500')");
    decodes_to(1700, &numeric(1, 0, 2, &[1]), "Decimal('10000.00')");
    decodes_to(1700, &numeric(-5, 0, 20, &[1]), "Decimal('1E-20')");
    decodes_to(1700, &numeric(1, 0, 1, &[1, 2345, 6000]), "Decimal('12345.6')");
    decodes_to(1700, &numeric(0, 0xC000, 0, &[]), "Decimal('NaN')");
    decodes_to(1700, &numeric(0, 0xD000, 0, &[]), "Decimal('Infinity')");
    decodes_to(1700, &numeric(0, 0xF000, 0, &[]), "Decimal('-Infinity')");
}

#[test]
fn numeric_rejects_malformed() {
    decode_fails(1700, &[0, 1, 0, 0]);
    let mut short = numeric(0, 0, 0, &[1, 2]);
    short.pop();
    decode_fails(1700, &short);
    decode_fails(1700, &numeric(0, 0x1234, 0, &[1]));
    decode_fails(1700, &numeric(0, 0, 0, &[10000]));
}

#[test]
fn numeric_encodes() {
    assert_eq!(
        encode(1700, "decimal.Decimal('123.4500')").unwrap(),
        numeric(0, 0, 4, &[123, 4500])
    );
    assert_eq!(
        encode(1700, "decimal.Decimal('-0.0001')").unwrap(),
        numeric(-1, 0x4000, 4, &[1])
    );
    assert_eq!(encode(1700, "10**30").unwrap(), numeric(7, 0, 0, &[100]));
    assert_eq!(
        encode(1700, "decimal.Decimal('1E+5')").unwrap(),
        numeric(1, 0, 0, &[10])
    );
    assert_eq!(encode(1700, "decimal.Decimal('0.00')").unwrap(), numeric(0, 0, 2, &[]));
    assert_eq!(
        encode(1700, "decimal.Decimal('sNaN')").unwrap(),
        numeric(0, 0xC000, 0, &[])
    );
    assert_eq!(
        encode(1700, "decimal.Decimal('-Infinity')").unwrap(),
        numeric(0, 0xF000, 0, &[])
    );
    assert_eq!(encode(1700, "'1.50'").unwrap(), numeric(0, 0, 2, &[1, 5000]));
    for v in [
        "decimal.Decimal('3.14159265358979323846264338327950288')",
        "decimal.Decimal('-98765432109876543210.0123456789')",
        "decimal.Decimal('0.1000')",
        "decimal.Decimal('1E-20')",
        "decimal.Decimal('12345678')",
    ] {
        round_trips(1700, v);
    }
    round_trips_to(1700, "0.1", "decimal.Decimal(0.1)");
    decodes_to(1700, &encode(1700, "decimal.Decimal('NaN')").unwrap(), "Decimal('NaN')");
    assert!(encode(1700, "'x'").unwrap_err().contains("ConversionSyntax"));
    assert_eq!(
        encode(1700, "decimal.Decimal('1E-20000')").unwrap_err(),
        "ValueError: cannot encode Decimal value into numeric: exponent is too small"
    );
}

#[test]
fn text_family() {
    decodes_to(25, "héllo".as_bytes(), "'héllo'");
    decodes_to(1043, b"", "''");
    decodes_to(114, b"{\"a\": 1}", "'{\"a\": 1}'");
    assert!(decode_fails(25, &[0xff, 0xfe]).starts_with("UnicodeDecodeError"));
    round_trips(19, "'name'");
    assert_eq!(encode(25, "b'x'").unwrap_err(), "TypeError: expected str, got bytes");
    assert_eq!(encode(114, "{}").unwrap_err(), "TypeError: expected str, got dict");
}

#[test]
fn jsonb_and_jsonpath_carry_a_version_byte() {
    decodes_to(3802, b"\x01{}", "'{}'");
    decodes_to(4072, b"\x01$.a", "'$.a'");
    decode_fails(3802, b"\x02{}");
    decode_fails(3802, b"");
    assert_eq!(encode(3802, "'[1]'").unwrap(), b"\x01[1]");
    assert_eq!(encode(3802, "1").unwrap_err(), "TypeError: expected str, got int");
}

#[test]
fn bytea_and_char() {
    decodes_to(17, b"\x00ab", "b'\\x00ab'");
    decodes_to(18, b"a", "b'a'");
    round_trips(17, "b'\\x00\\xff'");
    round_trips_to(17, "bytearray(b'ab')", "b'ab'");
    round_trips_to(17, "memoryview(b'abc')[1:]", "b'bc'");
    assert_eq!(
        encode(17, "'x'").unwrap_err(),
        "TypeError: a bytes-like object is required, not 'str'"
    );
    assert_eq!(
        encode(18, "'a'").unwrap_err(),
        "TypeError: a bytes-like object is required, not 'str'"
    );
}

#[test]
fn void_decodes_to_none_and_encodes_nothing() {
    decodes_to(2278, b"", "None");
    assert_eq!(encode(2278, "object()").unwrap(), b"");
}

#[test]
fn uuids() {
    let raw = 0x1234_5678_1234_5678_1234_5678_1234_5678u128.to_be_bytes();
    decodes_to(2950, &raw, "UUID('12345678-1234-5678-1234-567812345678')");
    attach(|py| {
        let v = codec(2950).decode(py, &raw).expect("decode");
        let v = v.bind(py);
        let want = eval(py, "uuid.UUID('12345678-1234-5678-1234-567812345678')");
        assert!(v.get_type().is(want.get_type()));
        assert!(v.eq(&want).expect("eq"));
        assert_eq!(v.hash().expect("hash"), want.hash().expect("hash"));
        assert_eq!(
            v.getattr("is_safe").expect("is_safe").repr().expect("repr").to_string(),
            "<SafeUUID.unknown: None>"
        );
    });
    decode_fails(2950, &raw[..15]);
    round_trips(2950, "uuid.UUID('6ba7b810-9dad-11d1-80b4-00c04fd430c8')");
    round_trips_to(
        2950,
        "'12345678123456781234567812345678'",
        "uuid.UUID(int=0x12345678123456781234567812345678)",
    );
    assert_eq!(
        encode(2950, "'x'").unwrap_err(),
        "ValueError: invalid UUID 'x': length must be between 32..36 characters, got 1"
    );
    assert!(encode(2950, "'g2345678123456781234567812345678'").is_err());
    assert_eq!(
        encode(2950, "1").unwrap_err(),
        "AttributeError: 'int' object has no attribute 'bytes'"
    );
}

#[test]
fn dates() {
    decodes_to(1082, &0i32.to_be_bytes(), "datetime.date(2000, 1, 1)");
    decodes_to(1082, &(-1i32).to_be_bytes(), "datetime.date(1999, 12, 31)");
    decodes_to(1082, &i32::MAX.to_be_bytes(), "datetime.date(9999, 12, 31)");
    decodes_to(1082, &i32::MIN.to_be_bytes(), "datetime.date(1, 1, 1)");
    assert_eq!(
        decode_fails(1082, &2_921_940i32.to_be_bytes()),
        "ValueError: year 10000 is out of range"
    );
    decode_fails(1082, &[0, 0]);
    assert_eq!(encode(1082, "datetime.date.max").unwrap(), i32::MAX.to_be_bytes());
    assert_eq!(encode(1082, "datetime.date.min").unwrap(), i32::MIN.to_be_bytes());
    round_trips(1082, "datetime.date(1970, 2, 28)");
    round_trips_to(1082, "datetime.datetime(2020, 1, 1, 5)", "datetime.date(2020, 1, 1)");
    assert_eq!(
        encode(1082, "'x'").unwrap_err(),
        "AttributeError: 'str' object has no attribute 'toordinal'"
    );
}

#[test]
fn times() {
    decodes_to(1083, &3_723_000_004i64.to_be_bytes(), "datetime.time(1, 2, 3, 4)");
    assert_eq!(
        decode_fails(1083, &86_400_000_000i64.to_be_bytes()),
        "ValueError: hour must be in 0..23"
    );
    decode_fails(1083, &(-1i64).to_be_bytes());
    decode_fails(1083, &[0; 4]);
    let mut tz = 43_201_500_000i64.to_be_bytes().to_vec();
    tz.extend_from_slice(&(-19_800i32).to_be_bytes());
    decodes_to(
        1266,
        &tz,
        "datetime.time(12, 0, 1, 500000, tzinfo=datetime.timezone(datetime.timedelta(seconds=19800)))",
    );
    decode_fails(1266, &tz[..8]);
    round_trips(1083, "datetime.time(23, 59, 59, 999999)");
    round_trips_to(
        1083,
        "datetime.time(1, 2, tzinfo=datetime.timezone.utc)",
        "datetime.time(1, 2)",
    );
    round_trips(
        1266,
        "datetime.time(1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=-3)))",
    );
    assert_eq!(
        encode(1083, "'x'").unwrap_err(),
        "AttributeError: 'str' object has no attribute 'hour'"
    );
    assert_eq!(
        encode(1266, "datetime.time(1, 2)").unwrap_err(),
        "AttributeError: 'NoneType' object has no attribute 'utcoffset'"
    );
}

#[test]
fn timestamps() {
    decodes_to(1114, &0i64.to_be_bytes(), "datetime.datetime(2000, 1, 1, 0, 0)");
    decodes_to(
        1114,
        &(-1i64).to_be_bytes(),
        "datetime.datetime(1999, 12, 31, 23, 59, 59, 999999)",
    );
    decodes_to(
        1184,
        &1i64.to_be_bytes(),
        "datetime.datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=datetime.timezone.utc)",
    );
    decodes_to(
        1114,
        &i64::MAX.to_be_bytes(),
        "datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)",
    );
    decodes_to(1184, &i64::MIN.to_be_bytes(), "datetime.datetime(1, 1, 1, 0, 0)");
    assert_eq!(
        decode_fails(1114, &(2_921_940i64 * 86_400_000_000).to_be_bytes()),
        "OverflowError: date value out of range"
    );
    decode_fails(1184, &(i64::MIN + 1).to_be_bytes());
    decode_fails(1114, &[0; 7]);
    round_trips(1114, "datetime.datetime(1900, 3, 4, 5, 6, 7, 8)");
    round_trips(1114, "datetime.datetime.max");
    round_trips_to(1114, "datetime.date(2020, 1, 2)", "datetime.datetime(2020, 1, 2)");
    round_trips(
        1184,
        "datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)",
    );
    round_trips_to(
        1184,
        "datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))",
        "datetime.datetime(2020, 1, 2, 1, 4, 5, tzinfo=datetime.timezone.utc)",
    );
    round_trips_to(
        1184,
        "datetime.datetime(2020, 1, 2, 3, 4, 5)",
        "datetime.datetime(2020, 1, 2, 3, 4, 5).astimezone()",
    );
    assert_eq!(encode(1184, "datetime.datetime.min").unwrap(), i64::MIN.to_be_bytes());
    assert_eq!(
        encode(1114, "datetime.datetime(2020, 1, 2, tzinfo=datetime.timezone.utc)").unwrap_err(),
        "TypeError: can't subtract offset-naive and offset-aware datetimes"
    );
    assert_eq!(
        encode(1184, "'x'").unwrap_err(),
        "TypeError: expected a datetime.date or datetime.datetime instance, got 'str'"
    );
}

fn interval(us: i64, days: i32, months: i32) -> Vec<u8> {
    let mut b = us.to_be_bytes().to_vec();
    b.extend_from_slice(&days.to_be_bytes());
    b.extend_from_slice(&months.to_be_bytes());
    b
}

#[test]
fn intervals() {
    decodes_to(
        1186,
        &interval(10_800_000_000, 2, 25),
        "datetime.timedelta(days=762, seconds=10800)",
    );
    decodes_to(1186, &interval(0, 0, -25), "datetime.timedelta(days=-760)");
    decodes_to(
        1186,
        &interval(-1, 0, 0),
        "datetime.timedelta(days=-1, seconds=86399, microseconds=999999)",
    );
    decode_fails(1186, &interval(0, 0, 0)[..12]);
    decode_fails(1186, &interval(i64::MAX, i32::MAX, i32::MAX));
    round_trips(1186, "datetime.timedelta(days=-1, microseconds=5)");
    round_trips(1186, "datetime.timedelta(days=999999, hours=5)");
    assert_eq!(
        encode(1186, "'x'").unwrap_err(),
        "AttributeError: 'str' object has no attribute 'days'"
    );
}

#[test]
fn network_addresses() {
    decodes_to(869, &[2, 32, 0, 4, 1, 2, 3, 4], "IPv4Address('1.2.3.4')");
    decodes_to(869, &[2, 24, 0, 4, 1, 2, 3, 4], "IPv4Interface('1.2.3.4/24')");
    decodes_to(650, &[2, 8, 1, 4, 10, 0, 0, 0], "IPv4Network('10.0.0.0/8')");
    let mut v6 = vec![3, 128, 0, 16];
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    decodes_to(869, &v6, "IPv6Address('::1')");
    decode_fails(869, &[2, 32, 0, 4, 1, 2, 3]);
    decode_fails(869, &[2, 33, 0, 4, 1, 2, 3, 4]);
    decode_fails(869, &[9, 32, 0, 4, 1, 2, 3, 4]);
    decode_fails(650, &[2, 8, 1, 4, 10, 0, 0, 1]);
    round_trips_to(869, "'10.0.0.1/8'", "ipaddress.IPv4Interface('10.0.0.1/8')");
    round_trips(869, "ipaddress.IPv6Address('fe80::1')");
    round_trips_to(
        869,
        "ipaddress.ip_network('10.0.0.0/8')",
        "ipaddress.IPv4Interface('10.0.0.0/8')",
    );
    round_trips_to(
        650,
        "ipaddress.ip_address('10.0.0.1')",
        "ipaddress.IPv4Network('10.0.0.1/32')",
    );
    round_trips(650, "ipaddress.IPv6Network('2001:db8::/32')");
    assert_eq!(
        encode(650, "'10.0.0.1/8'").unwrap_err(),
        "ValueError: 10.0.0.1/8 has host bits set"
    );
    assert_eq!(
        encode(869, "'x'").unwrap_err(),
        "ValueError: 'x' does not appear to be an IPv4 or IPv6 interface"
    );
}

#[test]
fn tids() {
    decodes_to(27, &[0, 0, 0, 1, 0, 2], "(1, 2)");
    decode_fails(27, &[0, 0, 0, 1, 0]);
    round_trips(27, "(5, 6)");
    assert_eq!(
        encode(27, "(1, 2, 3)").unwrap_err(),
        "ValueError: invalid number of elements in tid tuple, expecting 2"
    );
    assert_eq!(
        encode(27, "(2**32, 1)").unwrap_err(),
        "OverflowError: tuple id block value out of uint32 range"
    );
}

/// An array value: dims as (length, lower bound), then elements (None = NULL).
fn array(elem_oid: u32, dims: &[(i32, i32)], elems: &[Option<&[u8]>]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&i32::try_from(dims.len()).expect("few").to_be_bytes());
    b.extend_from_slice(&i32::from(elems.iter().any(Option::is_none)).to_be_bytes());
    b.extend_from_slice(&elem_oid.to_be_bytes());
    for (len, lb) in dims {
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&lb.to_be_bytes());
    }
    for e in elems {
        match e {
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                b.extend_from_slice(&i32::try_from(v.len()).expect("short").to_be_bytes());
                b.extend_from_slice(v);
            }
        }
    }
    b
}

#[test]
fn arrays_decode() {
    let one = 1i32.to_be_bytes();
    let two = 2i32.to_be_bytes();
    decodes_to(1007, &array(23, &[(2, 1)], &[Some(&one), None]), "[1, None]");
    decodes_to(1007, &array(23, &[(2, 0)], &[Some(&one), Some(&two)]), "[1, 2]");
    decodes_to(
        1007,
        &array(23, &[(2, 1), (2, 1)], &[Some(&one), Some(&two), None, Some(&one)]),
        "[[1, 2], [None, 1]]",
    );
    decodes_to(1007, &array(23, &[], &[]), "[]");
    decodes_to(1009, &array(25, &[(2, 1)], &[Some(b"a"), Some(b"")]), "['a', '']");
    decodes_to(22, &array(21, &[(2, 0)], &[Some(&[0, 1]), Some(&[0, 2])]), "[1, 2]");
    decodes_to(1007, &array(23, &[(1, 1); 6], &[Some(&one)]), "[[[[[[1]]]]]]");
}

#[test]
fn arrays_reject_malformed() {
    let one = 1i32.to_be_bytes();
    let good = array(23, &[(2, 1)], &[Some(&one), Some(&one)]);
    decode_fails(1007, &good[..good.len() - 1]);
    decode_fails(1007, &[good.as_slice(), &[0]].concat());
    decode_fails(1007, &good[..6]);
    decode_fails(1007, &array(23, &[(1, 1); 7], &[Some(&one)]));
    decode_fails(1007, &array(23, &[(-1, 1)], &[]));
    decode_fails(1007, &array(23, &[(i32::MAX, 1), (i32::MAX, 1)], &[Some(&one)]));
    decode_fails(1007, &array(23, &[(3, 1)], &[Some(&one), Some(&one)]));
    // an element of the wrong size for int4
    decode_fails(1007, &array(23, &[(1, 1)], &[Some(&[0, 1])]));
    // element length running past the end
    let mut bad = array(23, &[(1, 1)], &[Some(&one)]);
    let n = bad.len();
    bad[n - 8..n - 4].copy_from_slice(&100i32.to_be_bytes());
    decode_fails(1007, &bad);
    let mut neg = array(23, &[(1, 1)], &[None]);
    let n = neg.len();
    neg[n - 4..].copy_from_slice(&(-2i32).to_be_bytes());
    decode_fails(1007, &neg);
    decode_fails(1007, &[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 23]);
}

#[test]
fn arrays_encode() {
    round_trips(1007, "[1, None, 3]");
    round_trips(1007, "[[1, 2], [3, None]]");
    round_trips(1007, "[[[[[[1]]]]]]");
    round_trips(1007, "[]");
    round_trips_to(1007, "[[]]", "[]");
    round_trips_to(1007, "(1, 2)", "[1, 2]");
    round_trips_to(1007, "range(3)", "[0, 1, 2]");
    round_trips_to(1007, "{5}", "[5]");
    round_trips(1009, "['a', None, '']");
    round_trips(1231, "[decimal.Decimal('1.50'), None]");
    round_trips(2951, "[uuid.UUID(int=5)]");
    round_trips(1001, "[b'x', b'']");
    round_trips(1010, "[(1, 2), (3, 4)]");
    let header = encode(1007, "[1, None]").unwrap();
    assert_eq!(&header[4..8], &1i32.to_be_bytes(), "has-nulls flag");
    assert_eq!(&header[8..12], &23u32.to_be_bytes(), "element oid");
    let msg = |oid, expr| encode(oid, expr).unwrap_err();
    assert_eq!(
        msg(1007, "[1, 'x']"),
        "TypeError: invalid array element at index 1: 'str' object cannot be interpreted as an integer"
    );
    assert_eq!(
        msg(1007, "[[1, 2], [3, 'x']]"),
        "TypeError: invalid array element: 'str' object cannot be interpreted as an integer"
    );
    assert_eq!(msg(1007, "[[1, 2], [3]]"), "ValueError: non-homogeneous array");
    assert_eq!(msg(1007, "[[1, 2], 3]"), "ValueError: non-homogeneous array");
    assert_eq!(msg(1007, "[[1, [2]]]"), "ValueError: non-homogeneous array");
    assert_eq!(
        msg(1007, "5"),
        "TypeError: a sized iterable container expected (got type 'int')"
    );
    assert_eq!(
        msg(1007, "'ab'"),
        "TypeError: a sized iterable container expected (got type 'str')"
    );
    assert_eq!(
        msg(1007, "{1: 2}"),
        "TypeError: a sized iterable container expected (got type 'dict')"
    );
    assert_eq!(
        msg(1007, "iter([1])"),
        "TypeError: a sized iterable container expected (got type 'list_iterator')"
    );
    assert_eq!(
        msg(1007, "((1, 2), (3, 4))"),
        "TypeError: invalid array element at index 0: 'tuple' object cannot be interpreted as an integer"
    );
    assert_eq!(
        msg(1007, "[[[[[[[1]]]]]]]"),
        "ValueError: number of array dimensions (7) exceed the maximum expected (6)"
    );
    assert_eq!(
        msg(1009, "['a', 1]"),
        "TypeError: invalid array element at index 1: expected str, got int"
    );
}

#[test]
fn codec_table() {
    assert!(Codec::for_oid(790).is_none(), "money is read as text");
    assert!(Codec::for_oid(0).is_none());
    assert!(Codec::for_oid(791).is_none(), "money[] is read as text");
    assert_eq!(codec(1007).type_name(), "_int4");
    assert_eq!(codec(1009).oid(), 1009);
    assert_eq!(codec(22).type_name(), "int2vector");
    assert_eq!(codec(26).type_name(), "oid");
    assert_eq!(codec(1043).type_name(), "varchar");
    assert_eq!(Codec::text().type_name(), "text");
    for oid in 0..10_000 {
        if let Some(c) = Codec::for_oid(oid) {
            assert_eq!(c.oid(), oid);
            assert!(oid == 705 || c.type_name() != "unknown", "oid {oid}");
        }
    }
}

fn text_decode(oid: u32, text: &str) -> Result<String, String> {
    attach(|py| match Codec::for_text_oid(oid).decode(py, text.as_bytes()) {
        Ok(v) => Ok(v.bind(py).repr().expect("repr").to_string()),
        Err(e) => Err(e.to_string()),
    })
}

#[test]
fn text_arrays() {
    assert_eq!(Codec::for_text_oid(791).type_name(), "_money");
    assert_eq!(Codec::for_text_oid(12345).type_name(), "text");
    assert_eq!(text_decode(791, "{$1.50,NULL}").as_deref(), Ok("['$1.50', None]"));
    assert_eq!(text_decode(2211, "{}").as_deref(), Ok("[]"));
    assert_eq!(
        text_decode(2211, r#"{{"a b","x\"y"},{null, c }}"#).as_deref(),
        Ok(r#"[['a b', 'x"y'], [None, 'c']]"#)
    );
    assert_eq!(text_decode(2211, r#"{"NULL"}"#).as_deref(), Ok("['NULL']"));
    assert_eq!(text_decode(1040, "[0:1]={a,b}").as_deref(), Ok("['a', 'b']"));
    for bad in [
        "",
        "{",
        "{a",
        "{a,}",
        "{\"a}",
        "{a}x",
        "a",
        "{{{{{{{{a}}}}}}}}",
        "[0:1]",
    ] {
        assert!(text_decode(791, bad).is_err(), "{bad:?} should fail");
    }
    attach(|py| {
        let mut out = Vec::new();
        Codec::for_text_oid(791)
            .encode(&eval(py, r#"['$1', None, 'a"b\\']"#), &mut out)
            .unwrap();
        assert_eq!(out, br#"{"$1",NULL,"a\"b\\"}"#);
        let mut out = Vec::new();
        Codec::for_text_oid(791).encode(&eval(py, "'{x}'"), &mut out).unwrap();
        assert_eq!(out, b"{x}");
        assert!(Codec::for_text_oid(791)
            .encode(&eval(py, "[1]"), &mut Vec::new())
            .is_err());
    });
}
