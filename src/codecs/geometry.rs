//! point, line, lseg, box, path, polygon, circle <-> the `asyncpg_rs.types` classes.
//!
//! Every coordinate is a float8 on the wire. Parameters are read by index (`obj[0]`, `obj[0][1]`), so
//! tuples, lists and the types' own classes (tuple subclasses) all work, with Python's own messages
//! for anything else, as in asyncpg.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::classes;
use super::wire::Reader;

fn read_point<'py>(py: Python<'py>, r: &mut Reader<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let x = r.f64()?;
    let y = r.f64()?;
    PyTuple::new(py, [x, y])
}

fn finish(r: &Reader<'_>, obj: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    r.finish()?;
    Ok(obj.unbind())
}

pub fn decode_point(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "point");
    let (x, y) = (r.f64()?, r.f64()?);
    finish(&r, classes::point(py)?.call1((x, y))?)
}

pub fn decode_line(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "line");
    let (a, b, c) = (r.f64()?, r.f64()?, r.f64()?);
    finish(&r, classes::line(py)?.call1((a, b, c))?)
}

pub fn decode_lseg(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "lseg");
    let (p1, p2) = (read_point(py, &mut r)?, read_point(py, &mut r)?);
    finish(&r, classes::line_segment(py)?.call1((p1, p2))?)
}

pub fn decode_box(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "box");
    let (high, low) = (read_point(py, &mut r)?, read_point(py, &mut r)?);
    finish(&r, classes::box_(py)?.call1((high, low))?)
}

pub fn decode_circle(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "circle");
    let center = read_point(py, &mut r)?;
    let radius = r.f64()?;
    finish(&r, classes::circle(py)?.call1((center, radius))?)
}

fn read_points<'py>(py: Python<'py>, r: &mut Reader<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let n = r.count(16)?;
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        points.push(read_point(py, r)?);
    }
    PyTuple::new(py, points)
}

/// path: a closed flag byte, then the points.
pub fn decode_path(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "path");
    let closed = r.u8()? != 0;
    let points = read_points(py, &mut r)?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item(intern!(py, "is_closed"), closed)?;
    finish(&r, classes::path(py)?.call(points, Some(&kwargs))?)
}

pub fn decode_polygon(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader::new(buf, "polygon");
    let points = read_points(py, &mut r)?;
    finish(&r, classes::polygon(py)?.call1(points)?)
}

fn float_at(obj: &Bound<'_, PyAny>, i: usize) -> PyResult<f64> {
    obj.get_item(i)?.extract::<f64>()
}

fn put(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn write_point(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let x = float_at(obj, 0)?;
    let y = float_at(obj, 1)?;
    put(out, x);
    put(out, y);
    Ok(())
}

/// `(x, y)` or a Point.
pub fn encode_point(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    write_point(value, out)
}

/// `(A, B, C)` or a Line.
pub fn encode_line(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let (a, b, c) = (float_at(value, 0)?, float_at(value, 1)?, float_at(value, 2)?);
    put(out, a);
    put(out, b);
    put(out, c);
    Ok(())
}

/// Two points: lseg `(p1, p2)` and box `(high, low)`.
pub fn encode_two_points(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    write_point(&value.get_item(0)?, out)?;
    write_point(&value.get_item(1)?, out)
}

/// `((x, y), r)` or a Circle.
pub fn encode_circle(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    write_point(&value.get_item(0)?, out)?;
    let radius = float_at(value, 1)?;
    put(out, radius);
    Ok(())
}

fn write_points(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let n = value.len()?;
    let count = i32::try_from(n).map_err(|_| pyo3::exceptions::PyValueError::new_err("too many points"))?;
    out.extend_from_slice(&count.to_be_bytes());
    for i in 0..n {
        write_point(&value.get_item(i)?, out)?;
    }
    Ok(())
}

/// A sequence of points: a tuple is a closed path, a list an open one, a Path says which it is.
pub fn encode_path(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    let py = value.py();
    let closed = if value.is_instance_of::<PyTuple>() {
        true
    } else if value.is_instance_of::<PyList>() {
        false
    } else if value.is_instance(classes::path(py)?)? {
        value.getattr(intern!(py, "is_closed"))?.is_truthy()?
    } else {
        false
    };
    out.push(u8::from(closed));
    write_points(value, out)
}

/// A sequence of points.
pub fn encode_polygon(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    write_points(value, out)
}
