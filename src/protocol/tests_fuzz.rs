//! Seeded, time-bounded fuzzing in `cargo test`: the framing, the message parsers, every builtin
//! decoder and the whole session state machine get random and mutated input. The property is the
//! same everywhere: no panic, and every rejected input is a typed error (`WireError`, or a Python
//! exception). The seed is printed; `FUZZ_SEED=<n>` replays a run, `FUZZ_MILLIS=<n>` changes the
//! time spent per target (default 400 ms, so the suite stays fast on a loaded machine).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use super::framing::{self, ColumnError, WireError};
use super::{PyBaseProtocol, MODE_ALL};
use crate::codecs::Codec;

/// xorshift64*: small, fast and good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.byte()).collect()
    }

    /// An int32 that is interesting as a length: small, -1, negative, huge.
    fn length_word(&mut self) -> i32 {
        match self.below(6) {
            0 => -1,
            1 => i32::MIN,
            2 => i32::MAX,
            3 => -i32::try_from(self.below(1000)).unwrap(),
            _ => i32::try_from(self.below(64)).unwrap(),
        }
    }

    /// `seed` mutated: bytes flipped, inserted, removed, length words replaced, truncated.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(6) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = self.byte();
                }
                1 => {
                    let i = self.below(v.len() + 1);
                    v.insert(i, self.byte());
                }
                2 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v.remove(i);
                }
                3 if v.len() >= 4 => {
                    let i = self.below(v.len() - 3);
                    v[i..i + 4].copy_from_slice(&self.length_word().to_be_bytes());
                }
                4 => v.truncate(self.below(v.len() + 1)),
                _ => {
                    let extra = self.bytes(8);
                    v.extend(extra);
                }
            }
        }
        v
    }
}

fn seed() -> u64 {
    let s = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    println!("FUZZ_SEED={s}");
    s.max(1)
}

fn budget() -> Duration {
    let ms = std::env::var("FUZZ_MILLIS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    Duration::from_millis(ms)
}

/// Run `f` with fresh inputs until the time budget is spent (at least `min` times).
fn for_a_while(min: usize, mut f: impl FnMut(&mut Rng)) {
    let mut rng = Rng(seed());
    let start = Instant::now();
    let mut n = 0;
    while n < min || start.elapsed() < budget() {
        f(&mut rng);
        n += 1;
    }
}

fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn data_row(values: &[Option<&[u8]>]) -> Vec<u8> {
    let mut body = u16::try_from(values.len()).unwrap().to_be_bytes().to_vec();
    for v in values {
        match v {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                body.extend_from_slice(&i32::try_from(v.len()).unwrap().to_be_bytes());
                body.extend_from_slice(v);
            }
        }
    }
    body
}

#[test]
fn fuzz_frame() {
    for_a_while(20_000, |rng| {
        let buf = if rng.below(2) == 0 {
            rng.bytes(16)
        } else {
            let tag = b"DTZCE12tKRS"[rng.below(11)];
            let body = rng.bytes(12);
            rng.mutate(&msg(tag, &body))
        };
        match framing::frame(&buf) {
            Ok(Some((tag, total))) => {
                assert_eq!(tag, buf[0]);
                assert!((5..=buf.len()).contains(&total), "{buf:?}");
            }
            Ok(None) => {
                // Waiting is only allowed for a well-formed header whose body has not all come.
                if buf.len() >= 5 {
                    let len = i32::from_be_bytes(buf[1..5].try_into().unwrap());
                    assert!(len >= 4 && usize::try_from(len).unwrap() >= buf.len(), "{buf:?}");
                }
            }
            Err(WireError(text)) => assert!(text.starts_with("invalid "), "{text}"),
        }
    });
}

#[test]
fn fuzz_data_row_and_parameter_description() {
    let good = data_row(&[Some(b"abcd"), None, Some(b"")]);
    for_a_while(20_000, |rng| {
        let body = if rng.below(3) == 0 {
            rng.bytes(24)
        } else {
            rng.mutate(&good)
        };
        let expected = rng.below(4);
        let mut seen = 0;
        let walked = framing::for_each_column(&body, expected, |i, _| {
            assert_eq!(i, seen);
            seen += 1;
            Ok::<(), ()>(())
        });
        match walked {
            Ok(()) => assert_eq!(seen, expected),
            Err(ColumnError::Wire(WireError(text))) => assert!(text.starts_with("invalid DataRow"), "{text}"),
            Err(ColumnError::Value(())) => unreachable!("the callback never fails"),
        }
        let _ = framing::text_row(&body);
        match framing::parameter_oids(&body) {
            Ok(oids) => assert_eq!(oids.len() * 4 + 2, body.len()),
            Err(WireError(text)) => assert!(text.starts_with("invalid ParameterDescription"), "{text}"),
        }
    });
}

#[test]
fn fuzz_scram_server_first() {
    let client = b"n,,n=,r=abcdefgh";
    let good = b"r=abcdefghXYZ,s=c2FsdA==,i=4096";
    for_a_while(20_000, |rng| {
        let server = rng.mutate(good);
        if let Err(WireError(text)) = framing::check_scram_server_first(client, &server) {
            assert!(text.starts_with("invalid SCRAM server-first-message"), "{text}");
        }
    });
    assert_eq!(framing::check_scram_server_first(client, good), Ok(()));
}

/// Every builtin codec decodes random and mutated bytes without panicking; what it refuses is a
/// Python exception.
#[test]
fn fuzz_every_decoder() {
    Python::initialize();
    Python::attach(|py| {
        let codecs: Vec<(u32, Codec)> = (0..7000u32)
            .filter_map(|oid| Codec::for_oid(oid).map(|c| (oid, c)))
            .collect();
        assert!(codecs.len() > 60, "only {} builtin codecs found", codecs.len());
        // Plausible seeds: a one-dimensional array of int4 / text, a range, fixed-width values.
        let array = [
            &1i32.to_be_bytes()[..],
            &0i32.to_be_bytes(),
            &23u32.to_be_bytes(),
            &2i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &4i32.to_be_bytes(),
            &7i32.to_be_bytes(),
            &(-1i32).to_be_bytes(),
        ]
        .concat();
        let seeds: Vec<Vec<u8>> = vec![
            array,
            vec![2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 9],
            vec![0; 8],
            vec![0; 16],
            vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
            b"{\"a\": 1}".to_vec(),
        ];
        for_a_while(20_000, |rng| {
            let (oid, codec) = &codecs[rng.below(codecs.len())];
            let bytes = if rng.below(3) == 0 {
                rng.bytes(24)
            } else {
                let i = rng.below(seeds.len());
                rng.mutate(&seeds[i])
            };
            if let Err(e) = codec.decode(py, &bytes) {
                // A typed refusal: a Python exception instance (never a panic).
                assert!(
                    e.value(py).is_instance_of::<pyo3::exceptions::PyException>(),
                    "{oid}: {e}"
                );
            }
        });
    });
}

/// The whole session: a prepared query gets a mutated reply stream, fed in random pieces. Whatever
/// the bytes, no panic; the request ends resolved, failed, or waiting for more bytes.
#[test]
fn fuzz_session_replies() {
    super::tests::attach(|py| {
        let g = pyo3::types::PyDict::new(py);
        py.run(&std::ffi::CString::new(super::tests::HARNESS).unwrap(), Some(&g), None)
            .unwrap();
        let event_loop = g.get_item("new_loop").unwrap().unwrap().call0().unwrap();
        let transport_class = g.get_item("Transport").unwrap().unwrap();
        let prepared = [
            msg(b'1', &[]),
            msg(b't', &[0, 0]),
            msg(
                b'T',
                &[
                    &[0u8, 1][..],
                    b"x\0",
                    &[0; 6],
                    &23u32.to_be_bytes(),
                    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1],
                ]
                .concat(),
            ),
            msg(b'Z', b"I"),
        ]
        .concat();
        let executed = [
            msg(b'2', &[]),
            msg(b'D', &data_row(&[Some(&5i32.to_be_bytes())])),
            msg(b'N', b"SNOTICE\0C00000\0Mhi\0\0"),
            msg(b'A', b"\0\0\0\x07chan\0payload\0"),
            msg(b'D', &data_row(&[None])),
            msg(b'E', b"SERROR\0C22012\0Mdivision by zero\0\0"),
            msg(b'C', b"SELECT 2\0"),
            msg(b'Z', b"I"),
        ]
        .concat();
        for_a_while(300, |rng| {
            let proto = Bound::new(
                py,
                PyBaseProtocol::new(event_loop.clone().unbind(), 100, 15360, 300.0, None),
            )
            .unwrap();
            proto
                .borrow_mut()
                .connection_made(transport_class.call0().unwrap().unbind());
            proto.borrow_mut().state = super::State::Ready;
            let fut = proto
                .borrow_mut()
                .query(
                    py,
                    &PyString::new(py, "SELECT x"),
                    PyTuple::empty(py).as_any(),
                    MODE_ALL,
                    0,
                    None,
                )
                .unwrap();
            let stream = match rng.below(3) {
                0 => [rng.mutate(&prepared), executed.clone()].concat(),
                1 => [prepared.clone(), rng.mutate(&executed)].concat(),
                _ => rng.mutate(&[prepared.clone(), executed.clone()].concat()),
            };
            let mut pos = 0;
            while pos < stream.len() {
                let n = 1 + rng.below(stream.len() - pos);
                let chunk = PyBytes::new(py, &stream[pos..pos + n]);
                proto.borrow_mut().data_received(py, &chunk);
                pos += n;
            }
            let done: bool = fut.call_method0(py, "done").unwrap().extract(py).unwrap();
            if done {
                let cancelled: bool = fut.call_method0(py, "cancelled").unwrap().extract(py).unwrap();
                assert!(!cancelled);
                // Retrieve the outcome so that asyncio does not log "exception never retrieved".
                let _ = fut.call_method0(py, "exception");
            }
        });
        event_loop.call_method0("close").unwrap();
    });
}
