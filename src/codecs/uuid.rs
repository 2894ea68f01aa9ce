//! uuid <-> `uuid.UUID`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use pyo3::{ffi, intern};

use super::{classes, fixed};

/// Builds a `uuid.UUID` without running its Python `__init__`: allocate through the type's
/// `tp_new` and fill the two slots `UUID(int=...)` would fill (`int`, `is_safe`).
pub fn decode_uuid(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let n = u128::from_be_bytes(fixed(buf, "uuid")?);
    let ty = classes::uuid(py)?;
    let int = n.into_pyobject(py)?;
    let args = PyTuple::empty(py);
    // SAFETY: `ty` is the `uuid.UUID` type object, alive for the interpreter's life; its `tp_new`
    // (object's, inherited) takes (type, args, kwargs) and returns a new reference or NULL with an
    // exception set.
    let obj = unsafe {
        let tp = ty.as_type_ptr();
        let new = (*tp)
            .tp_new
            .ok_or_else(|| PyTypeError::new_err("uuid.UUID cannot be instantiated"))?;
        Bound::from_owned_ptr_or_err(py, new(tp, args.as_ptr(), std::ptr::null_mut()))?
    };
    set_slot(&obj, intern!(py, "int"), int.as_any())?;
    set_slot(&obj, intern!(py, "is_safe"), classes::safe_uuid_unknown(py)?)?;
    Ok(obj.unbind())
}

/// `object.__setattr__(obj, name, value)`: UUID's own `__setattr__` forbids assignment.
fn set_slot(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    // SAFETY: all three pointers are valid, owned by the Bound handles for the duration of the call.
    let rc = unsafe { ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(obj.py()))
    }
}

/// Accepts a `uuid.UUID`, a hex string of 32..36 characters (dashes anywhere), or anything with
/// a 16-byte `.bytes`.
pub fn encode_uuid(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    if value.is_instance(classes::uuid(py)?)? {
        let n: u128 = value.getattr(intern!(py, "int"))?.extract()?;
        out.extend_from_slice(&n.to_be_bytes());
        return Ok(());
    }
    if let Ok(s) = value.cast::<PyString>() {
        let s = s.to_str()?;
        let n = parse_uuid(s)?;
        out.extend_from_slice(&n.to_be_bytes());
        return Ok(());
    }
    let bytes = value.getattr(intern!(py, "bytes"))?;
    let b = bytes
        .cast::<PyBytes>()
        .map_err(|_| PyTypeError::new_err("expected bytes in the uuid's 'bytes' attribute"))?;
    let raw: [u8; 16] = b
        .as_bytes()
        .try_into()
        .map_err(|_| PyValueError::new_err("a uuid's 'bytes' must be 16 bytes long"))?;
    out.extend_from_slice(&raw);
    Ok(())
}

fn parse_uuid(s: &str) -> PyResult<u128> {
    let chars = s.chars().count();
    if !(32..=36).contains(&chars) {
        return Err(PyValueError::new_err(format!(
            "invalid UUID '{s}': length must be between 32..36 characters, got {chars}"
        )));
    }
    let mut n: u128 = 0;
    let mut count = 0;
    for c in s.chars() {
        if c == '-' {
            continue;
        }
        let Some(d) = c.to_digit(16) else {
            return Err(PyValueError::new_err(format!(
                "invalid UUID '{s}': unexpected character {c:?}"
            )));
        };
        if count == 32 {
            return Err(PyValueError::new_err(format!(
                "invalid UUID '{s}': too many hex digits"
            )));
        }
        n = (n << 4) | u128::from(d);
        count += 1;
    }
    if count != 32 {
        return Err(PyValueError::new_err(format!(
            "invalid UUID '{s}': expected 32 hex digits, got {count}"
        )));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::parse_uuid;

    #[test]
    fn parses_with_and_without_dashes() {
        let a = parse_uuid("12345678-1234-5678-1234-567812345678").expect("dashed");
        let b = parse_uuid("12345678123456781234567812345678").expect("plain");
        assert_eq!(a, b);
        assert_eq!(a, 0x1234_5678_1234_5678_1234_5678_1234_5678);
    }
}
