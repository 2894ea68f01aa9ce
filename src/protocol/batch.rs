//! Streamed executemany/fetchmany: argument sets arrive from Python in batches (a generator or async
//! iterable), each batch is written as Bind/Execute messages, and one Sync ends the whole request.

use postgres_protocol::message::frontend;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyType};

use super::queue::{Args, Kind, Pending};
use super::statement::{Bind, PyStatement};
use super::wrap::io_err;
use super::{PyBaseProtocol, State};

/// As asyncpg: argument sets are written in groups of four packets of at least 32 KB each; a
/// group goes out once full, the last one with the Sync. A failure of the source (or of an
/// argument) drops the group being filled, so inside a transaction block exactly the groups
/// already written stay.
const PACKET_SIZE: usize = 32 * 1024;
const PACKETS_PER_WRITE: usize = 4;

impl PyBaseProtocol {
    /// Start an executemany/fetchmany whose argument sets are sent in batches (`many_batch`),
    /// all under one Sync (`many_end`). The caller keeps other requests off the connection until
    /// then. Resolves like `execute_statement_many`.
    pub(super) fn batch_start(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        mode: u8,
        record_class: Option<Py<PyType>>,
    ) -> PyResult<Py<PyAny>> {
        self.check_open(py)?;
        let mut then = self.then(py, Args::Many(PyList::empty(py).unbind()), mode, 0, record_class);
        // Batches already sent cannot be sent again: no transparent re-prepare.
        then.retried = true;
        let fut = self.new_future(py)?;
        self.queries_count += 1;
        self.pending.push_back(Pending {
            fut: fut.clone_ref(py),
            kind: Kind::Execute {
                stmt: stmt.get().inner.clone(),
                then,
                rows: Vec::new(),
                cached: false,
                invalidated: false,
                bound: false,
            },
            failure: None,
            status: None,
        });
        Ok(fut)
    }

    /// Send one batch of argument sets (Bind/Execute each). Returns False once the server has
    /// reported an error for this request: the rest would be ignored, stop producing it.
    pub(super) fn batch_send(
        &mut self,
        py: Python<'_>,
        stmt: &Bound<'_, PyStatement>,
        batch: &Bound<'_, PyList>,
        first: bool,
        offset: usize,
    ) -> PyResult<u8> {
        self.check_open(py)?;
        if self.pending.back().is_some_and(|p| p.failure.is_some()) {
            return Ok(0);
        }
        let mut wrote_group = false;
        let stmt = stmt.get().inner.clone();
        if first {
            self.write_pending_closes(py)?;
            if stmt.name.is_empty() {
                self.write_unnamed_parse(py, &stmt)?;
            }
            // What precedes the argument sets goes out now: from here on, the output buffer
            // holds only the group being filled, which a failure drops.
            self.flush(py)?;
            self.many_packet = (0, 0);
        }
        for (i, args) in batch.iter().enumerate() {
            let mark = self.outbuf.len();
            let written = (|| -> PyResult<()> {
                self.write_bind(py, "", &stmt, &args, Some(offset + i))?;
                if first && i == 0 && stmt.name.is_empty() {
                    frontend::describe(b'P', "", &mut self.outbuf).map_err(|e| io_err(py, e))?;
                }
                frontend::execute("", 0, &mut self.outbuf).map_err(|e| io_err(py, e))
            })();
            if let Err(e) = written {
                // Nothing half-written: the bad argument set's messages go.
                self.outbuf.truncate(mark);
                return Err(e);
            }
            let (mut packet, mut packets) = self.many_packet;
            packet += self.outbuf.len() - mark;
            if packet >= PACKET_SIZE {
                packet = 0;
                packets += 1;
                if packets == PACKETS_PER_WRITE {
                    packets = 0;
                    self.flush(py)?;
                    wrote_group = true;
                }
            }
            self.many_packet = (packet, packets);
        }
        Ok(if wrote_group { 2 } else { 1 })
    }

    /// Abandon a batched executemany after a client-side failure: inside a transaction block just
    /// Sync (the block is the user's), else roll the implicit transaction back first, so that
    /// nothing of it stays.
    pub(super) fn batch_abort(&mut self, py: Python<'_>, in_transaction: bool) -> PyResult<()> {
        if matches!(self.state, State::Closed) {
            return Ok(());
        }
        // The group being filled is dropped; groups already written stay inside a transaction
        // block, and are rolled back outside one.
        self.outbuf.clear();
        self.many_packet = (0, 0);
        if !in_transaction {
            frontend::parse("", "ROLLBACK", std::iter::empty(), &mut self.outbuf).map_err(|e| io_err(py, e))?;
            Bind::start(py, &mut self.outbuf, "", "", std::iter::empty())?.finish(py, &mut self.outbuf, &[])?;
            frontend::execute("", 0, &mut self.outbuf).map_err(|e| io_err(py, e))?;
        }
        frontend::sync(&mut self.outbuf);
        self.flush(py)
    }
}
