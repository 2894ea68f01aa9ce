//! The Record type: an immutable row, indexable by position and by column name.
//!
//! INTERFACE (stable, used by `protocol`):
//! - `RecordDescriptor::new(py, names) -> PyResult<Arc<RecordDescriptor>>`, shared by all rows of a result.
//! - `PyRecord::new_object(py, &desc, values, record_class) -> PyResult<Py<PyAny>>` where
//!   `record_class` is `None` for the default `Record` or a Python subclass of it, or exactly
//!   `dict` / `tuple` for plain rows (the `row_format` connection option).
//!
//! Behaviour follows asyncpg's `Record`: integers (and objects with `__index__`) index by
//! position, slices give tuples, anything else is a column name; comparison and hashing are those
//! of the tuple of values. Users cannot instantiate `Record` or its subclasses themselves; rows
//! of a subclass (`record_class=`) are made here, bypassing the subclass' `__new__`/`__init__`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pyo3::exceptions::{
    PyIndexError, PyKeyError, PyOverflowError, PyRuntimeError, PySystemError, PyTypeError, PyValueError,
};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::{CompareOp, PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyInt, PyList, PySlice, PyString, PyTuple, PyType};

/// Set by `install_as_asyncpg()`: messages and reprs then name the classes by asyncpg's paths
/// (`asyncpg.protocol.record.Record`), which is what code written for asyncpg matches on.
static ASYNCPG_NAMES: AtomicBool = AtomicBool::new(false);

/// The module path shown for Record and its iterators.
fn record_module() -> &'static str {
    if ASYNCPG_NAMES.load(Ordering::Relaxed) {
        "asyncpg.protocol.record"
    } else {
        "asyncpg_rs"
    }
}

/// The public name of the Record class in messages.
fn record_public_name() -> &'static str {
    if ASYNCPG_NAMES.load(Ordering::Relaxed) {
        "asyncpg.Record"
    } else {
        "asyncpg_rs.Record"
    }
}

/// Column names of a result, shared by every row.
pub struct RecordDescriptor {
    /// Column names in order (duplicates kept); `keys()` iterates this tuple.
    names: Py<PyTuple>,
    /// Column name -> position; with duplicate names the last one wins, as in asyncpg.
    index: Py<PyDict>,
    len: usize,
}

impl RecordDescriptor {
    /// Build a descriptor from column names.
    pub fn new(py: Python<'_>, names: Vec<String>) -> PyResult<Arc<RecordDescriptor>> {
        let names = PyTuple::new(py, names)?;
        let index = PyDict::new(py);
        for (i, name) in names.iter().enumerate() {
            index.set_item(name, i)?;
        }
        let len = names.len();
        Ok(Arc::new(RecordDescriptor {
            names: names.unbind(),
            index: index.unbind(),
            len,
        }))
    }

    /// A descriptor over a name -> position mapping as asyncpg's `_create_record` takes it: the
    /// names are the mapping's keys in iteration order, `None` means no names. Nothing checks that
    /// the positions fit the values; lookups that do not fit raise, as in asyncpg.
    fn from_mapping(py: Python<'_>, mapping: &Bound<'_, PyAny>) -> PyResult<Arc<RecordDescriptor>> {
        if mapping.is_none() {
            return RecordDescriptor::new(py, Vec::new());
        }
        let names = PyTuple::new(py, mapping.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
        let index = PyDict::new(py);
        for name in names.iter() {
            index.set_item(&name, mapping.get_item(&name)?)?;
        }
        let len = names.len();
        Ok(Arc::new(RecordDescriptor {
            names: names.unbind(),
            index: index.unbind(),
            len,
        }))
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the result has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The column names, in order.
    pub fn names<'py>(&self, py: Python<'py>) -> &Bound<'py, PyTuple> {
        self.names.bind(py)
    }

    /// Whether `key` names a column. Any error raised while hashing or comparing the key means
    /// "no", as in asyncpg (`r[[]]` is a `KeyError`).
    fn contains(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> bool {
        self.index.bind(py).contains(key).unwrap_or(false)
    }
}

thread_local! {
    /// The row handed from `new_object` to `__new__` while making an instance of a subclass.
    static PENDING: Cell<Option<PyRecord>> = const { Cell::new(None) };
}

/// A row of a query result.
#[pyclass(name = "Record", module = "asyncpg_rs", subclass, frozen)]
pub struct PyRecord {
    desc: Arc<RecordDescriptor>,
    values: Box<[Py<PyAny>]>,
}

impl PyRecord {
    /// Make a Record (or an instance of `record_class`) for one row.
    ///
    /// `values` must hold one value per column of `desc`; build it with
    /// `Vec::with_capacity(desc.len())` so that no reallocation happens here.
    pub fn new_object(
        py: Python<'_>,
        desc: &Arc<RecordDescriptor>,
        values: Vec<Py<PyAny>>,
        record_class: Option<&Bound<'_, PyType>>,
    ) -> PyResult<Py<PyAny>> {
        if values.len() != desc.len() {
            return Err(PySystemError::new_err(format!(
                "record has {} values for {} columns",
                values.len(),
                desc.len()
            )));
        }
        if let Some(cls) = record_class {
            // The `row_format` connection option: plain rows, without a Record.
            if cls.is(py.get_type::<PyDict>()) {
                return Self::new_dict(py, desc, values);
            }
            if cls.is(py.get_type::<PyTuple>()) {
                return Ok(PyTuple::new(py, values)?.into_any().unbind());
            }
        }
        // SAFETY: every pointer is a live object owned by `values`.
        let atomic = values
            .iter()
            .all(|v| unsafe { ffi::PyObject_GC_IsTracked(v.as_ptr()) == 0 });
        let record = PyRecord {
            desc: Arc::clone(desc),
            values: values.into_boxed_slice(),
        };
        let obj = match record_class {
            Some(cls) if !cls.is(py.get_type::<PyRecord>()) => Self::new_subclass_object(py, record, cls)?,
            _ => Py::new(py, record)?.into_any(),
        };
        if atomic {
            // NOTE: a row of untracked values (ints, str, floats, None, dates, ...) cannot be part of a
            // reference cycle, so the cycle collector need not visit it, as CPython does for such
            // tuples. Profiled 2026-11-25: GC traversal was a third of a 100,000-row fetch.
            // SAFETY: `obj` is a live Record, tracked by its allocator; untracking it is allowed.
            unsafe { ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
        }
        Ok(obj)
    }

    /// A row as a `dict` of column name -> value; with duplicate names the last value wins at the
    /// first name's position, as `dict(record)` gives.
    fn new_dict(py: Python<'_>, desc: &Arc<RecordDescriptor>, values: Vec<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let dict = PyDict::new(py);
        for (name, value) in desc.names(py).iter().zip(values) {
            dict.set_item(name, value)?;
        }
        Ok(dict.into_any().unbind())
    }

    /// Make an instance of a Python subclass of Record through Record's own `tp_new`, which
    /// allocates with the subclass' `tp_alloc` and takes the row from `PENDING`.
    fn new_subclass_object(py: Python<'_>, record: PyRecord, cls: &Bound<'_, PyType>) -> PyResult<Py<PyAny>> {
        if !cls.is_subclass_of::<PyRecord>()? {
            return Err(PyTypeError::new_err(format!(
                "record_class is expected to be a subclass of {}, got {}",
                record_public_name(),
                cls.repr()?
            )));
        }
        let base = py.get_type::<PyRecord>();
        // SAFETY: `base` is the type object of Record, alive for the whole call (bound to `py`).
        let tp_new = unsafe { (*base.as_type_ptr()).tp_new };
        let Some(tp_new) = tp_new else {
            return Err(PySystemError::new_err("Record has no tp_new"));
        };
        let args = PyTuple::empty(py);
        PENDING.with(|p| p.set(Some(record)));
        // SAFETY: `cls` is a subtype of Record (checked above), so Record's tp_new may allocate
        // an instance of it; `args` is a valid tuple and kwargs may be NULL.
        let obj = unsafe { tp_new(cls.as_type_ptr(), args.as_ptr(), std::ptr::null_mut()) };
        // Drop the row if tp_new failed before taking it.
        PENDING.with(Cell::take);
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: a non-NULL result of tp_new is a new (owned) reference.
        Ok(unsafe { Bound::from_owned_ptr(py, obj) }.unbind())
    }

    /// The value at position `i` (negative counts from the end).
    fn item_at(&self, py: Python<'_>, i: isize) -> PyResult<Py<PyAny>> {
        let len = self.values.len() as isize;
        let j = if i < 0 { i + len } else { i };
        if j < 0 || j >= len {
            return Err(PyIndexError::new_err("record index out of range"));
        }
        Ok(self.values[j as usize].clone_ref(py))
    }

    /// The values as a slice, for comparison with another Record or a tuple.
    fn compare_items<'py>(&self, py: Python<'py>, other: &[Bound<'py, PyAny>], op: CompareOp) -> PyResult<Py<PyAny>> {
        let mine = &self.values;
        let common = mine.len().min(other.len());
        let mut first_diff = common;
        for i in 0..common {
            let a = mine[i].bind(py);
            let b = &other[i];
            if !a.is(b) && !a.eq(b)? {
                first_diff = i;
                break;
            }
        }
        if first_diff == common {
            // Equal up to the shorter length: the lengths decide, as for tuples.
            return Ok(op
                .matches(mine.len().cmp(&other.len()))
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind());
        }
        match op {
            CompareOp::Eq => Ok(false.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok(true.into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(mine[first_diff].bind(py).rich_compare(&other[first_diff], op)?.unbind()),
        }
    }

    /// Look `key` up as a column name. A position that does not name a value (only possible in
    /// records built by `_create_record`) is a RuntimeError, as in asyncpg.
    fn get_by_name(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let found = match self.desc.index.bind(py).get_item(key) {
            Ok(Some(i)) => i,
            _ => return Ok(None),
        };
        found
            .extract::<usize>()
            .ok()
            .and_then(|i| self.values.get(i))
            .map(|v| Some(v.clone_ref(py)))
            .ok_or_else(|| PyRuntimeError::new_err("invalid record descriptor"))
    }
}

/// Convert an object with `__index__` to an index, raising IndexError when it does not fit.
fn as_index(key: &Bound<'_, PyAny>) -> PyResult<isize> {
    let py = key.py();
    let int = if key.is_instance_of::<PyInt>() {
        key.clone()
    } else {
        // SAFETY: `key` is a valid object; PyNumber_Index returns a new reference or NULL with an
        // exception set.
        let ptr = unsafe { ffi::PyNumber_Index(key.as_ptr()) };
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: non-NULL new reference from PyNumber_Index.
        unsafe { Bound::from_owned_ptr(py, ptr) }
    };
    int.extract::<isize>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(py) {
            PyIndexError::new_err("cannot fit 'int' into an index-sized integer")
        } else {
            e
        }
    })
}

/// True when `key` supports `__index__` (int, bool, numpy integers, ...).
fn has_index(key: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `key` is a valid object; PyIndex_Check only reads its type.
    key.is_instance_of::<PyInt>() || unsafe { ffi::PyIndex_Check(key.as_ptr()) != 0 }
}

#[pymethods]
impl PyRecord {
    /// Users cannot create Records; this only finishes rows started by `new_object`.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __new__(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        PENDING
            .with(Cell::take)
            .ok_or_else(|| PyTypeError::new_err(format!("cannot create '{}.Record' instances", record_module())))
    }

    fn __len__(&self) -> usize {
        self.values.len()
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if key.is_exact_instance_of::<PyString>() {
            // Fast path: a column name.
        } else if has_index(key) {
            return self.item_at(py, as_index(key)?);
        } else if let Ok(slice) = key.cast::<PySlice>() {
            let ind = slice.indices(self.values.len() as isize)?;
            let mut out = Vec::with_capacity(ind.slicelength);
            let mut i = ind.start;
            for _ in 0..ind.slicelength {
                // PySlice_GetIndicesEx keeps every produced index within 0..len.
                out.push(self.values[i as usize].clone_ref(py));
                i += ind.step;
            }
            return Ok(PyTuple::new(py, out)?.into_any().unbind());
        }
        self.get_by_name(py, key)?
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> bool {
        self.desc.contains(py, key)
    }

    fn __iter__(slf: Bound<'_, Self>) -> RecordIterator {
        RecordIterator {
            record: Some(slf.unbind()),
            pos: 0,
        }
    }

    /// Return the value for column `key`, or `default` (positional arguments only).
    #[pyo3(signature = (*args, **kwargs))]
    fn get(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let n = args.len();
        if !(1..=2).contains(&n) {
            return Err(PyTypeError::new_err(format!(
                "Record.get() expected 1 or 2 arguments, got {n}"
            )));
        }
        if kwargs.is_some_and(|k| !k.is_empty()) {
            return Err(PyTypeError::new_err("Record.get() takes no keyword arguments"));
        }
        let key = args.get_item(0)?;
        match self.get_by_name(py, &key)? {
            Some(v) => Ok(v),
            None if n == 2 => Ok(args.get_item(1)?.unbind()),
            None => Ok(py.None()),
        }
    }

    /// Return an iterator over the column names.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.desc.names(py).as_any().try_iter().map(Bound::into_any)
    }

    /// Return an iterator over the values.
    fn values(slf: Bound<'_, Self>) -> RecordIterator {
        RecordIterator {
            record: Some(slf.unbind()),
            pos: 0,
        }
    }

    /// Return an iterator over `(name, value)` pairs.
    fn items(slf: Bound<'_, Self>) -> RecordItemsIterator {
        RecordItemsIterator {
            record: Some(slf.unbind()),
            pos: 0,
        }
    }

    fn __richcmp__<'py>(&self, other: &Bound<'py, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        if let Ok(rec) = other.cast::<PyRecord>() {
            let theirs: Vec<Bound<'py, PyAny>> = rec.get().values.iter().map(|v| v.bind(py).clone()).collect();
            self.compare_items(py, &theirs, op)
        } else if let Ok(tuple) = other.cast::<PyTuple>() {
            self.compare_items(py, tuple.as_slice(), op)
        } else {
            Ok(py.NotImplemented())
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        tuple_hash(py, &self.values)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let type_name = slf.get_type().name()?;
        // SAFETY: `slf` is a valid object; Py_ReprEnter returns -1 on error, 1 when `slf` is
        // already being repr'd on this thread, 0 otherwise (then Py_ReprLeave must follow).
        let entered = unsafe { ffi::Py_ReprEnter(slf.as_ptr()) };
        if entered < 0 {
            return Err(PyErr::fetch(py));
        }
        if entered > 0 {
            return Ok(PyString::new(py, &format!("<{type_name} ...>")).into_any().unbind());
        }
        let result = record_repr(slf, &type_name);
        // SAFETY: paired with the successful Py_ReprEnter above.
        unsafe { ffi::Py_ReprLeave(slf.as_ptr()) };
        result
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for v in &self.values {
            visit.call(v)?;
        }
        Ok(())
    }

    /// Pickle support (asyncpg lacks it): rebuilt through `_make_record`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let make = py.import("asyncpg_rs._native")?.getattr("_make_record")?;
        let values = PyTuple::new(py, this.values.iter().map(|v| v.bind(py)))?;
        // The base class is implied (and need not be importable by name); subclasses pickle by reference.
        let cls = slf.get_type();
        let cls = if cls.is(py.get_type::<PyRecord>()) {
            py.None().into_bound(py)
        } else {
            cls.into_any()
        };
        let args = (this.desc.names(py).clone(), values, cls);
        PyTuple::new(py, [make, args.into_pyobject(py)?.into_any()])
    }
}

/// `<Name a=1 b='x'>`: names as they are, values by `repr()`.
fn record_repr(slf: &Bound<'_, PyRecord>, type_name: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let this = slf.get();
    let parts = PyList::empty(py);
    parts.append(format!("<{type_name}"))?;
    let names = this.desc.names(py);
    for (i, value) in this.values.iter().enumerate() {
        // Fewer names than values only in records built by `_create_record`.
        let name = names
            .get_item(i)
            .map_err(|_| PyRuntimeError::new_err("invalid record mapping"))?;
        parts.append(format!(" {}=", name.str()?))?;
        parts.append(value.bind(py).repr()?)?;
    }
    parts.append(">")?;
    Ok(PyString::new(py, "").call_method1("join", (parts,))?.unbind())
}

/// The hash `tuple(values)` would have, so that a Record and the equal tuple are the same dict key.
fn tuple_hash(py: Python<'_>, values: &[Py<PyAny>]) -> PyResult<isize> {
    #[cfg(target_pointer_width = "64")]
    {
        // CPython's tuple hash (3.8+): xxHash64's round over the item hashes.
        const PRIME_1: u64 = 11_400_714_785_074_694_791;
        const PRIME_2: u64 = 14_029_467_366_897_019_727;
        const PRIME_5: u64 = 2_870_177_450_012_600_261;
        let mut acc = PRIME_5;
        for v in values {
            let lane = v.bind(py).hash()? as u64;
            acc = acc.wrapping_add(lane.wrapping_mul(PRIME_2));
            acc = acc.rotate_left(31);
            acc = acc.wrapping_mul(PRIME_1);
        }
        acc = acc.wrapping_add((values.len() as u64) ^ (PRIME_5 ^ 3_527_539));
        if acc == u64::MAX {
            return Ok(1_546_275_796);
        }
        Ok(acc as isize)
    }
    #[cfg(not(target_pointer_width = "64"))]
    {
        PyTuple::new(py, values.iter().map(|v| v.bind(py)))?.hash()
    }
}

/// Iterator over a Record's values (`iter(r)`, `r.values()`). It lets go of the record once
/// exhausted, as asyncpg's does.
#[pyclass(module = "asyncpg_rs")]
pub struct RecordIterator {
    record: Option<Py<PyRecord>>,
    pos: usize,
}

#[pymethods]
impl RecordIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> Option<Py<PyAny>> {
        let record = self.record.as_ref()?;
        match record.get().values.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Some(v.clone_ref(py))
            }
            None => {
                self.record = None;
                None
            }
        }
    }

    fn __length_hint__(&self) -> usize {
        self.record
            .as_ref()
            .map_or(0, |r| r.get().values.len().saturating_sub(self.pos))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<{}.RecordIterator object at {:p}>", record_module(), slf.as_ptr())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(r) = &self.record {
            visit.call(r)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.record = None;
    }
}

/// Iterator over a Record's `(name, value)` pairs (`r.items()`); lets go of the record once
/// exhausted.
#[pyclass(module = "asyncpg_rs")]
pub struct RecordItemsIterator {
    record: Option<Py<PyRecord>>,
    pos: usize,
}

#[pymethods]
impl RecordItemsIterator {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let Some(record) = self.record.as_ref() else {
            return Ok(None);
        };
        let record = record.get();
        let names = record.desc.names(py);
        // Fewer names than values only in records built by `_create_record`.
        let Some(value) = record.values.get(self.pos).filter(|_| self.pos < names.len()) else {
            self.record = None;
            return Ok(None);
        };
        let pair = PyTuple::new(py, [names.get_item(self.pos)?, value.bind(py).clone()])?;
        self.pos += 1;
        Ok(Some(pair))
    }

    fn __length_hint__(&self) -> usize {
        self.record.as_ref().map_or(0, |r| {
            let r = r.get();
            r.values.len().min(r.desc.len()).saturating_sub(self.pos)
        })
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<{}.RecordItemsIterator object at {:p}>", record_module(), slf.as_ptr())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(r) = &self.record {
            visit.call(r)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.record = None;
    }
}

/// Build a Record from Python (tests and unpickling): `_make_record(names, values, record_class=None)`.
#[pyfunction]
#[pyo3(signature = (names, values, record_class = None))]
fn _make_record(
    py: Python<'_>,
    names: Vec<String>,
    values: Vec<Py<PyAny>>,
    record_class: Option<&Bound<'_, PyType>>,
) -> PyResult<Py<PyAny>> {
    if names.len() != values.len() {
        return Err(PyValueError::new_err(format!(
            "{} names for {} values",
            names.len(),
            values.len()
        )));
    }
    if let Some(cls) = record_class {
        // Only Records here (dict/tuple rows are the protocol's, for `row_format`).
        if !cls.is_subclass_of::<PyRecord>()? {
            return Err(PyTypeError::new_err(format!(
                "record_class is expected to be a subclass of asyncpg_rs.Record, got {}",
                cls.repr()?
            )));
        }
    }
    let desc = RecordDescriptor::new(py, names)?;
    PyRecord::new_object(py, &desc, values, record_class)
}

/// asyncpg's `asyncpg.protocol.protocol._create_record(mapping, elems)`: a Record over a
/// name -> position mapping (or `None`) and a tuple of values, unchecked, as asyncpg's tests
/// build them (lookups that do not fit raise RuntimeError rather than crash).
#[pyfunction]
fn _create_record(py: Python<'_>, mapping: &Bound<'_, PyAny>, elems: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    let desc = RecordDescriptor::from_mapping(py, mapping)?;
    let values: Vec<Py<PyAny>> = elems.iter().map(Bound::unbind).collect();
    Ok(Py::new(
        py,
        PyRecord {
            desc,
            values: values.into_boxed_slice(),
        },
    )?
    .into_any())
}

/// `_set_asyncpg_names(on)`: name Record and its iterators by asyncpg's paths in messages and
/// reprs (called by `install_as_asyncpg()`).
#[pyfunction]
fn _set_asyncpg_names(on: bool) {
    ASYNCPG_NAMES.store(on, Ordering::Relaxed);
}

/// Register the Record class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecord>()?;
    m.add_function(wrap_pyfunction!(_create_record, m)?)?;
    m.add_function(wrap_pyfunction!(_set_asyncpg_names, m)?)?;
    m.add_function(wrap_pyfunction!(_make_record, m)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pyo3::prelude::*;
    use pyo3::types::{PyDict, PyList, PyTuple, PyType};

    use super::{PyRecord, RecordDescriptor};

    fn row(py: Python<'_>, desc: &Arc<RecordDescriptor>, cls: Option<&Bound<'_, PyType>>) -> PyResult<Py<PyAny>> {
        let mut values = Vec::with_capacity(desc.len());
        for i in 0..desc.len() {
            values.push(i.into_pyobject(py)?.into_any().unbind());
        }
        PyRecord::new_object(py, desc, values, cls)
    }

    #[test]
    fn duplicate_names_resolve_to_the_last_column() {
        Python::initialize();
        Python::attach(|py| -> PyResult<()> {
            let desc = RecordDescriptor::new(py, vec!["a".into(), "b".into(), "a".into()])?;
            assert_eq!(desc.len(), 3);
            let r = row(py, &desc, None)?;
            let r = r.bind(py);
            assert_eq!(r.get_item("a")?.extract::<usize>()?, 2);
            assert_eq!(r.get_item("b")?.extract::<usize>()?, 1);
            assert_eq!(r.len()?, 3);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn value_count_must_match_columns() {
        Python::initialize();
        Python::attach(|py| {
            let desc = RecordDescriptor::new(py, vec!["a".into()]).unwrap();
            assert!(PyRecord::new_object(py, &desc, Vec::new(), None).is_err());
        });
    }

    #[test]
    fn subclass_rows_have_the_subclass_type() {
        Python::initialize();
        Python::attach(|py| -> PyResult<()> {
            let globals = PyDict::new(py);
            globals.set_item("Record", py.get_type::<PyRecord>())?;
            py.run(
                c"class Sub(Record):\n    def __getattr__(self, n):\n        return self[n]\n",
                Some(&globals),
                None,
            )?;
            let sub = globals.get_item("Sub")?.expect("Sub defined").cast_into::<PyType>()?;
            let desc = RecordDescriptor::new(py, vec!["x".into(), "y".into()])?;
            for _ in 0..1000 {
                let r = row(py, &desc, Some(&sub))?;
                let r = r.bind(py);
                assert!(r.get_type().is(&sub));
                assert_eq!(r.getattr("y")?.extract::<usize>()?, 1);
            }
            // Users still cannot make one.
            assert!(sub.call0().is_err());
            assert!(py.get_type::<PyRecord>().call0().is_err());
            // A class that is not a Record subclass is refused, except exactly dict and tuple
            // (plain rows for the `row_format` option).
            let not_sub = py.get_type::<PyList>();
            assert!(row(py, &desc, Some(&not_sub)).is_err());
            let as_dict = row(py, &desc, Some(&py.get_type::<PyDict>()))?;
            assert_eq!(as_dict.bind(py).cast::<PyDict>()?.len(), 2);
            let as_tuple = row(py, &desc, Some(&py.get_type::<PyTuple>()))?;
            assert_eq!(as_tuple.bind(py).cast::<PyTuple>()?.len(), 2);
            Ok(())
        })
        .unwrap();
    }
}
