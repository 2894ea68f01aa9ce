//! Arrays of types that asyncpg reads in text format (money[], regtype[], macaddr[], ...): the
//! server's text form `{a,"b c",NULL}` (with `[lo:hi]=` bounds, nested braces) -> nested lists of str.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::type_name_of;

/// Builtin array types whose elements asyncpg decodes as text.
pub const TEXT_ARRAY_TYPES: &[(u32, &str)] = &[
    (791, "_money"),
    (1040, "_macaddr"),
    (775, "_macaddr8"),
    (1008, "_regproc"),
    (2207, "_regprocedure"),
    (2208, "_regoper"),
    (2209, "_regoperator"),
    (2210, "_regclass"),
    (2211, "_regtype"),
    (3735, "_regconfig"),
    (3770, "_regdictionary"),
    (4090, "_regnamespace"),
    (4097, "_regrole"),
    (4192, "_regcollation"),
    (2201, "_refcursor"),
    (3643, "_tsvector"),
    (3645, "_tsquery"),
    (1034, "_aclitem"),
];

/// The element types of `TEXT_ARRAY_TYPES`: builtin types asyncpg exchanges as text.
pub const TEXT_SCALAR_TYPES: &[(u32, &str)] = &[
    (790, "money"),
    (829, "macaddr"),
    (774, "macaddr8"),
    (24, "regproc"),
    (2202, "regprocedure"),
    (2203, "regoper"),
    (2204, "regoperator"),
    (2205, "regclass"),
    (2206, "regtype"),
    (3734, "regconfig"),
    (3769, "regdictionary"),
    (4089, "regnamespace"),
    (4096, "regrole"),
    (4191, "regcollation"),
    (1790, "refcursor"),
    (3614, "tsvector"),
    (3615, "tsquery"),
    (1033, "aclitem"),
];

fn bad(why: &str) -> PyErr {
    PyValueError::new_err(format!("malformed array literal: {why}"))
}

/// Array text -> nested list of str (NULL -> None).
pub fn decode_text_array(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    parse_text_array(py, buf, &mut |py, s| Ok(PyString::new(py, s).into_any().unbind()))
}

/// The element decoder of `parse_text_array`: the element's text -> Python object.
pub type ElementDecoder<'a> = dyn FnMut(Python<'_>, &str) -> PyResult<Py<PyAny>> + 'a;

/// Array text -> nested list, each non-NULL element made by `elem` from its text (NULL -> None).
pub fn parse_text_array(py: Python<'_>, buf: &[u8], elem: &mut ElementDecoder<'_>) -> PyResult<Py<PyAny>> {
    let text = std::str::from_utf8(buf).map_err(|_| bad("not UTF-8"))?;
    let mut rest = text.trim_start();
    if rest.starts_with('[') {
        // dimension decoration: [lo:hi][lo:hi]=
        let eq = rest.find('=').ok_or_else(|| bad("missing '=' after dimensions"))?;
        rest = rest[eq + 1..].trim_start();
    }
    let mut chars = rest.char_indices().peekable();
    let list = parse_level(py, rest, &mut chars, 0, elem)?;
    if chars.any(|(_, c)| !c.is_whitespace()) {
        return Err(bad("junk after closing brace"));
    }
    Ok(list.into_any().unbind())
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn parse_level<'py>(
    py: Python<'py>,
    src: &str,
    chars: &mut Chars<'_>,
    depth: usize,
    elem: &mut ElementDecoder<'_>,
) -> PyResult<Bound<'py, PyList>> {
    if depth > 6 {
        return Err(bad("too many dimensions"));
    }
    match chars.next() {
        Some((_, '{')) => {}
        _ => return Err(bad("expected '{'")),
    }
    let list = PyList::empty(py);
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        match chars.peek().copied() {
            None => return Err(bad("unexpected end")),
            Some((_, '}')) if list.is_empty() => {
                chars.next();
                return Ok(list);
            }
            Some((_, '{')) => list.append(parse_level(py, src, chars, depth + 1, elem)?)?,
            Some((_, '"')) => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(bad("unterminated quoted element")),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => s.push(chars.next().ok_or_else(|| bad("dangling backslash"))?.1),
                        Some((_, c)) => s.push(c),
                    }
                }
                list.append(elem(py, &s)?)?;
            }
            Some((start, _)) => {
                let mut end = start;
                let mut s = String::new();
                while let Some((i, c)) = chars.next_if(|(_, c)| *c != ',' && *c != '}') {
                    if c == '\\' {
                        let (j, e) = chars.next().ok_or_else(|| bad("dangling backslash"))?;
                        s.push(e);
                        end = j + e.len_utf8();
                    } else {
                        s.push(c);
                        if !c.is_whitespace() {
                            end = i + c.len_utf8();
                        }
                    }
                }
                let raw = &src[start..end.max(start)];
                if raw.is_empty() {
                    return Err(bad("empty element"));
                }
                if raw.eq_ignore_ascii_case("NULL") {
                    list.append(py.None())?;
                } else {
                    list.append(elem(py, s.trim_end())?)?;
                }
            }
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        match chars.next() {
            Some((_, ',')) => {}
            Some((_, '}')) => return Ok(list),
            _ => return Err(bad("expected ',' or '}'")),
        }
    }
}

/// A str is sent as it is; a list or tuple (nested for more dimensions) of str/None becomes an
/// array literal.
pub fn encode_text_array(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(s) = value.cast::<PyString>() {
        out.extend_from_slice(s.to_str()?.as_bytes());
        return Ok(());
    }
    write_level(value, out, 0)
}

fn write_level(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    if depth > 6 {
        return Err(PyValueError::new_err("too many array dimensions"));
    }
    if !(value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>()) {
        return Err(PyTypeError::new_err(format!(
            "a sized iterable container expected (got type '{}')",
            type_name_of(value)
        )));
    }
    out.push(b'{');
    for (i, item) in value.try_iter()?.enumerate() {
        let item = item?;
        if i > 0 {
            out.push(b',');
        }
        if item.is_none() {
            out.extend_from_slice(b"NULL");
        } else if let Ok(s) = item.cast::<PyString>() {
            out.push(b'"');
            for b in s.to_str()?.bytes() {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        } else if item.is_instance_of::<PyList>() {
            write_level(&item, out, depth + 1)?;
        } else {
            return Err(PyTypeError::new_err(format!(
                "invalid array element at index {i}: expected str, got {}",
                type_name_of(&item)
            )));
        }
    }
    out.push(b'}');
    Ok(())
}
