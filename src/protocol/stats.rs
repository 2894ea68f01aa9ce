//! Counters of one session (`Connection.get_stats()`): always on, plain integers bumped on the
//! loop thread where the bytes, rows and failures already pass, read as one tuple from Python.

/// What a session has done since it was opened. `queries_count` (the pool's `max_queries`) lives
/// beside it in `PyBaseProtocol`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Stats {
    /// Requests that ended in an error (server ErrorResponse, or a value the client could not decode).
    pub errors: u64,
    /// Rows received (DataRow messages of queries, prepared statements and cursors).
    pub rows: u64,
    /// Bytes written to the transport.
    pub bytes_sent: u64,
    /// Bytes received from the transport.
    pub bytes_received: u64,
}
