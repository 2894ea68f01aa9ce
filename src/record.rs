//! The Record type: an immutable row, indexable by position and by column name.
//!
//! INTERFACE (stable, used by `protocol`):
//! - `RecordDescriptor::new(py, names) -> PyResult<Arc<RecordDescriptor>>`, shared by all rows of a result.
//! - `PyRecord::new_object(py, &desc, values, record_class) -> PyResult<Py<PyAny>>` where
//!   `record_class` is `None` for the default `Record` or a Python subclass of it.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyType;

/// Column names of a result, shared by every row.
pub struct RecordDescriptor {
    names: Vec<String>,
}

impl RecordDescriptor {
    /// Build a descriptor from column names.
    pub fn new(_py: Python<'_>, names: Vec<String>) -> PyResult<Arc<RecordDescriptor>> {
        Ok(Arc::new(RecordDescriptor { names }))
    }
}

/// A row (stub).
#[pyclass(name = "Record", module = "asyncpg_rs", subclass, frozen)]
pub struct PyRecord {
    desc: Arc<RecordDescriptor>,
    values: Box<[Py<PyAny>]>,
}

impl PyRecord {
    /// Make a Record (or an instance of `record_class`) for one row.
    pub fn new_object(
        py: Python<'_>,
        desc: &Arc<RecordDescriptor>,
        values: Vec<Py<PyAny>>,
        _record_class: Option<&Bound<'_, PyType>>,
    ) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, PyRecord { desc: desc.clone(), values: values.into_boxed_slice() })?.into_any())
    }
}

#[pymethods]
impl PyRecord {
    fn __len__(&self) -> usize {
        self.values.len()
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(i) = key.extract::<usize>() {
            return self
                .values
                .get(i)
                .map(|v| v.clone_ref(py))
                .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("record index out of range"));
        }
        let name: String = key.extract()?;
        let i = self
            .desc
            .names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name))?;
        Ok(self.values[i].clone_ref(py))
    }
}

/// Register the Record class.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRecord>()
}
