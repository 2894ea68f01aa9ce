//! bool, int2/int4/int8, oid-like unsigned ints, float4/float8, numeric <-> Decimal, and tid.

use std::fmt::Write as _;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{ffi, intern, IntoPyObjectExt};

use super::{classes, fixed, type_name_of};

pub fn decode_bool(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    match fixed::<1>(buf, "bool")? {
        [0] => Ok(PyBool::new(py, false).to_owned().into_any().unbind()),
        [1] => Ok(PyBool::new(py, true).to_owned().into_any().unbind()),
        [b] => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "invalid bool value: expected 0 or 1, got {b}"
        ))),
    }
}

pub fn encode_bool(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let b = value
        .cast::<PyBool>()
        .map_err(|_| PyTypeError::new_err(format!("a boolean is required (got type {})", type_name_of(value))))?;
    out.push(u8::from(b.is_true()));
    Ok(())
}

pub fn decode_int2(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    i16::from_be_bytes(fixed(buf, "int2")?).into_py_any(py)
}

pub fn decode_int4(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    i32::from_be_bytes(fixed(buf, "int4")?).into_py_any(py)
}

pub fn decode_int8(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    i64::from_be_bytes(fixed(buf, "int8")?).into_py_any(py)
}

pub fn decode_uint4(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    u32::from_be_bytes(fixed(buf, "uint4")?).into_py_any(py)
}

pub fn decode_uint8(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    u64::from_be_bytes(fixed(buf, "uint8")?).into_py_any(py)
}

/// The integer asyncpg would send for `value`: an `int` as is, objects with `__int__` (float,
/// Decimal) truncated by `int()`, anything else through `__index__` (whose TypeError is the message).
fn to_int<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if value.is_instance_of::<PyInt>() {
        return Ok(value.clone());
    }
    let py = value.py();
    if value.get_type().hasattr(intern!(py, "__int__"))? {
        return py.get_type::<PyInt>().call1((value,));
    }
    // SAFETY: `value` is a valid object; PyNumber_Index returns a new reference, or NULL with an
    // exception set, which `assume_owned_or_err` turns into a PyErr.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyNumber_Index(value.as_ptr())) }
}

fn out_of_range(range: &str) -> PyErr {
    PyOverflowError::new_err(format!("value out of {range} range"))
}

fn int_in<T: TryFrom<i64>>(value: &Bound<'_, PyAny>, range: &str) -> PyResult<T> {
    let int = to_int(value)?;
    let v: i64 = int.extract().map_err(|_| out_of_range(range))?;
    T::try_from(v).map_err(|_| out_of_range(range))
}

pub fn encode_int2(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    out.extend_from_slice(&int_in::<i16>(value, "int16")?.to_be_bytes());
    Ok(())
}

pub fn encode_int4(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    out.extend_from_slice(&int_in::<i32>(value, "int32")?.to_be_bytes());
    Ok(())
}

pub fn encode_int8(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    out.extend_from_slice(&int_in::<i64>(value, "int64")?.to_be_bytes());
    Ok(())
}

pub fn encode_uint4(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    out.extend_from_slice(&int_in::<u32>(value, "uint32")?.to_be_bytes());
    Ok(())
}

pub fn encode_uint8(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let int = to_int(value)?;
    let v: u64 = int.extract().map_err(|_| out_of_range("uint64"))?;
    out.extend_from_slice(&v.to_be_bytes());
    Ok(())
}

pub fn decode_float4(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let v = f32::from_be_bytes(fixed(buf, "float4")?);
    Ok(PyFloat::new(py, f64::from(v)).into_any().unbind())
}

pub fn decode_float8(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let v = f64::from_be_bytes(fixed(buf, "float8")?);
    Ok(PyFloat::new(py, v).into_any().unbind())
}

pub fn encode_float4(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let v: f64 = value.extract()?;
    if v.is_finite() && v.abs() > f64::from(f32::MAX) {
        return Err(out_of_range("float32"));
    }
    #[allow(clippy::cast_possible_truncation)] // rounding to float4 is the point
    out.extend_from_slice(&(v as f32).to_be_bytes());
    Ok(())
}

pub fn encode_float8(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let v: f64 = value.extract()?;
    out.extend_from_slice(&v.to_be_bytes());
    Ok(())
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// PostgreSQL keeps dscale in 14 bits.
const NUMERIC_DSCALE_MAX: i64 = 0x3FFF;

fn bad_numeric(why: &str) -> PyErr {
    PyValueError::new_err(format!("invalid numeric value: {why}"))
}

/// numeric -> Decimal. The digits are written out as a string `"<digits>E<exp>"`, which `Decimal()`
/// parses in C. With a fractional part the exponent is `-dscale` (trailing zeros kept, as
/// PostgreSQL prints them); without one it is the exponent of the last base-10000 digit sent, so
/// `1e20::numeric` gives `Decimal('1E+20')` as asyncpg does.
pub fn decode_numeric(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    if buf.len() < 8 {
        return Err(bad_numeric("too short"));
    }
    let ndigits = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
    let weight = i64::from(i16::from_be_bytes([buf[2], buf[3]]));
    let sign = u16::from_be_bytes([buf[4], buf[5]]);
    let dscale = i64::from(u16::from_be_bytes([buf[6], buf[7]]));
    let body = &buf[8..];
    if body.len() != ndigits * 2 {
        return Err(bad_numeric("length does not match the digit count"));
    }
    let special = match sign {
        NUMERIC_POS | NUMERIC_NEG => None,
        NUMERIC_NAN => Some("NaN"),
        NUMERIC_PINF => Some("Infinity"),
        NUMERIC_NINF => Some("-Infinity"),
        _ => return Err(bad_numeric("bad sign")),
    };
    if special.is_some() && ndigits != 0 {
        return Err(bad_numeric("a special value (NaN or infinity) carries digits"));
    }
    let decimal = classes::decimal(py)?;
    if let Some(s) = special {
        return Ok(decimal.call1((s,))?.unbind());
    }

    let mut s = String::with_capacity(ndigits * 4 + 12);
    if sign == NUMERIC_NEG {
        s.push('-');
    }
    let digits_start = s.len();
    for pair in body.chunks_exact(2) {
        let d = u16::from_be_bytes([pair[0], pair[1]]);
        if d > 9999 {
            return Err(bad_numeric("digit out of range"));
        }
        #[allow(clippy::cast_possible_truncation)] // each quotient is a single decimal digit
        s.extend([d / 1000, d / 100 % 10, d / 10 % 10, d % 10].map(|x| char::from(b'0' + x as u8)));
    }
    let exp = if ndigits == 0 {
        s.push('0');
        -dscale
    } else {
        #[allow(clippy::cast_possible_wrap)] // ndigits <= u16::MAX
        let last_exp = 4 * (weight - ndigits as i64 + 1);
        let target = if dscale == 0 && last_exp >= 0 {
            last_exp
        } else {
            -dscale
        };
        if last_exp > target {
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)] // positive, <= 4 * 2^16 + 2^16
            s.extend(std::iter::repeat_n('0', (last_exp - target) as usize));
        } else if last_exp < target {
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            let cut = (target - last_exp) as usize;
            let keep = (s.len() - digits_start).saturating_sub(cut);
            s.truncate(digits_start + keep);
            if keep == 0 {
                s.push('0');
            }
        }
        target
    };
    let _ = write!(s, "E{exp}");
    Ok(decimal.call1((PyString::new(py, &s),))?.unbind())
}

/// Decimal (or anything `Decimal()` takes) -> numeric.
pub fn encode_numeric(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let decimal = classes::decimal(py)?;
    let owned;
    let dec = if value.is_instance(decimal)? {
        value
    } else {
        owned = decimal.call1((value,))?;
        &owned
    };
    let tuple = dec.call_method0(intern!(py, "as_tuple"))?;
    let tuple = tuple.cast::<PyTuple>()?;
    let negative: i64 = tuple.get_item(0)?.extract()?;
    let exponent = tuple.get_item(2)?;
    if let Ok(e) = exponent.cast::<PyString>() {
        // 'n' (NaN), 'N' (sNaN, sent as NaN) or 'F' (infinity)
        let sign = match (e.to_str()?, negative != 0) {
            ("F", false) => NUMERIC_PINF,
            ("F", true) => NUMERIC_NINF,
            _ => NUMERIC_NAN,
        };
        write_numeric(out, 0, sign, 0, &[]);
        return Ok(());
    }
    let exp: i64 = exponent.extract()?;
    let digits_obj = tuple.get_item(1)?;
    let digit_tuple = digits_obj.cast::<PyTuple>()?;
    let mut digits: Vec<u8> = Vec::with_capacity(digit_tuple.len());
    for d in digit_tuple.iter() {
        digits.push(d.extract()?);
    }
    let dscale = (-exp).max(0);
    if dscale > NUMERIC_DSCALE_MAX {
        return Err(PyValueError::new_err(
            "cannot encode Decimal value into numeric: exponent is too small",
        ));
    }
    let Some(first) = digits.iter().position(|&d| d != 0) else {
        write_numeric(out, 0, NUMERIC_POS, dscale, &[]);
        return Ok(());
    };
    let digits = &digits[first..];
    // Decimal exponent of digit i is exp + (n - 1 - i); its base-10000 group is floor(p / 4).
    #[allow(clippy::cast_possible_wrap)]
    let n = digits.len() as i64;
    let top_p = exp + n - 1;
    let weight = top_p.div_euclid(4);
    let bottom_group = exp.div_euclid(4);
    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)] // weight >= bottom_group
    let mut groups = vec![0u16; (weight - bottom_group + 1) as usize];
    for (i, &d) in digits.iter().enumerate() {
        #[allow(clippy::cast_possible_wrap)]
        let p = top_p - i as i64;
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        let g = (weight - p.div_euclid(4)) as usize;
        #[allow(clippy::cast_possible_truncation)]
        let mult = 10u16.pow(p.rem_euclid(4) as u32);
        groups[g] += u16::from(d) * mult;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let weight = i16::try_from(weight)
        .map_err(|_| PyValueError::new_err("cannot encode Decimal value into numeric: exponent is too large"))?;
    if groups.len() > usize::from(u16::MAX >> 1) {
        return Err(PyValueError::new_err(
            "cannot encode Decimal value into numeric: too many digits",
        ));
    }
    let sign = if negative != 0 { NUMERIC_NEG } else { NUMERIC_POS };
    write_numeric(out, weight, sign, dscale, &groups);
    Ok(())
}

fn relabel_overflow(py: Python<'_>, err: PyErr, msg: &str) -> PyErr {
    if err.is_instance_of::<PyOverflowError>(py) {
        PyOverflowError::new_err(msg.to_owned())
    } else {
        err
    }
}

fn write_numeric(out: &mut Vec<u8>, weight: i16, sign: u16, dscale: i64, groups: &[u16]) {
    #[allow(clippy::cast_possible_truncation)] // callers bound both
    {
        out.extend_from_slice(&(groups.len() as u16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&(dscale as u16).to_be_bytes());
    }
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// tid -> (block, offset)
pub fn decode_tid(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let b: [u8; 6] = fixed(buf, "tid")?;
    let block = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let offset = u16::from_be_bytes([b[4], b[5]]);
    (block, offset).into_py_any(py)
}

pub fn encode_tid(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if !(value.is_instance_of::<PyTuple>() || value.is_instance_of::<PyList>()) {
        return Err(PyTypeError::new_err(format!(
            "list or tuple expected (got type <class '{}'>)",
            type_name_of(value)
        )));
    }
    if value.len()? != 2 {
        return Err(PyValueError::new_err(
            "invalid number of elements in tid tuple, expecting 2",
        ));
    }
    let block: u32 = int_in(&value.get_item(0)?, "uint32")
        .map_err(|e| relabel_overflow(value.py(), e, "tuple id block value out of uint32 range"))?;
    let offset: u16 = int_in(&value.get_item(1)?, "uint16")
        .map_err(|e| relabel_overflow(value.py(), e, "tuple id offset value out of uint16 range"))?;
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    Ok(())
}
