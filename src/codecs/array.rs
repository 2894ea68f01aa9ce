//! Arrays of any element codec, 1 to 6 dimensions, with NULL elements.
//!
//! Wire format: ndim i32, has-nulls flag i32, element OID u32, then (length i32, lower bound i32) per
//! dimension, then each element as (byte length i32 or -1 for NULL, bytes), last dimension fastest.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};
use pyo3::{ffi, intern};

use super::{classes, numeric, text, type_name_of, Codec};

/// asyncpg's limit (PostgreSQL's MAXDIM).
const MAX_DIMS: usize = 6;

/// The codec of one array type.
#[derive(Debug)]
pub struct ArrayCodec {
    /// The array type's OID (`1007` for `_int4`).
    pub oid: u32,
    /// The element type's OID, written in the array header.
    pub elem_oid: u32,
    /// The element codec.
    pub elem: Codec,
}

fn bad_array(why: &str) -> PyErr {
    PyValueError::new_err(format!("invalid array value: {why}"))
}

/// A cursor over a binary array value.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> PyResult<&'a [u8]> {
        if self.buf.len() < n {
            return Err(bad_array("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn i32(&mut self) -> PyResult<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A new list of `n` items made by `item()`, filled in place.
fn build_list<'py>(
    py: Python<'py>,
    n: usize,
    mut item: impl FnMut() -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let len = isize::try_from(n).map_err(|_| bad_array("too many elements"))?;
    // SAFETY: PyList_New returns a new list of `len` NULL slots, or NULL with an exception set.
    let list = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyList_New(len))?.cast_into_unchecked::<PyList>() };
    for i in 0..len {
        let obj = item()?;
        // SAFETY: `i` < `len`, the slot is still NULL, and SET_ITEM steals the new reference. If a
        // later item fails, the list is dropped with NULL slots, which list deallocation allows.
        unsafe { ffi::PyList_SET_ITEM(list.as_ptr(), i, obj.into_ptr()) };
    }
    Ok(list)
}

/// The innermost list of an array: `n` elements, each decoded by `decode` (NULL -> None).
#[inline(always)]
fn decode_leaf<'py>(
    py: Python<'py>,
    r: &mut Reader<'_>,
    n: usize,
    decode: impl Fn(Python<'py>, &[u8]) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    build_list(py, n, || {
        let len = r.i32()?;
        if len < 0 {
            if len != -1 {
                return Err(bad_array("negative element length"));
            }
            return Ok(py.None());
        }
        let len = usize::try_from(len).map_err(|_| bad_array("bad element length"))?;
        decode(py, r.take(len)?)
    })
}

/// A list or tuple to walk by index (other iterables are copied into a list first).
#[derive(Clone)]
enum Seq<'py> {
    List(Bound<'py, PyList>),
    Tuple(Bound<'py, PyTuple>),
}

impl<'py> Seq<'py> {
    fn of(obj: &Bound<'py, PyAny>) -> PyResult<Seq<'py>> {
        if let Ok(l) = obj.cast::<PyList>() {
            return Ok(Seq::List(l.clone()));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return Ok(Seq::Tuple(t.clone()));
        }
        let py = obj.py();
        let list = py.get_type::<PyList>().call1((obj,))?;
        Ok(Seq::List(list.cast_into::<PyList>()?))
    }

    fn len(&self) -> usize {
        match self {
            Seq::List(l) => l.len(),
            Seq::Tuple(t) => t.len(),
        }
    }

    fn get(&self, i: usize) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Seq::List(l) => l.get_item(i),
            Seq::Tuple(t) => t.get_item(i),
        }
    }
}

/// True for a sized iterable that is not a str, bytes-like, or Mapping. Tuples count only at the
/// top level: nested tuples are elements (records), as in asyncpg.
fn is_container(obj: &Bound<'_, PyAny>, top: bool) -> PyResult<bool> {
    if obj.is_instance_of::<PyList>() {
        return Ok(true);
    }
    if obj.is_instance_of::<PyTuple>() {
        return Ok(top);
    }
    if obj.is_none()
        || obj.is_instance_of::<PyInt>()
        || obj.is_instance_of::<PyFloat>()
        || obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
        || obj.is_instance_of::<PyMemoryView>()
    {
        return Ok(false);
    }
    let py = obj.py();
    let ty = obj.get_type();
    Ok(ty.hasattr(intern!(py, "__len__"))?
        && ty.hasattr(intern!(py, "__iter__"))?
        && !obj.is_instance(classes::mapping(py)?)?)
}

fn non_homogeneous() -> PyErr {
    PyValueError::new_err("non-homogeneous array")
}

impl ArrayCodec {
    /// The codec of array type `oid` whose elements are `elem_oid`, decoded by `elem`.
    pub fn new(oid: u32, elem_oid: u32, elem: Codec) -> ArrayCodec {
        ArrayCodec { oid, elem_oid, elem }
    }

    /// Binary array -> (nested) list; lower bounds are ignored, `{}` is `[]`. Arrays of a type with
    /// a text-format codec travel as array text and are decoded element by element.
    pub fn decode(&self, py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
        if self.elem.format_code() == 0 {
            return super::text_array::parse_text_array(py, buf, &mut |py, s| self.elem.decode(py, s.as_bytes()));
        }
        let mut r = Reader { buf };
        let ndim = r.i32()?;
        let flags = r.i32()?;
        let _elem_oid = r.i32()?;
        if flags != 0 && flags != 1 {
            return Err(bad_array("bad flags"));
        }
        let ndim = usize::try_from(ndim).map_err(|_| bad_array("negative dimension count"))?;
        if ndim > MAX_DIMS {
            return Err(bad_array("too many dimensions"));
        }
        let mut dims = [0usize; MAX_DIMS];
        let mut total: usize = 1;
        for d in dims.iter_mut().take(ndim) {
            let len = r.i32()?;
            let _lower_bound = r.i32()?;
            *d = usize::try_from(len).map_err(|_| bad_array("negative dimension length"))?;
            total = total.checked_mul(*d).ok_or_else(|| bad_array("too many elements"))?;
        }
        if ndim == 0 {
            total = 0;
        }
        // Every element takes at least its 4-byte length word.
        if total > r.buf.len() / 4 {
            return Err(bad_array("more elements than data"));
        }
        let list = if ndim == 0 {
            PyList::empty(py)
        } else {
            self.decode_dim(py, &mut r, &dims[..ndim])?
        };
        if !r.buf.is_empty() {
            return Err(bad_array("trailing data"));
        }
        Ok(list.into_any().unbind())
    }

    fn decode_dim<'py>(&self, py: Python<'py>, r: &mut Reader<'_>, dims: &[usize]) -> PyResult<Bound<'py, PyList>> {
        let inner = &dims[1..];
        if !inner.is_empty() {
            return build_list(py, dims[0], || Ok(self.decode_dim(py, r, inner)?.into_any().unbind()));
        }
        // NOTE: the element decoder is chosen here, once per list, not per element: the common
        // element types get a loop of their own with the decoder inlined (profiled 2026-12-02:
        // the per-element `Codec` dispatch was a tenth of decoding int4[]/text[] rows).
        let n = dims[0];
        match &self.elem {
            Codec::Int4 => decode_leaf(py, r, n, numeric::decode_int4),
            Codec::Int8 => decode_leaf(py, r, n, numeric::decode_int8),
            Codec::Int2 => decode_leaf(py, r, n, numeric::decode_int2),
            Codec::Uint4(_) => decode_leaf(py, r, n, numeric::decode_uint4),
            Codec::Float8 => decode_leaf(py, r, n, numeric::decode_float8),
            Codec::Float4 => decode_leaf(py, r, n, numeric::decode_float4),
            Codec::Bool => decode_leaf(py, r, n, numeric::decode_bool),
            Codec::Text(_) | Codec::Json => decode_leaf(py, r, n, text::decode_text),
            elem => decode_leaf(py, r, n, |py, b| elem.decode(py, b)),
        }
    }

    /// Sequence (nested for more dimensions) -> binary array (array text for text-format elements).
    pub fn encode(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        if !is_container(value, true)? {
            return Err(PyTypeError::new_err(format!(
                "a sized iterable container expected (got type '{}')",
                type_name_of(value)
            )));
        }
        if self.elem.format_code() == 0 {
            return self.encode_text(value, out);
        }
        let top = Seq::of(value)?;
        let dims = Self::dims_of(&top)?;

        if dims.contains(&0) {
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&self.elem_oid.to_be_bytes());
            return Ok(());
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // <= MAX_DIMS
        out.extend_from_slice(&(dims.len() as i32).to_be_bytes());
        let flags_at = out.len();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&self.elem_oid.to_be_bytes());
        for &d in &dims {
            let d = i32::try_from(d).map_err(|_| PyValueError::new_err("array too large"))?;
            out.extend_from_slice(&d.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
        }
        let mut has_nulls = false;
        self.encode_dim(&top, &dims, dims.len() == 1, out, &mut has_nulls)?;
        if has_nulls {
            out[flags_at..flags_at + 4].copy_from_slice(&1i32.to_be_bytes());
        }
        Ok(())
    }

    fn encode_dim(
        &self,
        seq: &Seq<'_>,
        dims: &[usize],
        flat: bool,
        out: &mut Vec<u8>,
        has_nulls: &mut bool,
    ) -> PyResult<()> {
        if seq.len() != dims[0] {
            return Err(non_homogeneous());
        }
        let inner = &dims[1..];
        for i in 0..dims[0] {
            let item = seq.get(i)?;
            if !inner.is_empty() {
                if !is_container(&item, false)? {
                    return Err(non_homogeneous());
                }
                self.encode_dim(&Seq::of(&item)?, inner, flat, out, has_nulls)?;
                continue;
            }
            if item.is_none() {
                *has_nulls = true;
                out.extend_from_slice(&(-1i32).to_be_bytes());
                continue;
            }
            if is_container(&item, false)? {
                return Err(non_homogeneous());
            }
            let at = out.len();
            out.extend_from_slice(&0i32.to_be_bytes());
            if let Err(e) = self.elem.encode(&item, out) {
                return Err(element_error(item.py(), &e, flat.then_some(i)));
            }
            let len = i32::try_from(out.len() - at - 4).map_err(|_| PyValueError::new_err("array element too long"))?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }
}

impl ArrayCodec {
    /// The dimensions of a (nested) sequence, read along its first elements, as asyncpg does.
    fn dims_of(top: &Seq<'_>) -> PyResult<Vec<usize>> {
        let mut dims: Vec<usize> = Vec::with_capacity(2);
        let mut level = top.clone();
        loop {
            let n = level.len();
            dims.push(n);
            if dims.len() > MAX_DIMS {
                return Err(PyValueError::new_err(format!(
                    "number of array dimensions ({}) exceed the maximum expected ({MAX_DIMS})",
                    dims.len()
                )));
            }
            if n == 0 {
                return Ok(dims);
            }
            let first = level.get(0)?;
            if !is_container(&first, false)? {
                return Ok(dims);
            }
            level = Seq::of(&first)?;
        }
    }

    /// Array text `{"a","b",NULL}` for text-format elements: each element is its codec's text,
    /// always quoted (so empty strings, `NULL`, blanks, commas, braces, quotes and backslashes
    /// survive); sub-arrays must all have the same shape, as for binary arrays.
    fn encode_text(&self, value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
        let top = Seq::of(value)?;
        let dims = Self::dims_of(&top)?;
        if dims.contains(&0) {
            out.extend_from_slice(b"{}");
            return Ok(());
        }
        let mut scratch = Vec::new();
        self.encode_text_dim(&top, &dims, out, &mut scratch)
    }

    fn encode_text_dim(&self, seq: &Seq<'_>, dims: &[usize], out: &mut Vec<u8>, scratch: &mut Vec<u8>) -> PyResult<()> {
        if seq.len() != dims[0] {
            return Err(non_homogeneous());
        }
        let inner = &dims[1..];
        out.push(b'{');
        for i in 0..dims[0] {
            if i > 0 {
                out.push(b',');
            }
            let item = seq.get(i)?;
            if !inner.is_empty() {
                if !is_container(&item, false)? {
                    return Err(non_homogeneous());
                }
                self.encode_text_dim(&Seq::of(&item)?, inner, out, scratch)?;
                continue;
            }
            if item.is_none() {
                out.extend_from_slice(b"NULL");
                continue;
            }
            if is_container(&item, false)? {
                return Err(non_homogeneous());
            }
            scratch.clear();
            if let Err(e) = self.elem.encode(&item, scratch) {
                // asyncpg names no index for text-format elements.
                return Err(element_error(item.py(), &e, None));
            }
            out.push(b'"');
            for &b in scratch.iter() {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
        out.push(b'}');
        Ok(())
    }
}

/// The element's error, same class, prefixed as asyncpg does.
fn element_error(py: Python<'_>, err: &PyErr, index: Option<usize>) -> PyErr {
    let msg = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    let msg = match index {
        Some(i) => format!("invalid array element at index {i}: {msg}"),
        None => format!("invalid array element: {msg}"),
    };
    PyErr::from_type(err.get_type(py), msg)
}
