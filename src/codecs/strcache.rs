//! Reuse of short ASCII `str` objects repeated within a result (low-cardinality text columns,
//! catalogue names such as `array_in`): one small cache per thread, in front of `text::ascii_str`.
//!
//! A `str` is immutable, so handing out the same object for equal text changes no value; only
//! `is` between two equal values can tell. The cache is two-way set-associative (a pair of slots per
//! hash, the older value goes), holds at most `SLOTS` strings of at most `MAX_LEN` bytes, and switches itself off
//! for a while when it stops hitting (columns of unique values), so that those pay one counter
//! decrement per value instead of a lookup.

use std::cell::{Cell, RefCell};

use pyo3::ffi;
use pyo3::prelude::*;

/// Number of slots (a power of two).
const SLOTS: usize = 1024;
/// Longer values are rarely repeated and cost more to compare: they are not cached.
pub const MAX_LEN: usize = 32;
/// Lookups per measuring window, and the hits a window needs to keep the cache on (half: a miss
/// costs about a quarter of what a hit saves, plus the eviction).
const WINDOW: u32 = 256;
const MIN_HITS: u32 = WINDOW / 2;
/// Values decoded without the cache after a window below `MIN_HITS`.
const PAUSE: u32 = 4096;

struct Cache {
    /// Owned references to compact ASCII strings (made by `text::ascii_str`), or NULL.
    slots: [*mut ffi::PyObject; SLOTS],
    /// Pairs (`slot / 2`) written since the last `release_cached_strings`; when it would hold
    /// SLOTS / 2 entries, `all` is set instead and every slot is released.
    written: Vec<u16>,
    all: bool,
    lookups: u32,
    hits: u32,
}

struct State {
    /// Values still to decode without the cache.
    paused: Cell<u32>,
    cache: RefCell<Cache>,
}

thread_local! {
    // NOTE: one constant-initialised thread-local for both, so that a lookup costs one
    // thread-local access (a call in a shared library). The strings are never released when the
    // thread ends (at most SLOTS short strings): that needs the GIL, which a thread-exit
    // destructor cannot rely on.
    static STATE: State = const {
        State {
            paused: Cell::new(0),
            cache: RefCell::new(Cache {
                slots: [std::ptr::null_mut(); SLOTS],
                written: Vec::new(),
                all: false,
                lookups: 0,
                hits: 0,
            }),
        }
    };
}

/// FxHash-style hash of up to `MAX_LEN` bytes, one 8-byte word at a time.
#[inline]
fn hash(buf: &[u8]) -> usize {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = buf.len() as u64;
    let mut chunks = buf.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    // A multiplication only carries differences upwards: finish with murmur3's mixer.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h as usize
}

/// The `str` for `buf` (ASCII, 2..=MAX_LEN bytes): a cached equal one, or a new one (then cached).
pub fn ascii_str_cached(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    debug_assert!(buf.is_ascii() && buf.len() <= MAX_LEN);
    let found = STATE.try_with(|state| {
        let n = state.paused.get();
        if n > 0 {
            state.paused.set(n - 1);
            return None;
        }
        let Ok(mut cache) = state.cache.try_borrow_mut() else {
            return None;
        };
        cache.lookups += 1;
        if cache.lookups == WINDOW {
            if cache.hits < MIN_HITS {
                state.paused.set(PAUSE);
            }
            cache.lookups = 0;
            cache.hits = 0;
        }
        // Two-way: a value lives in its slot or in the slot's pair (`slot ^ 1`), the newer one
        // in `slot`.
        let slot = hash(buf) & (SLOTS - 1);
        for at in [slot, slot ^ 1] {
            let cached = cache.slots[at];
            if cached.is_null() {
                continue;
            }
            // SAFETY: a non-NULL slot holds an owned reference to a compact ASCII str made by
            // `ascii_str` (so its 1-byte data pointer is valid for its length); the GIL is held.
            let same = unsafe {
                ffi::PyUnicode_GET_LENGTH(cached) as usize == buf.len()
                    && std::slice::from_raw_parts(ffi::PyUnicode_1BYTE_DATA(cached), buf.len()) == buf
            };
            if same {
                cache.hits += 1;
                // SAFETY: `cached` is alive (owned by the slot); we return a new reference.
                return Some(Ok(unsafe { Bound::from_borrowed_ptr(py, cached) }.unbind()));
            }
        }
        let new = match super::text::ascii_str(py, buf) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        // The new value takes `slot`, what was there moves to the pair, and what the pair held goes
        // (a str's deallocation runs no Python code, so nothing can re-enter this cache meanwhile).
        let evicted = cache.slots[slot ^ 1];
        cache.slots[slot ^ 1] = cache.slots[slot];
        cache.slots[slot] = new.clone().into_ptr();
        if !cache.all {
            if cache.written.len() >= SLOTS / 2 {
                cache.all = true;
            } else {
                cache.written.push((slot / 2) as u16);
            }
        }
        if !evicted.is_null() {
            // SAFETY: the slot owned this reference and no longer holds it.
            unsafe { ffi::Py_DECREF(evicted) };
        }
        Some(Ok(new.into_any().unbind()))
    });
    match found {
        Ok(Some(result)) => result,
        _ => Ok(super::text::ascii_str(py, buf)?.into_any().unbind()),
    }
}

/// Let go of the strings cached since the last call: called when a request's result is complete,
/// so that the cache shares values within a result (and the results decoded meanwhile) but does
/// not keep them alive afterwards.
///
/// NOTE: cached strings kept across results pinned CPython's memory arenas: after a 1,000,000-row
/// fetch was freed, the 1,024 strings left in the cache, made at scattered moments of the fetch,
/// kept about 20 MB of otherwise empty arenas from being returned (benches/memory.py, 2026-12-02).
pub fn release_cached_strings(_py: Python<'_>) {
    let _ = STATE.try_with(|state| {
        let Ok(mut cache) = state.cache.try_borrow_mut() else {
            return;
        };
        if cache.written.is_empty() && !cache.all {
            return;
        }
        let mut taken: Vec<*mut ffi::PyObject> = Vec::new();
        let pairs: Vec<usize> = if cache.all {
            (0..SLOTS / 2).collect()
        } else {
            cache.written.iter().map(|&p| p as usize).collect()
        };
        for pair in pairs {
            for at in [pair * 2, pair * 2 + 1] {
                let obj = std::mem::replace(&mut cache.slots[at], std::ptr::null_mut());
                if !obj.is_null() {
                    taken.push(obj);
                }
            }
        }
        cache.written.clear();
        cache.all = false;
        drop(cache);
        for obj in taken {
            // SAFETY: each pointer was an owned reference held by a slot, now emptied; the GIL is
            // held (`_py`). Released after the borrow ends: a str's deallocation runs no Python
            // code, but nothing here relies on that.
            unsafe { ffi::Py_DECREF(obj) };
        }
    });
}
