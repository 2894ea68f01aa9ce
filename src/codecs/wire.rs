//! A bounds-checked cursor over one binary value, shared by the composite, range, geometry, bit
//! string, snapshot and hstore codecs. Every read that runs past the end is a `ValueError`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Reads big-endian fields from the front of a value of type `what`.
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`, a value of PostgreSQL type `what` (for error messages).
    pub fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, what }
    }

    /// A `ValueError` about this value.
    pub fn error(&self, why: &str) -> PyErr {
        PyValueError::new_err(format!("invalid {} value: {why}", self.what))
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        if self.buf.len() < n {
            return Err(self.error("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> PyResult<[u8; N]> {
        let b = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn u8(&mut self) -> PyResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn i32(&mut self) -> PyResult<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> PyResult<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> PyResult<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> PyResult<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub fn f64(&mut self) -> PyResult<f64> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    /// A count (i32 >= 0) of items that each take at least `min_size` more bytes; refuses counts
    /// the remaining data cannot hold, so no huge allocation follows a corrupt header.
    pub fn count(&mut self, min_size: usize) -> PyResult<usize> {
        let n = self.i32()?;
        let n = usize::try_from(n).map_err(|_| self.error("negative count"))?;
        if n.saturating_mul(min_size) > self.buf.len() {
            return Err(self.error("count larger than the data"));
        }
        Ok(n)
    }

    /// A length-prefixed datum: `None` for NULL (-1).
    pub fn datum(&mut self) -> PyResult<Option<&'a [u8]>> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| self.error("negative length"))?;
        self.take(len).map(Some)
    }

    /// Bytes not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self) -> PyResult<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.error("trailing data"))
        }
    }
}

/// Appends a length-prefixed datum written by `write`, patching the length afterwards.
pub fn write_datum(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>) -> PyResult<()>) -> PyResult<()> {
    let at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    write(out)?;
    let len = i32::try_from(out.len() - at - 4).map_err(|_| PyValueError::new_err("value too long"))?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}
