//! Geometry, bit strings, snapshots, ranges, composites, records, hstore, user codecs and arrays of
//! text-format elements: decoders on hand-built bytes (malformed ones must fail, never panic) and
//! encoders through round trips.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::ffi::CString;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};

use super::{oids, ArrayCodec, Codec, UserFormat};

/// The interpreter, with `asyncpg_rs.types` loaded from the source tree (without the native
/// module, which this test binary already is).
fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    static TYPES: std::sync::Once = std::sync::Once::new();
    Python::initialize();
    // Threads waiting here do not hold the GIL, so the module is never seen half-executed.
    TYPES.call_once(|| {
        Python::attach(|py| {
            let modules = py.import("sys").unwrap().getattr("modules").unwrap();
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/python/asyncpg_rs/types.py");
            let source = CString::new(std::fs::read_to_string(path).unwrap()).unwrap();
            let package = PyModule::new(py, "asyncpg_rs").unwrap();
            package.setattr("__path__", Vec::<String>::new()).unwrap();
            modules.set_item("asyncpg_rs", &package).unwrap();
            let types = PyModule::from_code(py, &source, c"types.py", c"asyncpg_rs.types").unwrap();
            package.setattr("types", types).unwrap();
        });
    });
    Python::attach(f)
}

fn eval<'py>(py: Python<'py>, expr: &str) -> Bound<'py, PyAny> {
    let g = PyDict::new(py);
    g.set_item("T", py.import("asyncpg_rs.types").unwrap()).unwrap();
    g.set_item("decimal", py.import("decimal").unwrap()).unwrap();
    let code = CString::new(expr).unwrap();
    py.eval(&code, Some(&g), None)
        .unwrap_or_else(|e| panic!("eval {expr}: {e}"))
}

fn decode_with(codec: &Codec, buf: &[u8]) -> Result<String, String> {
    attach(|py| match codec.decode(py, buf) {
        Ok(v) => Ok(v.bind(py).repr().unwrap().to_string()),
        Err(e) => Err(e.to_string()),
    })
}

fn encode_with(codec: &Codec, expr: &str) -> Result<Vec<u8>, String> {
    attach(|py| {
        let mut out = Vec::new();
        codec.encode(&eval(py, expr), &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    })
}

fn builtin(oid: u32) -> Codec {
    Codec::for_oid(oid).unwrap()
}

/// Encode `expr`, decode the bytes, compare reprs.
fn round_trips(codec: &Codec, expr: &str, expected: &str) {
    let bytes = encode_with(codec, expr).unwrap_or_else(|e| panic!("encode {expr}: {e}"));
    assert_eq!(decode_with(codec, &bytes).as_deref(), Ok(expected), "{expr}");
}

fn fails(codec: &Codec, buf: &[u8]) {
    if let Ok(v) = decode_with(codec, buf) {
        panic!("{buf:?} decoded to {v}, expected an error");
    }
}

fn f8(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

#[test]
fn geometry_decodes() {
    assert_eq!(
        decode_with(&builtin(oids::POINT), &f8(&[1.0, 2.0])).unwrap(),
        "asyncpg_rs.types.Point((1.0, 2.0))"
    );
    assert_eq!(
        decode_with(&builtin(oids::LINE), &f8(&[1.0, 2.0, 3.0])).unwrap(),
        "(1.0, 2.0, 3.0)"
    );
    assert_eq!(
        decode_with(&builtin(oids::CIRCLE), &f8(&[1.0, 2.0, 3.0])).unwrap(),
        "((1.0, 2.0), 3.0)"
    );
    let mut path = vec![1u8];
    path.extend_from_slice(&2i32.to_be_bytes());
    path.extend(f8(&[1.0, 2.0, 3.0, 4.0]));
    attach(|py| {
        let p = builtin(oids::PATH).decode(py, &path).unwrap();
        let p = p.bind(py);
        assert!(p.getattr("is_closed").unwrap().is_truthy().unwrap());
        assert_eq!(p.len().unwrap(), 2);
    });
}

#[test]
fn geometry_rejects_malformed() {
    for oid in [oids::POINT, oids::LINE, oids::LSEG, oids::BOX, oids::CIRCLE] {
        fails(&builtin(oid), &[]);
        fails(&builtin(oid), &f8(&[1.0]));
        fails(&builtin(oid), &f8(&[1.0, 2.0, 3.0, 4.0, 5.0]));
    }
    // A count far beyond the data, a negative count, a truncated point.
    let mut huge = vec![0u8];
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    fails(&builtin(oids::PATH), &huge);
    fails(&builtin(oids::POLYGON), &(-1i32).to_be_bytes());
    let mut short = 1i32.to_be_bytes().to_vec();
    short.extend(f8(&[1.0]));
    fails(&builtin(oids::POLYGON), &short);
    fails(&builtin(oids::PATH), &[]);
}

#[test]
fn geometry_round_trips() {
    round_trips(&builtin(oids::POINT), "(1, 2.5)", "asyncpg_rs.types.Point((1.0, 2.5))");
    round_trips(
        &builtin(oids::BOX),
        "T.Box((3, 4), (1, 2))",
        "asyncpg_rs.types.Box((asyncpg_rs.types.Point((3.0, 4.0)), asyncpg_rs.types.Point((1.0, 2.0))))",
    );
    round_trips(&builtin(oids::LINE), "[1, 2, 3]", "(1.0, 2.0, 3.0)");
    round_trips(&builtin(oids::CIRCLE), "((1, 2), 3)", "((1.0, 2.0), 3.0)");
    // A tuple is a closed path, a list an open one.
    assert_eq!(encode_with(&builtin(oids::PATH), "((1, 2),)").unwrap()[0], 1);
    assert_eq!(encode_with(&builtin(oids::PATH), "[(1, 2)]").unwrap()[0], 0);
    assert_eq!(
        encode_with(&builtin(oids::PATH), "T.Path((1, 2), is_closed=True)").unwrap()[0],
        1
    );
    let err = encode_with(&builtin(oids::POINT), "5").unwrap_err();
    assert!(err.contains("not subscriptable"), "{err}");
    let err = encode_with(&builtin(oids::POINT), "'ab'").unwrap_err();
    assert!(err.contains("must be real number, not str"), "{err}");
}

#[test]
fn bit_strings() {
    let bits = builtin(oids::VARBIT);
    let mut buf = 3i32.to_be_bytes().to_vec();
    buf.push(0b1010_0000);
    assert_eq!(decode_with(&bits, &buf).unwrap(), "<BitString 101>");
    round_trips(&bits, "T.BitString('1010 1')", "<BitString 1010 1>");
    round_trips(&bits, "b'\\x05'", "<BitString 0000 0101>");
    fails(&bits, &[]);
    fails(&bits, &(-1i32).to_be_bytes());
    fails(&bits, &9i32.to_be_bytes()); // 9 bits need 2 bytes
    let mut extra = 1i32.to_be_bytes().to_vec();
    extra.extend_from_slice(&[0, 0]);
    fails(&bits, &extra);
    let err = encode_with(&bits, "'101'").unwrap_err();
    assert!(err.contains("bytes-like object is required"), "{err}");
}

#[test]
fn snapshots() {
    let snap = builtin(oids::PG_SNAPSHOT);
    round_trips(&snap, "(10, 20, [12, 15])", "(10, 20, (12, 15))");
    round_trips(&snap, "[10, 20, ()]", "(10, 20, ())");
    fails(&snap, &[]);
    let mut huge = i32::MAX.to_be_bytes().to_vec();
    huge.extend_from_slice(&[0; 16]);
    fails(&snap, &huge);
    let mut trailing = 0i32.to_be_bytes().to_vec();
    trailing.extend_from_slice(&[0; 17]);
    fails(&snap, &trailing);
    let err = encode_with(&snap, "'1:2:'").unwrap_err();
    assert!(err.contains("list or tuple expected (got type <class 'str'>)"), "{err}");
}

#[test]
fn ranges() {
    let r = builtin(oids::INT4RANGE);
    assert_eq!(decode_with(&r, &[0x01]).unwrap(), "<Range empty>");
    assert_eq!(decode_with(&r, &[0x18]).unwrap(), "<Range (, )>");
    round_trips(&r, "T.Range(1, 5)", "<Range [1, 5)>");
    round_trips(&r, "(1, 5)", "<Range [1, 5]>");
    round_trips(&r, "(None, 5)", "<Range (, 5]>");
    round_trips(&r, "(1,)", "<Range [1, )>");
    round_trips(&r, "()", "<Range empty>");
    round_trips(&r, "T.Range(empty=True)", "<Range empty>");
    round_trips(
        &builtin(oids::NUMRANGE),
        "T.Range(decimal.Decimal('1.5'), None)",
        "<Range [Decimal('1.5'), )>",
    );
    let err = encode_with(&r, "(1, 2, 3)").unwrap_err();
    assert!(err.contains("expected 0, 1 or 2 elements in range (got 3)"), "{err}");
    let err = encode_with(&r, "5").unwrap_err();
    assert!(
        err.contains("list, tuple or Range object expected (got type <class 'int'>)"),
        "{err}"
    );
    fails(&r, &[]);
    fails(&r, &[0x02]); // lower bound missing
    fails(&r, &[0x02, 0, 0, 0, 4, 0, 0]); // truncated bound
    fails(&r, &[0x01, 0]); // trailing data after empty
    fails(&r, &[0x12, 0, 0, 0, 2, 0, 0]); // int4 bound of 2 bytes
}

#[test]
fn multiranges() {
    let m = builtin(oids::INT4MULTIRANGE);
    round_trips(&m, "[T.Range(1, 5), (7, 9)]", "[<Range [1, 5)>, <Range [7, 9]>]");
    round_trips(&m, "()", "[]");
    assert!(encode_with(&m, "5")
        .unwrap_err()
        .contains("expected a sequence (got type 'int')"));
    fails(&m, &[]);
    fails(&m, &1i32.to_be_bytes());
    let mut null = 1i32.to_be_bytes().to_vec();
    null.extend_from_slice(&(-1i32).to_be_bytes());
    null.push(0);
    fails(&m, &null);
    fails(&m, &(-3i32).to_be_bytes());
}

fn record_bytes(fields: &[(u32, Option<&[u8]>)]) -> Vec<u8> {
    let mut out = i32::try_from(fields.len()).unwrap().to_be_bytes().to_vec();
    for (oid, value) in fields {
        out.extend_from_slice(&oid.to_be_bytes());
        match value {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                out.extend_from_slice(&i32::try_from(v.len()).unwrap().to_be_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    out
}

fn composite_ab(py: Python<'_>) -> Codec {
    Codec::composite(
        py,
        90001,
        vec![
            ("a".into(), oids::INT4, Codec::Int4),
            ("b".into(), oids::TEXT, Codec::text()),
        ],
    )
    .unwrap()
    .unwrap()
    .with_type_name("public", "ab")
}

#[test]
fn composites() {
    let c = attach(composite_ab);
    let good = record_bytes(&[(oids::INT4, Some(&7i32.to_be_bytes())), (oids::TEXT, None)]);
    assert_eq!(decode_with(&c, &good).unwrap(), "<Record a=7 b=None>");
    round_trips(&c, "(1, 'x')", "<Record a=1 b='x'>");
    round_trips(&c, "{'b': 'y'}", "<Record a=None b='y'>");
    let err = encode_with(&c, "{'zz': 1}").unwrap_err();
    assert!(
        err.contains("'zz' is not a valid element of composite type ab"),
        "{err}"
    );
    assert!(encode_with(&c, "(1, 'x', 3)")
        .unwrap_err()
        .contains("tuple index out of range"));
    assert!(encode_with(&c, "5").unwrap_err().contains("has no len()"));
    // Malformed: wrong field count, wrong field type, truncated, trailing bytes, huge count.
    fails(&c, &record_bytes(&[(oids::INT4, None)]));
    fails(&c, &record_bytes(&[(oids::INT8, None), (oids::TEXT, None)]));
    fails(&c, &good[..good.len() - 2]);
    let mut trailing = good.clone();
    trailing.push(0);
    fails(&c, &trailing);
    fails(&c, &i32::MAX.to_be_bytes());
    fails(&c, &[]);
    let bad_int = record_bytes(&[(oids::INT4, Some(&[1, 2])), (oids::TEXT, None)]);
    fails(&c, &bad_int);
}

#[test]
fn anonymous_records() {
    let r = builtin(oids::RECORD);
    let buf = record_bytes(&[
        (oids::INT4, Some(&5i32.to_be_bytes())),
        (oids::TEXT, Some(b"hi")),
        (99999, None),
    ]);
    assert_eq!(decode_with(&r, &buf).unwrap(), "(5, 'hi', None)");
    fails(&r, &record_bytes(&[(99999, Some(b"x"))]));
    fails(&r, &buf[..buf.len() - 1]);
    fails(&r, &(-1i32).to_be_bytes());
    assert!(encode_with(&r, "(1, 2)").is_err());
    // Arrays of records come from for_oid too.
    assert!(Codec::for_oid(2287).is_some());
}

#[test]
fn hstore() {
    let h = Codec::builtin_by_name(90002, "pg_contrib.hstore").unwrap();
    round_trips(&h, "{'a': '1', 'b': None}", "{'a': '1', 'b': None}");
    round_trips(&h, "[('k', 'v')]", "{'k': 'v'}");
    assert!(encode_with(&h, "{None: 'a'}")
        .unwrap_err()
        .contains("null value not allowed in hstore key"));
    assert!(encode_with(&h, "{'a': 1}")
        .unwrap_err()
        .contains("expected str, got int"));
    assert!(encode_with(&h, "'x'")
        .unwrap_err()
        .contains("need more than 1 value to unpack"));
    fails(&h, &[]);
    fails(&h, &i32::MAX.to_be_bytes());
    let mut null_key = 1i32.to_be_bytes().to_vec();
    null_key.extend_from_slice(&(-1i32).to_be_bytes());
    null_key.extend_from_slice(&(-1i32).to_be_bytes());
    fails(&h, &null_key);
}

#[test]
fn builtin_by_name_keeps_the_aliased_oid() {
    assert!(matches!(
        Codec::builtin_by_name(90003, "text"),
        Some(Codec::Text(90003))
    ));
    assert!(matches!(Codec::builtin_by_name(90003, "int4"), Some(Codec::Int4)));
    assert_eq!(Codec::builtin_by_name(90003, "money").unwrap().format_code(), 0);
    assert!(Codec::builtin_by_name(90003, "nosuch").is_none());
    assert!(Codec::builtin_by_name(90003, "_int4").is_some());
}

fn user(py: Python<'_>, format: UserFormat, base: Option<Codec>, wrap: &str) -> PyResult<Codec> {
    let f = eval(py, wrap).unbind();
    Codec::user(py, 90004, "t", f.clone_ref(py), f, format, base)
}

#[test]
fn user_codecs() {
    attach(|py| {
        // Tuple layouts exchange the raw wire fields.
        let iv = user(py, UserFormat::Tuple, Some(Codec::Interval), "lambda x: x").unwrap();
        let mut buf = 3i64.to_be_bytes().to_vec();
        buf.extend_from_slice(&2i32.to_be_bytes());
        buf.extend_from_slice(&1i32.to_be_bytes());
        assert_eq!(
            iv.decode(py, &buf).unwrap().bind(py).repr().unwrap().to_string(),
            "(1, 2, 3)"
        );
        let mut out = Vec::new();
        iv.encode(&eval(py, "(1, 2, 3)"), &mut out).unwrap();
        assert_eq!(out, buf);
        assert!(iv.encode(&eval(py, "(1, 2)"), &mut Vec::new()).is_err());
        assert!(iv.decode(py, &buf[..15]).is_err());
        let tz = user(py, UserFormat::Tuple, Some(Codec::TimeTz), "lambda x: x").unwrap();
        assert!(tz.decode(py, &[0; 11]).is_err());
        // No tuple layout for int4; text codecs are text on the wire; binary ones take bytes.
        assert!(user(py, UserFormat::Tuple, Some(Codec::Int4), "lambda x: x").is_err());
        let text = user(py, UserFormat::Text, None, "lambda x: x").unwrap();
        assert_eq!(text.format_code(), 0);
        assert!(text.decode(py, &[0xff]).is_err());
        assert!(text
            .encode(&eval(py, "5"), &mut Vec::new())
            .unwrap_err()
            .to_string()
            .contains("expected str"));
        let binary = user(py, UserFormat::Binary, None, "lambda x: x").unwrap();
        assert_eq!(binary.format_code(), 1);
        assert!(binary.encode(&eval(py, "5"), &mut Vec::new()).is_err());
        // Exceptions from the callables propagate.
        let boom = user(py, UserFormat::Text, None, "lambda x: 1 / 0").unwrap();
        let err = boom.decode(py, b"x").unwrap_err();
        assert!(err.is_instance_of::<pyo3::exceptions::PyZeroDivisionError>(py));
    });
}

#[test]
fn arrays_of_text_format_elements_travel_as_array_text() {
    attach(|py| {
        let elem = user(
            py,
            UserFormat::Text,
            None,
            "lambda x: x.upper() if isinstance(x, str) else x",
        )
        .unwrap();
        let array = Codec::Array(Arc::new(ArrayCodec::new(90005, 90004, elem)));
        assert_eq!(array.format_code(), 0);
        let v = array.decode(py, br#"{a,"b c",NULL,{d}}"#).unwrap();
        assert_eq!(v.bind(py).repr().unwrap().to_string(), "['A', 'B C', None, ['D']]");
        let mut out = Vec::new();
        array.encode(&eval(py, r#"['x', None, 'q"\\']"#), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"X",NULL,"Q\"\\"}"#);
        assert!(array.decode(py, b"{a").is_err());
        assert!(array.decode(py, b"").is_err());
    });
}

#[test]
fn composites_with_text_format_fields_are_refused() {
    attach(|py| {
        let text = user(py, UserFormat::Text, None, "lambda x: x").unwrap();
        let c = Codec::composite(py, 90006, vec![("a".into(), 90004, text)])
            .unwrap()
            .unwrap();
        assert!(c.decode(py, &record_bytes(&[(90004, None)])).is_err());
        assert!(c.encode(&eval(py, "('x',)"), &mut Vec::new()).is_err());
    });
}
