//! The per-connection statement cache: query text -> named prepared statement, least recently used
//! out first, as asyncpg's `statement_cache_size` / `max_cacheable_statement_size` /
//! `max_cached_statement_lifetime`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::statement::Statement;

struct Entry {
    stmt: Arc<Statement>,
    last_used: u64,
    prepared_at: Instant,
}

/// LRU map of prepared statements.
pub struct StatementCache {
    map: HashMap<String, Entry>,
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
            map: HashMap::new(),
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
                closed.push(e.stmt);
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
                Some(e) => closed.push(e.stmt),
                None => break,
            }
        }
        if let Some(old) = self.map.insert(
            stmt.query.clone(),
            Entry {
                stmt,
                last_used: self.tick,
                prepared_at: Instant::now(),
            },
        ) {
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
        closed.extend(self.map.drain().map(|(_, e)| e.stmt));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
