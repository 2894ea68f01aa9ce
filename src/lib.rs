//! asyncpg_rs._native: the Rust core of asyncpg-rs.
//!
//! Rooms: `protocol` (one PostgreSQL session driven by asyncio), `codecs` (binary format <-> Python),
//! `record` (the Record type), `errors` (server errors -> asyncpg exception classes).

use pyo3::prelude::*;

pub mod codecs;
pub mod errors;
pub mod protocol;
pub mod record;

// The free-threading audit is docs/free-threading.md: every #[pyclass] is frozen or borrow-checked,
// module state is once-cells, atomics or thread-locals.
#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    record::register(m)?;
    codecs::register(m)?;
    protocol::register(m)?;
    Ok(())
}
