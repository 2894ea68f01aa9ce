//! bit and varbit <-> `asyncpg_rs.types.BitString`.
//!
//! Wire format: the number of bits (i32), then the bits, first bit in the high bit of the first byte.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::classes;
use super::text::encode_bytea;
use super::wire::Reader;

pub fn decode_bits(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "bit string");
    let bits = r.i32()?;
    let bits = usize::try_from(bits).map_err(|_| r.error("negative bit length"))?;
    let data = r.rest();
    if data.len() != bits.div_ceil(8) {
        return Err(r.error("bit length does not match the data"));
    }
    let obj = classes::bit_string(py)?.call_method1(intern!(py, "frombytes"), (PyBytes::new(py, data), bits))?;
    Ok(obj.unbind())
}

/// A BitString, or any bytes-like object (all of its bits).
pub fn encode_bits(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    let bits = if value.is_instance(classes::bit_string(py)?)? {
        let bits = value.len()?;
        encode_bytea(&value.getattr(intern!(py, "bytes"))?, out)?;
        bits
    } else {
        encode_bytea(value, out)?;
        (out.len() - at - 4).saturating_mul(8)
    };
    let bits = i32::try_from(bits).map_err(|_| pyo3::exceptions::PyValueError::new_err("bit string too long"))?;
    out[at..at + 4].copy_from_slice(&bits.to_be_bytes());
    Ok(())
}
