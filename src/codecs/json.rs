//! json / jsonb as Python objects (the `json_objects=True` connection option): a JSON parser that
//! builds dicts, lists, str, int, float, bool and None straight from the column bytes, and a
//! serializer for the way in. Off by default: json/jsonb are `str` as in asyncpg (text.rs).
//!
//! Values are those of `json.loads`: floats correctly rounded (`str::parse::<f64>` rounds as
//! CPython's `float()`), integers of any size as `int`, duplicate keys last-wins at the first
//! key's position. Anything the fast parser does not handle itself (lone surrogate escapes,
//! `NaN`/`Infinity`, invalid text, nesting deeper than `MAX_DEPTH`) is handed to `json.loads`, so the
//! result or the error is Python's own.

use std::cell::RefCell;
use std::fmt::Write as _;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::type_name_of;

/// Version byte of jsonb's binary format.
const JSONB_VERSION: u8 = 1;

/// Deeper documents go through `json.loads` (which has its own recursion limit).
const MAX_DEPTH: usize = 512;

/// Object keys up to this length are looked up in the per-thread key cache.
const CACHED_KEY_LEN: usize = 32;
/// String values up to this length go through the key cache too.
// NOTE: paired jsonb_1k_objects against asyncpg + json.loads went from 1.55x to 1.83x (median of 21
// rounds, 2026-12-02) with short values cached as keys are.
const CACHED_VALUE_LEN: usize = 16;
/// Slots of the key cache (a power of two).
const KEY_CACHE_SLOTS: usize = 1024;

/// One slot of the key cache: the key's bytes and its `str`.
type KeySlot = Option<(Box<[u8]>, Py<PyString>)>;

thread_local! {
    /// Recently seen object keys -> their `str`, so that the keys repeated across the documents of
    /// a result are made (and hashed) once. Direct-mapped by a hash of the bytes; per thread, so no
    /// lock and nothing shared between threads.
    static KEY_CACHE: RefCell<Vec<KeySlot>> = const { RefCell::new(Vec::new()) };
}

/// FNV-1a over the key's bytes.
fn key_slot(bytes: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h as usize) & (KEY_CACHE_SLOTS - 1)
}

/// The `str` for an object key without escapes, from the cache when it is there.
fn cached_key<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    if bytes.len() > CACHED_KEY_LEN {
        return py_str(py, bytes);
    }
    let slot = key_slot(bytes);
    KEY_CACHE.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return py_str(py, bytes);
        };
        if cache.is_empty() {
            cache.resize_with(KEY_CACHE_SLOTS, || None);
        }
        if let Some((k, s)) = &cache[slot] {
            if **k == *bytes {
                return Ok(s.bind(py).clone());
            }
        }
        let s = py_str(py, bytes)?;
        // Hash now, once: every dict that gets this key reuses the cached hash.
        let _ = s.hash();
        cache[slot] = Some((bytes.into(), s.clone().unbind()));
        Ok(s)
    })
}

/// Why the fast parser stopped.
enum Stop {
    /// Not handled here: let `json.loads` decide.
    Fallback,
    /// A Python error while building objects.
    Py(PyErr),
}

impl From<PyErr> for Stop {
    fn from(e: PyErr) -> Self {
        Stop::Py(e)
    }
}

type Parsed<'py> = Result<Bound<'py, PyAny>, Stop>;

/// Decode a json (`versioned = false`) or jsonb (`versioned = true`) binary value into objects.
pub fn decode_json_objects(py: Python<'_>, buf: &[u8], versioned: bool) -> PyResult<Py<PyAny>> {
    let text = if versioned {
        match buf.split_first() {
            Some((&JSONB_VERSION, rest)) => rest,
            Some((v, _)) => return Err(PyValueError::new_err(format!("unexpected jsonb format: {v}"))),
            None => return Err(PyValueError::new_err("invalid jsonb value: empty")),
        }
    } else {
        buf
    };
    let mut parser = Parser { py, s: text, pos: 0 };
    let parsed = parser.skip_ws().and_then(|()| parser.value(0)).and_then(|v| {
        parser.skip_ws()?;
        if parser.pos == text.len() {
            Ok(v)
        } else {
            Err(Stop::Fallback)
        }
    });
    match parsed {
        Ok(v) => Ok(v.unbind()),
        Err(Stop::Py(e)) => Err(e),
        Err(Stop::Fallback) => json_loads(py, text),
    }
}

/// `json.loads(text)`, for what the fast parser leaves to Python.
fn json_loads(py: Python<'_>, text: &[u8]) -> PyResult<Py<PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let loads = LOADS.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("json")?.getattr("loads")?.unbind())
    })?;
    let s = PyString::from_bytes(py, text)?;
    Ok(loads.bind(py).call1((s,))?.unbind())
}

struct Parser<'a, 'py> {
    py: Python<'py>,
    s: &'a [u8],
    pos: usize,
}

impl<'py> Parser<'_, 'py> {
    fn skip_ws(&mut self) -> Result<(), Stop> {
        while let Some(&c) = self.s.get(self.pos) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        if self.s.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Stop::Fallback)
        }
    }

    fn value(&mut self, depth: usize) -> Parsed<'py> {
        let py = self.py;
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(self.cached_string(CACHED_VALUE_LEN)?.into_any()),
            Some(b't') => {
                self.literal(b"true")?;
                Ok(PyBool::new(py, true).to_owned().into_any())
            }
            Some(b'f') => {
                self.literal(b"false")?;
                Ok(PyBool::new(py, false).to_owned().into_any())
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Ok(py.None().into_bound(py))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Stop::Fallback),
        }
    }

    fn object(&mut self, depth: usize) -> Parsed<'py> {
        if depth > MAX_DEPTH {
            return Err(Stop::Fallback);
        }
        self.pos += 1; // '{'
        let dict = PyDict::new(self.py);
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(dict.into_any());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Stop::Fallback);
            }
            let key = self.cached_string(CACHED_KEY_LEN)?;
            self.skip_ws()?;
            if self.peek() != Some(b':') {
                return Err(Stop::Fallback);
            }
            self.pos += 1;
            self.skip_ws()?;
            let value = self.value(depth)?;
            // Duplicate keys: the last value wins at the first key's position, as json.loads.
            dict.set_item(key, value)?;
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws()?;
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(dict.into_any());
                }
                _ => return Err(Stop::Fallback),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Parsed<'py> {
        if depth > MAX_DEPTH {
            return Err(Stop::Fallback);
        }
        self.pos += 1; // '['
        let mut items: Vec<Bound<'py, PyAny>> = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(PyList::empty(self.py).into_any());
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws()?;
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(PyList::new(self.py, items)?.into_any());
                }
                _ => return Err(Stop::Fallback),
            }
        }
    }

    /// A string of at most `cached_len` bytes without escapes, from the key cache (object keys,
    /// and short values such as enum-like labels, repeat across documents); others via `string`.
    fn cached_string(&mut self, cached_len: usize) -> Result<Bound<'py, PyString>, Stop> {
        let start = self.pos + 1;
        let rest = self.s.get(start..).ok_or(Stop::Fallback)?;
        for (n, &c) in rest.iter().enumerate().take(cached_len + 1) {
            match c {
                b'"' => {
                    self.pos = start + n + 1;
                    return Ok(cached_key(self.py, &rest[..n])?);
                }
                b'\\' => break,
                c if c < 0x20 => return Err(Stop::Fallback),
                _ => {}
            }
        }
        self.string()
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Result<Bound<'py, PyString>, Stop> {
        let start = self.pos + 1;
        let mut i = start;
        // Fast path: no escapes.
        loop {
            match self.s.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(py_str(self.py, &self.s[start..i])?);
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(Stop::Fallback), // json.loads is strict
                Some(_) => i += 1,
                None => return Err(Stop::Fallback),
            }
        }
        let mut out: Vec<u8> = self.s[start..i].to_vec();
        loop {
            match self.s.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(py_str(self.py, &out)?);
                }
                Some(b'\\') => {
                    let esc = self.s.get(i + 1).copied().ok_or(Stop::Fallback)?;
                    i += 2;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4(i)?;
                            i += 4;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                // A surrogate pair; a lone one makes a str only Python can build.
                                if self.s.get(i..i + 2) != Some(b"\\u") {
                                    return Err(Stop::Fallback);
                                }
                                let lo = self.hex4(i + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(Stop::Fallback);
                                }
                                i += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or(Stop::Fallback)?
                        }
                        _ => return Err(Stop::Fallback),
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                Some(&c) if c < 0x20 => return Err(Stop::Fallback),
                Some(&c) => {
                    out.push(c);
                    i += 1;
                }
                None => return Err(Stop::Fallback),
            }
        }
    }

    fn hex4(&self, at: usize) -> Result<u32, Stop> {
        let digits = self.s.get(at..at + 4).ok_or(Stop::Fallback)?;
        let mut v = 0u32;
        for &d in digits {
            let n = char::from(d).to_digit(16).ok_or(Stop::Fallback)?;
            v = v * 16 + n;
        }
        Ok(v)
    }

    fn number(&mut self) -> Parsed<'py> {
        let start = self.pos;
        let s = self.s;
        let mut i = start;
        if s.get(i) == Some(&b'-') {
            i += 1;
        }
        match s.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(Stop::Fallback), // "-Infinity" and friends
        }
        let mut is_float = false;
        if s.get(i) == Some(&b'.') {
            is_float = true;
            i += 1;
            if !s.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(Stop::Fallback);
            }
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            is_float = true;
            i += 1;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !s.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(Stop::Fallback);
            }
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.pos = i;
        // The slice holds ASCII digits, signs, '.', 'e' only.
        let text = std::str::from_utf8(&s[start..i]).map_err(|_| Stop::Fallback)?;
        let py = self.py;
        if is_float {
            let v: f64 = text.parse().map_err(|_| Stop::Fallback)?;
            return Ok(PyFloat::new(py, v).into_any());
        }
        if text.len() <= 18 {
            let v: i64 = text.parse().map_err(|_| Stop::Fallback)?;
            return Ok(PyInt::new(py, v).into_any());
        }
        // Big integers: int(text), with CPython's own digit limit.
        let c = std::ffi::CString::new(text).map_err(|_| Stop::Fallback)?;
        // SAFETY: `c` is a NUL-terminated ASCII string alive for the call; PyLong_FromString returns
        // a new reference or NULL with an exception set.
        let ptr = unsafe { ffi::PyLong_FromString(c.as_ptr(), std::ptr::null_mut(), 10) };
        if ptr.is_null() {
            return Err(Stop::Py(PyErr::fetch(py)));
        }
        // SAFETY: non-NULL new reference.
        Ok(unsafe { Bound::from_owned_ptr(py, ptr) })
    }
}

/// A str from UTF-8 bytes (validated by CPython).
fn py_str<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    let len = isize::try_from(bytes.len()).map_err(|_| PyValueError::new_err("string too long"))?;
    // SAFETY: `bytes` is valid for `len` bytes; the call returns a new reference or NULL with an
    // exception set (invalid UTF-8).
    let ptr = unsafe { ffi::PyUnicode_FromStringAndSize(bytes.as_ptr().cast(), len) };
    if ptr.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: non-NULL new reference to a str.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr).cast_into_unchecked() })
}

/// Encode a Python object as json (`versioned = false`) or jsonb text, with `json.dumps`' rules for
/// what is accepted (dict, list, tuple, str, int, float, bool, None; dict keys str, int, float,
/// bool or None) and its spelling of numbers; the output is compact and UTF-8 (not ASCII-escaped).
pub fn encode_json_objects(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, versioned: bool) -> PyResult<()> {
    if versioned {
        out.push(JSONB_VERSION);
    }
    let mut text = String::new();
    write_value(value, &mut text, 0)?;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn write_value(value: &Bound<'_, PyAny>, out: &mut String, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(
            "Circular reference detected (or JSON nested too deeply)",
        ));
    }
    if value.is_none() {
        out.push_str("null");
    } else if let Ok(s) = value.cast::<PyString>() {
        write_str(s.to_str()?, out);
    } else if let Ok(b) = value.cast::<PyBool>() {
        out.push_str(if b.is_true() { "true" } else { "false" });
    } else if let Ok(i) = value.cast::<PyInt>() {
        write_int(i.as_any(), out)?;
    } else if let Ok(f) = value.cast::<PyFloat>() {
        write_float(f.value(), value, out)?;
    } else if let Ok(d) = value.cast::<PyDict>() {
        out.push('{');
        for (n, (k, v)) in d.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            write_key(&k, out)?;
            out.push(':');
            write_value(&v, out, depth + 1)?;
        }
        out.push('}');
    } else if let Ok(l) = value.cast::<PyList>() {
        out.push('[');
        for (n, item) in l.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            write_value(&item, out, depth + 1)?;
        }
        out.push(']');
    } else if let Ok(t) = value.cast::<PyTuple>() {
        out.push('[');
        for (n, item) in t.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            write_value(&item, out, depth + 1)?;
        }
        out.push(']');
    } else {
        return Err(PyTypeError::new_err(format!(
            "Object of type {} is not JSON serializable",
            type_name_of(value)
        )));
    }
    Ok(())
}

/// Dict keys as `json.dumps` converts them.
fn write_key(key: &Bound<'_, PyAny>, out: &mut String) -> PyResult<()> {
    if let Ok(s) = key.cast::<PyString>() {
        write_str(s.to_str()?, out);
        return Ok(());
    }
    let mut text = String::new();
    if key.is_none() {
        text.push_str("null");
    } else if let Ok(b) = key.cast::<PyBool>() {
        text.push_str(if b.is_true() { "true" } else { "false" });
    } else if let Ok(i) = key.cast::<PyInt>() {
        write_int(i.as_any(), &mut text)?;
    } else if let Ok(f) = key.cast::<PyFloat>() {
        write_float(f.value(), key, &mut text)?;
    } else {
        return Err(PyTypeError::new_err(format!(
            "keys must be str, int, float, bool or None, not {}",
            type_name_of(key)
        )));
    }
    write_str(&text, out);
    Ok(())
}

fn write_int(value: &Bound<'_, PyAny>, out: &mut String) -> PyResult<()> {
    if let Ok(v) = value.extract::<i64>() {
        let _ = write!(out, "{v}");
        return Ok(());
    }
    // int.__repr__, as json.dumps (also right for int subclasses such as IntEnum).
    let repr = value.py().get_type::<PyInt>().call_method1("__repr__", (value,))?;
    out.push_str(repr.cast::<PyString>()?.to_str()?);
    Ok(())
}

fn write_float(v: f64, value: &Bound<'_, PyAny>, out: &mut String) -> PyResult<()> {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // float.__repr__, as json.dumps: the shortest text that reads back as the same float.
        let repr = value.py().get_type::<PyFloat>().call_method1("__repr__", (value,))?;
        out.push_str(repr.cast::<PyString>()?.to_str()?);
    }
    Ok(())
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        last = i + 1;
    }
    out.push_str(&s[last..]);
    out.push('"');
}

/// `_native._json_decode(text)`: the json_objects decoder on JSON text (tests, benchmarks).
#[pyfunction]
#[pyo3(name = "_json_decode")]
pub fn py_json_decode(py: Python<'_>, text: &[u8]) -> PyResult<Py<PyAny>> {
    decode_json_objects(py, text, false)
}

/// `_native._json_encode(value)`: the json_objects encoder, as JSON text bytes (tests, benchmarks).
#[pyfunction]
#[pyo3(name = "_json_encode")]
pub fn py_json_encode<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let mut out = Vec::new();
    encode_json_objects(value, &mut out, false)?;
    Ok(pyo3::types::PyBytes::new(value.py(), &out))
}
