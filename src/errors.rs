//! Errors cross into Python here, and only here: server ErrorResponse fields become instances of the
//! generated asyncpg exception classes (looked up in `asyncpg_rs.exceptions`), client-side failures
//! become asyncpg's client exception classes.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn exceptions<'py>(py: Python<'py>) -> PyResult<&'py Bound<'py, PyModule>> {
    EXCEPTIONS
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("asyncpg_rs.exceptions")?.unbind()))
        .map(|m| m.bind(py))
}

/// The exception class `name` from `asyncpg_rs.exceptions`.
pub fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    exceptions(py)?.getattr(name)
}

/// An instance of the client-side exception class `name` with `message`, as a `PyErr`.
pub fn client_error(py: Python<'_>, name: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match class(py, name).and_then(|cls| cls.call1((message.clone(),))) {
        Ok(inst) => PyErr::from_value(inst),
        Err(e) => e,
    }
}

/// An instance of the client-side exception class `name` with `message` and a `hint`, as a `PyErr`.
pub fn client_error_with_hint(py: Python<'_>, name: &str, message: impl Into<String>, hint: &str) -> PyErr {
    let message = message.into();
    let made = class(py, name).and_then(|cls| {
        let kwargs = PyDict::new(py);
        kwargs.set_item("hint", hint)?;
        cls.call((message.clone(),), Some(&kwargs))
    });
    match made {
        Ok(inst) => PyErr::from_value(inst),
        Err(e) => e,
    }
}

/// Raw fields of an ErrorResponse or NoticeResponse: (field code, value).
pub type Fields = Vec<(u8, String)>;

fn fields_dict<'py>(py: Python<'py>, fields: &Fields) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (code, value) in fields {
        d.set_item(char::from(*code).to_string(), value)?;
    }
    Ok(d)
}

/// The asyncpg exception instance for a server ErrorResponse.
pub fn server_error(py: Python<'_>, fields: &Fields, query: Option<&str>) -> PyErr {
    let made = fields_dict(py, fields).and_then(|d| {
        exceptions(py)?
            .getattr("_base")?
            .getattr("_make_server_error")?
            .call1((d, query))
    });
    match made {
        Ok(inst) => PyErr::from_value(inst),
        Err(e) => e,
    }
}

/// The `PostgresLogMessage` instance for a NoticeResponse.
pub fn log_message<'py>(py: Python<'py>, fields: &Fields) -> PyResult<Bound<'py, PyAny>> {
    let d = fields_dict(py, fields)?;
    exceptions(py)?
        .getattr("_base")?
        .getattr("_make_log_message")?
        .call1((d,))
}

/// The SQLSTATE of raw error fields.
pub fn sqlstate(fields: &Fields) -> &str {
    fields.iter().find(|(c, _)| *c == b'C').map_or("", |(_, v)| v.as_str())
}

/// The primary message of raw error fields.
pub fn message(fields: &Fields) -> &str {
    fields.iter().find(|(c, _)| *c == b'M').map_or("", |(_, v)| v.as_str())
}
