//! The per-connection statement cache: query text -> named prepared statement, least recently used
//! out first, as asyncpg's `statement_cache_size` / `max_cacheable_statement_size` /
//! `max_cached_statement_lifetime`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::statement::{PyStatement, Statement};

struct Entry {
    stmt: Arc<Statement>,
    last_used: u64,
    prepared_at: Instant,
    /// The `StatementState` handed out for this entry, made on first use so that every use of
    /// the cached statement sees the same object (as in asyncpg).
    state: Option<Py<PyStatement>>,
}

impl Entry {
    fn state(&mut self, py: Python<'_>) -> PyResult<Py<PyStatement>> {
        if let Some(s) = &self.state {
            return Ok(s.clone_ref(py));
        }
        let s = Py::new(py, PyStatement::new(self.stmt.clone()))?;
        self.state = Some(s.clone_ref(py));
        Ok(s)
    }
}

/// FxHash (rustc's hasher): a multiply and a rotate per 8 bytes of query text.
///
/// NOTE: std's SipHash was ~200 instructions per lookup of a short query, a percent of a
/// `SELECT 1` round trip on uvloop (callgrind, 2026-12-02). Flooding needs no defence here: the
/// map holds at most `capacity` entries, so a collision costs at most that many comparisons.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// LRU map of prepared statements.
pub struct StatementCache {
    map: HashMap<String, Entry, BuildHasherDefault<FxHasher>>,
    tick: u64,
    /// Maximum number of statements; 0 disables named statements altogether.
    pub capacity: usize,
    /// Queries longer than this (in bytes) are never cached; 0 means no limit.
    pub max_query_size: usize,
    /// Statements older than this are re-prepared; `None` means forever.
    pub max_lifetime: Option<Duration>,
}

impl StatementCache {
    pub fn new(capacity: usize, max_query_size: usize, max_lifetime: Option<Duration>) -> Self {
        StatementCache {
            map: HashMap::default(),
            tick: 0,
            capacity,
            max_query_size,
            max_lifetime,
        }
    }

    /// Whether `query` may be cached at all.
    pub fn accepts(&self, query: &str) -> bool {
        self.capacity > 0 && (self.max_query_size == 0 || query.len() <= self.max_query_size)
    }

    /// The cached statement for `query`; an expired one is removed and its name pushed onto `closed`.
    pub fn get(&mut self, query: &str, closed: &mut Vec<Arc<Statement>>) -> Option<Arc<Statement>> {
        self.tick += 1;
        let tick = self.tick;
        let expired = match self.map.get_mut(query) {
            None => return None,
            Some(e) => {
                if self.max_lifetime.is_some_and(|l| e.prepared_at.elapsed() > l) {
                    true
                } else {
                    e.last_used = tick;
                    return Some(e.stmt.clone());
                }
            }
        };
        if expired {
            if let Some(e) = self.map.remove(query) {
                {
                    e.stmt.retire();
                    closed.push(e.stmt)
                };
            }
        }
        None
    }

    /// Add a statement, evicting the least recently used ones beyond capacity (their names go to `closed`).
    pub fn insert(&mut self, stmt: Arc<Statement>, closed: &mut Vec<Arc<Statement>>) {
        self.tick += 1;
        while self.map.len() >= self.capacity && !self.map.is_empty() {
            let oldest = self.map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone());
            match oldest.and_then(|k| self.map.remove(&k)) {
                Some(e) => {
                    e.stmt.retire();
                    closed.push(e.stmt)
                }
                None => break,
            }
        }
        if let Some(old) = self.map.insert(
            stmt.query.clone(),
            Entry {
                stmt,
                last_used: self.tick,
                prepared_at: Instant::now(),
                state: None,
            },
        ) {
            old.stmt.retire();
            closed.push(old.stmt);
        }
    }

    /// Drop the statement of `query` if it is the one named `name`.
    pub fn remove(&mut self, query: &str, name: &str) -> bool {
        if self.map.get(query).is_some_and(|e| e.stmt.name == name) {
            self.map.remove(query);
            true
        } else {
            false
        }
    }

    /// Drop everything; names go to `closed`.
    pub fn clear(&mut self, closed: &mut Vec<Arc<Statement>>) {
        closed.extend(self.map.drain().map(|(_, e)| {
            e.stmt.retire();
            e.stmt
        }));
    }

    /// The `StatementState` of the cached statement for `query` (LRU order and lifetime untouched).
    pub fn state_of(&mut self, py: Python<'_>, query: &str) -> PyResult<Option<Py<PyStatement>>> {
        self.map.get_mut(query).map(|e| e.state(py)).transpose()
    }

    /// asyncpg's `LRUCache.get(query, promote)`: the state, made most recently used with `promote`.
    pub fn peek(&mut self, py: Python<'_>, query: &str, promote: bool) -> PyResult<Option<Py<PyStatement>>> {
        self.tick += 1;
        let tick = self.tick;
        match self.map.get_mut(query) {
            None => Ok(None),
            Some(e) => {
                if promote {
                    e.last_used = tick;
                }
                e.state(py).map(Some)
            }
        }
    }

    /// The states of every cached statement, least recently used first.
    pub fn states(&mut self, py: Python<'_>) -> PyResult<Vec<Py<PyStatement>>> {
        let mut entries: Vec<&mut Entry> = self.map.values_mut().collect();
        entries.sort_by_key(|e| e.last_used);
        entries.into_iter().map(|e| e.state(py)).collect()
    }

    /// Change the maximum number of statements, evicting the least recently used beyond it
    /// (their names go to `closed`). 0 turns named statements off for later queries.
    pub fn set_capacity(&mut self, capacity: usize, closed: &mut Vec<Arc<Statement>>) {
        self.capacity = capacity;
        while self.map.len() > capacity {
            let oldest = self.map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone());
            match oldest.and_then(|k| self.map.remove(&k)) {
                Some(e) => {
                    e.stmt.retire();
                    closed.push(e.stmt)
                }
                None => break,
            }
        }
    }

    /// The connection is gone: every state handed out is closed, and nothing is left to close.
    pub fn close_all(&mut self) {
        for (_, e) in self.map.drain() {
            e.stmt.set_closed();
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
