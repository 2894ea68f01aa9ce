//! Bench-only prototype of bridge design "A" (docs/bridge.md).
//!
//! The conventional PyO3 way to expose an async Rust driver: the connection lives on a tokio
//! runtime (tokio-postgres' `Connection` future runs as a tokio task), every Python-facing
//! coroutine is a Rust future handed to `pyo3_async_runtimes::tokio::future_into_py`, which runs
//! it on tokio and, when it finishes, takes the GIL on a blocking-pool thread to build the Python
//! result and schedules `future.set_result` on the event loop with `call_soon_threadsafe`.
//! This is what psqlpy does. It exists only so that `benches/bridge_compare.py` can measure it
//! against the design the driver uses (D, an asyncio Protocol in Rust).
//!
//! Rows are decoded by tokio-postgres into Rust values on the tokio thread, then turned into
//! Python objects under the GIL. Prepared statements are cached per connection (by SQL text),
//! as asyncpg and asyncpg_rs do, so every query is one round trip (Bind/Execute/Sync).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement};

fn pg_err(e: tokio_postgres::Error) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// One decoded column value, owned by Rust until the GIL is taken.
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl<'py> IntoPyObject<'py> for Value {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Value::Null => py.None().into_bound(py),
            Value::Bool(v) => v.into_pyobject(py)?.to_owned().into_any(),
            Value::Int(v) => v.into_pyobject(py)?.into_any(),
            Value::Float(v) => v.into_pyobject(py)?.into_any(),
            Value::Text(v) => v.into_pyobject(py)?.into_any(),
        })
    }
}

/// One row, handed to Python as a tuple.
struct Row(Vec<Value>);

impl<'py> IntoPyObject<'py> for Row {
    type Target = PyTuple;
    type Output = Bound<'py, PyTuple>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.0)
    }
}

fn decode(row: &tokio_postgres::Row, idx: usize) -> PyResult<Value> {
    let ty = row.columns()[idx].type_();
    let value = match *ty {
        Type::BOOL => row.try_get::<_, Option<bool>>(idx).map(|v| v.map(Value::Bool)),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(idx)
            .map(|v| v.map(|x| Value::Int(x.into()))),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(idx)
            .map(|v| v.map(|x| Value::Int(x.into()))),
        Type::INT8 => row.try_get::<_, Option<i64>>(idx).map(|v| v.map(Value::Int)),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(idx)
            .map(|v| v.map(|x| Value::Float(x.into()))),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(idx).map(|v| v.map(Value::Float)),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(idx).map(|v| v.map(Value::Text))
        }
        _ => return Err(PyValueError::new_err(format!("bridge_proto cannot decode type {ty}"))),
    };
    Ok(value.map_err(pg_err)?.unwrap_or(Value::Null))
}

struct Inner {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

impl Inner {
    async fn statement(&self, sql: &str) -> PyResult<Statement> {
        let cached = match self.statements.lock() {
            Ok(map) => map.get(sql).cloned(),
            Err(_) => return Err(PyRuntimeError::new_err("statement cache poisoned")),
        };
        if let Some(stmt) = cached {
            return Ok(stmt);
        }
        let stmt = self.client.prepare(sql).await.map_err(pg_err)?;
        if let Ok(mut map) = self.statements.lock() {
            map.insert(sql.to_owned(), stmt.clone());
        }
        Ok(stmt)
    }

    async fn fetch(&self, sql: &str) -> PyResult<Vec<Row>> {
        let stmt = self.statement(sql).await?;
        let rows = self.client.query(&stmt, &[]).await.map_err(pg_err)?;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| decode(row, i)).collect::<PyResult<_>>().map(Row))
            .collect()
    }

    async fn fetchval(&self, sql: &str) -> PyResult<Value> {
        let stmt = self.statement(sql).await?;
        let rows = self.client.query(&stmt, &[]).await.map_err(pg_err)?;
        match rows.first() {
            Some(row) if !row.is_empty() => decode(row, 0),
            _ => Ok(Value::Null),
        }
    }
}

/// A tokio-postgres connection driven by a tokio task.
#[pyclass(frozen)]
struct Connection {
    inner: Arc<Inner>,
}

#[pymethods]
impl Connection {
    /// `await con.fetchval_select1()` -> 1
    fn fetchval_select1<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move { inner.fetchval("SELECT 1").await })
    }

    /// `await con.fetchval(sql)` -> first column of the first row, or None.
    fn fetchval<'py>(&self, py: Python<'py>, sql: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move { inner.fetchval(&sql).await })
    }

    /// `await con.fetch_rows(sql)` -> list of tuples.
    fn fetch_rows<'py>(&self, py: Python<'py>, sql: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = Arc::clone(&self.inner);
        pyo3_async_runtimes::tokio::future_into_py(py, async move { inner.fetch(&sql).await })
    }
}

/// `await bridge_proto.connect(dsn)` -> Connection (libpq-style DSN or URL).
#[pyfunction]
fn connect(py: Python<'_>, dsn: String) -> PyResult<Bound<'_, PyAny>> {
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let (client, connection) = tokio_postgres::connect(&dsn, NoTls).await.map_err(pg_err)?;
        tokio::spawn(async move {
            // The connection ends with an error only when the server goes away; the next query
            // on the client reports it.
            let _ = connection.await;
        });
        Ok(Connection {
            inner: Arc::new(Inner {
                client,
                statements: Mutex::new(HashMap::new()),
            }),
        })
    })
}

/// Configure the tokio runtime before first use: `init_runtime(worker_threads)`.
/// Without it pyo3-async-runtimes builds a multi-thread runtime with one worker per core.
#[pyfunction]
fn init_runtime(worker_threads: usize) -> PyResult<()> {
    if worker_threads == 0 {
        return Err(PyValueError::new_err("worker_threads must be at least 1"));
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(worker_threads).enable_all();
    pyo3_async_runtimes::tokio::init(builder);
    Ok(())
}

#[pymodule]
fn bridge_proto(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(init_runtime, m)?)?;
    m.add_class::<Connection>()?;
    Ok(())
}
