//! The session state machine without a server: scripted backend bytes go into `data_received`, and
//! the frontend bytes written, the futures' outcomes and the callbacks are checked. The only Python
//! involved is what PyO3 needs: an asyncio loop object for futures (never run against a socket), a
//! transport that records writes, and `asyncpg_rs.exceptions` for the error classes (loaded without
//! the package's `__init__`, which would import the compiled module).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use super::{PyBaseProtocol, MODE_ALL, MODE_STATUS, MODE_VAL};

pub(super) const HARNESS: &str = r#"
import asyncio
class Transport:
    def __init__(self):
        self.written = bytearray()
        self.closed = False
        self.aborted = False
    def write(self, data):
        self.written += data
    def close(self):
        self.closed = True
    def abort(self):
        self.aborted = True
    def get_extra_info(self, name, default=None):
        return default

def new_loop():
    return asyncio.new_event_loop()

def run_callbacks(loop):
    loop.run_until_complete(asyncio.sleep(0))

def outcome(fut):
    if not fut.done():
        return ("pending",)
    exc = fut.exception()
    if exc is not None:
        return ("raise", type(exc).__name__, str(exc))
    return ("ok", fut.result())
"#;

/// A protocol on a recording transport, with the harness module.
pub(super) struct Session<'py> {
    pub(super) py: Python<'py>,
    pub(super) h: Bound<'py, PyDict>,
    pub(super) proto: Bound<'py, PyBaseProtocol>,
    pub(super) transport: Bound<'py, PyAny>,
    pub(super) event_loop: Bound<'py, PyAny>,
}

/// Loads `asyncpg_rs.exceptions` alone: the package's `__init__` would import the compiled module.
const LOAD_EXCEPTIONS: &str = r#"
import importlib.util, sys, types
if "asyncpg_rs.exceptions" not in sys.modules:
    import importlib.util
    pkg = sys.modules.setdefault("asyncpg_rs", types.ModuleType("asyncpg_rs"))
    if not hasattr(pkg, "__path__"):
        pkg.__path__ = []
    where = ROOT + "/python/asyncpg_rs/exceptions"
    spec = importlib.util.spec_from_file_location(
        "asyncpg_rs.exceptions", where + "/__init__.py", submodule_search_locations=[where]
    )
    exceptions = importlib.util.module_from_spec(spec)
    sys.modules["asyncpg_rs.exceptions"] = exceptions
    spec.loader.exec_module(exceptions)
    pkg.exceptions = exceptions

"#;

/// `Python::attach` once the interpreter runs and the exception classes are loaded. The loading
/// happens once, outside any attach: threads waiting for it do not hold the GIL, so no test ever
/// sees the module half-executed.
pub(super) fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    static LOADED: std::sync::Once = std::sync::Once::new();
    Python::initialize();
    LOADED.call_once(|| {
        Python::attach(|py| {
            let g = PyDict::new(py);
            g.set_item("ROOT", env!("CARGO_MANIFEST_DIR")).unwrap();
            py.run(&CString::new(LOAD_EXCEPTIONS).unwrap(), Some(&g), None).unwrap();
        });
    });
    Python::attach(f)
}

impl<'py> Session<'py> {
    pub(super) fn new(py: Python<'py>) -> Self {
        let h = PyDict::new(py);
        py.run(&CString::new(HARNESS).unwrap(), Some(&h), None).unwrap();
        let event_loop = h.get_item("new_loop").unwrap().unwrap().call0().unwrap();
        let transport = h.get_item("Transport").unwrap().unwrap().call0().unwrap();
        let proto = Bound::new(
            py,
            PyBaseProtocol::new(event_loop.clone().unbind(), 100, 15360, 300.0, None),
        )
        .unwrap();
        proto.borrow_mut().connection_made(transport.clone().unbind());
        Session {
            py,
            h,
            proto,
            transport,
            event_loop,
        }
    }

    /// A session past startup (trust authentication).
    pub(super) fn ready(py: Python<'py>) -> Self {
        let s = Session::new(py);
        let fut = s.startup(None);
        s.feed(
            &[
                auth(0),
                param_status("server_version", "15.0"),
                backend_key(7, 8),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok None");
        s.take_written();
        s
    }

    pub(super) fn startup(&self, password: Option<&str>) -> Py<PyAny> {
        self.startup_gss(password, None)
    }

    pub(super) fn startup_gss(&self, password: Option<&str>, gss_step: Option<Py<PyAny>>) -> Py<PyAny> {
        self.proto
            .borrow_mut()
            .startup(
                self.py,
                "alice".into(),
                "db".into(),
                password.map(str::to_owned),
                None,
                None,
                None,
                gss_step,
            )
            .unwrap()
    }

    pub(super) fn feed(&self, bytes: &[u8]) {
        let data = PyBytes::new(self.py, bytes);
        self.proto.borrow_mut().data_received(self.py, &data);
    }

    /// Feed one byte at a time: framing must not depend on how the bytes arrive.
    pub(super) fn feed_bytewise(&self, bytes: &[u8]) {
        for b in bytes {
            self.feed(std::slice::from_ref(b));
        }
    }

    pub(super) fn take_written(&self) -> Vec<u8> {
        let w = self.transport.getattr("written").unwrap();
        let out: Vec<u8> = w.extract().unwrap();
        w.call_method1("clear", ()).ok();
        out
    }

    /// The frontend messages written since the last call, as (type byte, body).
    pub(super) fn written_messages(&self) -> Vec<(u8, Vec<u8>)> {
        let bytes = self.take_written();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let tag = bytes[pos];
            let len = i32::from_be_bytes(bytes[pos + 1..pos + 5].try_into().unwrap()) as usize;
            out.push((tag, bytes[pos + 5..pos + 1 + len].to_vec()));
            pos += 1 + len;
        }
        out
    }

    pub(super) fn written_tags(&self) -> String {
        self.written_messages().iter().map(|(t, _)| char::from(*t)).collect()
    }

    /// "ok <repr>", "raise <Class>: <message>" or "pending".
    pub(super) fn outcome(&self, fut: &Py<PyAny>) -> String {
        let o = self.h.get_item("outcome").unwrap().unwrap().call1((fut,)).unwrap();
        let o = o.cast::<PyTuple>().unwrap();
        let kind: String = o.get_item(0).unwrap().extract().unwrap();
        match kind.as_str() {
            "ok" => format!("ok {}", o.get_item(1).unwrap().repr().unwrap()),
            "raise" => format!("raise {}: {}", o.get_item(1).unwrap(), o.get_item(2).unwrap()),
            _ => kind,
        }
    }

    pub(super) fn query(&self, sql: &str, args: &[i32], mode: u8) -> Py<PyAny> {
        let args = PyTuple::new(self.py, args).unwrap();
        self.proto
            .borrow_mut()
            .query(self.py, &PyString::new(self.py, sql), args.as_any(), mode, 0, None)
            .unwrap()
    }

    pub(super) fn run_callbacks(&self) {
        self.h
            .get_item("run_callbacks")
            .unwrap()
            .unwrap()
            .call1((&self.event_loop,))
            .unwrap();
    }

    pub(super) fn attr(&self, name: &str) -> Bound<'py, PyAny> {
        self.transport.getattr(name).unwrap()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.event_loop.call_method0("close").ok();
    }
}

// ----- backend messages -----

pub(super) fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub(super) fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

pub(super) fn auth(code: i32) -> Vec<u8> {
    msg(b'R', &code.to_be_bytes())
}

pub(super) fn param_status(k: &str, v: &str) -> Vec<u8> {
    msg(b'S', &[cstr(k), cstr(v)].concat())
}

pub(super) fn backend_key(pid: i32, secret: i32) -> Vec<u8> {
    msg(b'K', &[pid.to_be_bytes(), secret.to_be_bytes()].concat())
}

pub(super) fn ready(status: u8) -> Vec<u8> {
    msg(b'Z', &[status])
}

pub(super) fn parse_complete() -> Vec<u8> {
    msg(b'1', &[])
}

pub(super) fn bind_complete() -> Vec<u8> {
    msg(b'2', &[])
}

pub(super) fn param_description(oids: &[u32]) -> Vec<u8> {
    let mut body = u16::try_from(oids.len()).unwrap().to_be_bytes().to_vec();
    for o in oids {
        body.extend_from_slice(&o.to_be_bytes());
    }
    msg(b't', &body)
}

/// RowDescription of binary columns (name, type OID).
pub(super) fn row_description(cols: &[(&str, u32)]) -> Vec<u8> {
    let mut body = u16::try_from(cols.len()).unwrap().to_be_bytes().to_vec();
    for (name, oid) in cols {
        body.extend(cstr(name));
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&oid.to_be_bytes());
        body.extend_from_slice(&(-1i16).to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        body.extend_from_slice(&1i16.to_be_bytes());
    }
    msg(b'T', &body)
}

pub(super) fn data_row(values: &[Option<&[u8]>]) -> Vec<u8> {
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
    msg(b'D', &body)
}

pub(super) fn int4_row(v: i32) -> Vec<u8> {
    data_row(&[Some(&v.to_be_bytes())])
}

pub(super) fn command_complete(tag: &str) -> Vec<u8> {
    msg(b'C', &cstr(tag))
}

pub(super) fn error_response(sqlstate: &str, message: &str) -> Vec<u8> {
    let body = [
        b"SERROR\0".to_vec(),
        [b"C".to_vec(), cstr(sqlstate)].concat(),
        [b"M".to_vec(), cstr(message)].concat(),
        vec![0],
    ]
    .concat();
    msg(b'E', &body)
}

pub(super) fn notice(message: &str) -> Vec<u8> {
    let body = [
        b"SNOTICE\0".to_vec(),
        b"C00000\0".to_vec(),
        [b"M".to_vec(), cstr(message)].concat(),
        vec![0],
    ]
    .concat();
    msg(b'N', &body)
}

pub(super) fn notification(pid: i32, channel: &str, payload: &str) -> Vec<u8> {
    msg(
        b'A',
        &[pid.to_be_bytes().to_vec(), cstr(channel), cstr(payload)].concat(),
    )
}

/// The prepare reply for a statement with `params` and int4 columns `cols`.
pub(super) fn prepared(params: &[u32], cols: &[(&str, u32)]) -> Vec<u8> {
    [
        parse_complete(),
        param_description(params),
        row_description(cols),
        ready(b'I'),
    ]
    .concat()
}

// ----- startup and authentication -----

#[test]
fn startup_trust() {
    attach(|py| {
        let s = Session::new(py);
        let fut = s.startup(None);
        let sent = s.take_written();
        // StartupMessage: no type byte; length, protocol 3.0, then name/value pairs.
        assert_eq!(
            usize::try_from(i32::from_be_bytes(sent[..4].try_into().unwrap())).unwrap(),
            sent.len()
        );
        assert_eq!(sent[4..8], [0, 3, 0, 0]);
        assert!(sent
            .windows(12)
            .any(|w| w == b"user\0alice\0\0" || w == b"user\0alice\0d"));
        assert_eq!(s.outcome(&fut), "pending");
        s.feed(
            &[
                auth(0),
                param_status("TimeZone", "UTC"),
                backend_key(42, 99),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok None");
        let p = s.proto.borrow();
        assert_eq!((p.get_backend_pid(), p.get_backend_secret()), (42, 99));
        assert_eq!(p.settings.get("TimeZone").map(String::as_str), Some("UTC"));
        assert!(!p.is_closed());
    });
}

#[test]
fn startup_cleartext_and_md5_passwords() {
    attach(|py| {
        let s = Session::new(py);
        let fut = s.startup(Some("secret"));
        s.take_written();
        s.feed(&auth(3));
        assert_eq!(s.written_messages(), vec![(b'p', cstr("secret"))]);
        s.feed(&[auth(0), ready(b'I')].concat());
        assert_eq!(s.outcome(&fut), "ok None");

        let s = Session::new(py);
        let fut = s.startup(Some("secret"));
        s.take_written();
        s.feed(&msg(b'R', &[5i32.to_be_bytes(), *b"salt"].concat()));
        let expected = postgres_protocol::authentication::md5_hash(b"alice", b"secret", *b"salt");
        assert_eq!(s.written_messages(), vec![(b'p', cstr(&expected))]);
        s.feed(&[auth(0), ready(b'I')].concat());
        assert_eq!(s.outcome(&fut), "ok None");
    });
}

#[test]
fn startup_server_error_fails_the_connection() {
    attach(|py| {
        let s = Session::new(py);
        let fut = s.startup(Some("x"));
        s.feed(&error_response(
            "28P01",
            "password authentication failed for user \"alice\"",
        ));
        assert_eq!(
            s.outcome(&fut),
            "raise InvalidPasswordError: password authentication failed for user \"alice\""
        );
        assert!(s.proto.borrow().is_closed());
    });
}

#[test]
fn scram_exchange_is_checked() {
    attach(|py| {
        let sasl = msg(
            b'R',
            &[10i32.to_be_bytes().to_vec(), cstr("SCRAM-SHA-256"), vec![0]].concat(),
        );
        let client_nonce = |s: &Session<'_>| {
            let sent = s.written_messages();
            assert_eq!(sent[0].0, b'p');
            let text = String::from_utf8_lossy(&sent[0].1).into_owned();
            text.rsplit("r=").next().unwrap().to_owned()
        };
        // Iteration count 0: refused before any key is derived.
        let s = Session::new(py);
        let fut = s.startup(Some("pw"));
        s.take_written();
        s.feed(&sasl);
        let nonce = client_nonce(&s);
        let first = format!("r={nonce}srv,s=c2FsdA==,i=0");
        s.feed(&msg(b'R', &[11i32.to_be_bytes().to_vec(), first.into_bytes()].concat()));
        let out = s.outcome(&fut);
        assert!(
            out.starts_with("raise ProtocolError:") && out.contains("iteration count"),
            "{out}"
        );
        assert!(s.attr("aborted").is_truthy().unwrap());

        // A valid server-first gets the client-final; AuthenticationOk without SASL final is refused.
        let s = Session::new(py);
        let fut = s.startup(Some("pw"));
        s.take_written();
        s.feed(&sasl);
        let nonce = client_nonce(&s);
        let first = format!("r={nonce}srv,s=c2FsdA==,i=4096");
        s.feed(&msg(b'R', &[11i32.to_be_bytes().to_vec(), first.into_bytes()].concat()));
        let sent = s.written_messages();
        assert_eq!(sent[0].0, b'p');
        assert!(String::from_utf8_lossy(&sent[0].1).starts_with(&format!("c=biws,r={nonce}srv,p=")));
        s.feed(&auth(0));
        let out = s.outcome(&fut);
        assert!(out.contains("before the SCRAM exchange finished"), "{out}");

        // A wrong server signature in SASL final.
        let s = Session::new(py);
        let fut = s.startup(Some("pw"));
        s.take_written();
        s.feed(&sasl);
        let nonce = client_nonce(&s);
        let first = format!("r={nonce}srv,s=c2FsdA==,i=4096");
        s.feed(&msg(b'R', &[11i32.to_be_bytes().to_vec(), first.into_bytes()].concat()));
        s.feed(&msg(b'R', &[12i32.to_be_bytes().to_vec(), b"v=AAAA".to_vec()].concat()));
        let out = s.outcome(&fut);
        assert!(out.starts_with("raise ProtocolError: SCRAM"), "{out}");
    });
}

/// A stand-in for connect_utils' `_GssAuth`: answers the server's tokens from a table.
fn gss_callback(py: Python<'_>, source: &str) -> Py<PyAny> {
    let code = std::ffi::CString::new(source).unwrap();
    py.eval(&code, None, None).unwrap().unbind()
}

#[test]
fn gss_exchange_sends_the_callbacks_tokens() {
    attach(|py| {
        let s = Session::new(py);
        let step = gss_callback(py, "lambda t: {None: b'tok1', b'srv1': b'tok2', b'srv2': None}[t]");
        let fut = s.startup_gss(None, Some(step));
        s.take_written();
        s.feed(&auth(7));
        assert_eq!(s.written_messages(), vec![(b'p', b"tok1".to_vec())]);
        s.feed(&msg(b'R', &[8i32.to_be_bytes().to_vec(), b"srv1".to_vec()].concat()));
        assert_eq!(s.written_messages(), vec![(b'p', b"tok2".to_vec())]);
        s.feed(&msg(b'R', &[8i32.to_be_bytes().to_vec(), b"srv2".to_vec()].concat()));
        assert_eq!(s.written_messages(), vec![]);
        s.feed(&[auth(0), ready(b'I')].concat());
        assert_eq!(s.outcome(&fut), "ok None");
    });
}

#[test]
fn gss_errors_are_asyncpgs() {
    attach(|py| {
        // A second AuthenticationGSS.
        let s = Session::new(py);
        let fut = s.startup_gss(None, Some(gss_callback(py, "lambda t: b'tok'")));
        s.feed(&[auth(7), auth(7)].concat());
        let out = s.outcome(&fut);
        assert!(
            out.contains("InterfaceError: duplicate GSSAPI/SSPI authentication request"),
            "{out}"
        );

        // GSSContinue before GSS.
        let s = Session::new(py);
        let fut = s.startup_gss(None, Some(gss_callback(py, "lambda t: b'tok'")));
        s.feed(&msg(b'R', &[8i32.to_be_bytes().to_vec(), b"x".to_vec()].concat()));
        let out = s.outcome(&fut);
        assert!(out.contains("unexpected GSS continue message"), "{out}");

        // The callback fails (gssapi's error): wrapped as asyncpg wraps it.
        let s = Session::new(py);
        let fut = s.startup_gss(None, Some(gss_callback(py, "lambda t: 1 / 0")));
        s.feed(&auth(7));
        let out = s.outcome(&fut);
        assert!(
            out.contains("InternalClientError: unexpected error while performing authentication: division by zero"),
            "{out}"
        );
    });
}

#[test]
fn unsupported_authentication_is_refused() {
    attach(|py| {
        let s = Session::new(py);
        let fut = s.startup(None);
        s.feed(&auth(7));
        let out = s.outcome(&fut);
        assert!(
            out.contains("unsupported authentication method requested by the server: GSS"),
            "{out}"
        );
    });
}

// ----- query shapes -----

#[test]
fn fetch_prepares_then_executes() {
    attach(|py| {
        let s = Session::ready(py);
        let fut = s.query("SELECT $1::int AS x", &[5], MODE_ALL);
        assert_eq!(s.written_tags(), "PDS");
        s.feed(&prepared(&[23], &[("x", 23)]));
        assert_eq!(s.written_tags(), "BES");
        s.feed(
            &[
                bind_complete(),
                int4_row(5),
                int4_row(6),
                command_complete("SELECT 2"),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok [<Record x=5>, <Record x=6>]");
        // The statement is cached: the second run goes straight to Bind/Execute.
        let fut = s.query("SELECT $1::int AS x", &[7], MODE_VAL);
        assert_eq!(s.written_tags(), "BES");
        s.feed_bytewise(&[bind_complete(), int4_row(7), msg(b's', &[]), ready(b'I')].concat());
        assert_eq!(s.outcome(&fut), "ok 7");
        assert_eq!(s.proto.borrow().statement_cache_len(), 1);
    });
}

#[test]
fn status_null_and_pipelined_requests() {
    attach(|py| {
        let s = Session::ready(py);
        let a = s.query("SELECT NULL::int AS x", &[], MODE_ALL);
        let b = s.query("UPDATE t SET x = 1", &[], MODE_STATUS);
        assert_eq!(s.written_tags(), "PDSPDS");
        s.feed(&[prepared(&[], &[("x", 23)]), prepared(&[], &[])].concat());
        assert_eq!(s.written_tags(), "BESBES");
        s.feed(
            &[
                bind_complete(),
                data_row(&[None]),
                command_complete("SELECT 1"),
                ready(b'I'),
            ]
            .concat(),
        );
        s.feed(&[bind_complete(), command_complete("UPDATE 3"), ready(b'T')].concat());
        assert_eq!(s.outcome(&a), "ok [<Record x=None>]");
        assert_eq!(s.outcome(&b), "ok 'UPDATE 3'");
        assert_eq!(s.proto.borrow().transaction_status(), 'T');
    });
}

#[test]
fn error_in_the_middle_of_a_result() {
    attach(|py| {
        let s = Session::ready(py);
        let fut = s.query("SELECT 1 / x FROM t", &[], MODE_ALL);
        s.feed(&prepared(&[], &[("r", 23)]));
        s.take_written();
        s.feed(
            &[
                bind_complete(),
                int4_row(1),
                int4_row(2),
                error_response("22012", "division by zero"),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "raise DivisionByZeroError: division by zero");
        // The connection goes on.
        let fut = s.query("SELECT 1 / x FROM t", &[], MODE_VAL);
        assert_eq!(s.written_tags(), "BES");
        s.feed(&[bind_complete(), int4_row(3), command_complete("SELECT 1"), ready(b'I')].concat());
        assert_eq!(s.outcome(&fut), "ok 3");
    });
}

#[test]
fn notices_and_notifications_interleaved_with_rows() {
    attach(|py| {
        let s = Session::ready(py);
        let seen = PyList::empty(py);
        let append = seen.getattr("append").unwrap();
        let cb = py
            .eval(
                &CString::new("lambda append: (lambda *a: append(a))").unwrap(),
                None,
                None,
            )
            .unwrap()
            .call1((append,))
            .unwrap();
        s.proto.borrow_mut().notification_callback = Some(cb.clone().unbind());
        s.proto.borrow_mut().notice_callback = Some(cb.unbind());
        let fut = s.query("SELECT x FROM t", &[], MODE_ALL);
        s.feed(&prepared(&[], &[("x", 23)]));
        s.feed(
            &[
                bind_complete(),
                int4_row(1),
                notification(77, "chan", "hello"),
                notice("careful"),
                int4_row(2),
                command_complete("SELECT 2"),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok [<Record x=1>, <Record x=2>]");
        s.run_callbacks();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen.get_item(0).unwrap().repr().unwrap().to_string(),
            "(77, 'chan', 'hello')"
        );
        let notice_msg = seen.get_item(1).unwrap().get_item(0).unwrap();
        assert!(notice_msg.str().unwrap().to_string().contains("careful"));
    });
}

#[test]
fn copy_out_streams_chunks_to_the_sink() {
    attach(|py| {
        let s = Session::ready(py);
        let chunks = PyList::empty(py);
        let sink = chunks.getattr("append").unwrap().unbind();
        let fut = s.proto.borrow_mut().copy_out(py, "COPY t TO STDOUT", sink).unwrap();
        assert_eq!(s.written_tags(), "Q");
        s.feed(
            &[
                msg(b'H', &[0, 0, 1, 0, 0]),
                msg(b'd', b"1\n"),
                msg(b'd', b"2\n"),
                msg(b'c', &[]),
                command_complete("COPY 2"),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok 'COPY 2'");
        assert_eq!(chunks.repr().unwrap().to_string(), "[b'1\\n', b'2\\n']");
    });
}

#[test]
fn copy_in_waits_for_the_server_then_streams() {
    attach(|py| {
        let s = Session::ready(py);
        let (started, done) = s.proto.borrow_mut().copy_in(py, "COPY t FROM STDIN").unwrap();
        s.take_written();
        assert_eq!(s.outcome(&started), "pending");
        s.feed(&msg(b'G', &[0, 0, 1, 0, 0]));
        assert_eq!(s.outcome(&started), "ok None");
        s.proto.borrow_mut().copy_data(py, b"1\n2\n").unwrap();
        s.proto.borrow_mut().copy_done(py).unwrap();
        assert_eq!(s.written_messages(), vec![(b'd', b"1\n2\n".to_vec()), (b'c', vec![])]);
        s.feed(&[command_complete("COPY 2"), ready(b'I')].concat());
        assert_eq!(s.outcome(&done), "ok 'COPY 2'");
    });
}

// ----- malformed input -----

/// Each malformed reply to a prepared query, and whether the connection survives it.
#[test]
fn malformed_rows_fail_the_request_but_keep_the_connection() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (msg(b'D', &[0, 1, 0xff, 0xff, 0xff, 0xfe]), "column 0 has length -2"),
        (msg(b'D', &[0, 1, 0x80, 0, 0, 0]), "column 0 has length -2147483648"),
        (
            msg(b'D', &[0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 9]),
            "1 bytes after the last column",
        ),
        (
            msg(b'D', &[0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            "2 columns, RowDescription announced 1",
        ),
        (msg(b'D', &[0, 1, 0, 0, 0, 9, 1]), "length 9 overruns the message"),
        (msg(b'D', &[0, 1, 0, 0, 0, 3, 1, 2, 3]), "expected 4 bytes, got 3"),
    ];
    attach(|py| {
        for (row, fault) in cases {
            let s = Session::ready(py);
            let fut = s.query("SELECT x", &[], MODE_ALL);
            s.feed(&prepared(&[], &[("x", 23)]));
            s.feed(&[bind_complete(), row, command_complete("SELECT 1"), ready(b'I')].concat());
            let out = s.outcome(&fut);
            assert!(out.starts_with("raise") && out.contains(fault), "{fault}: {out}");
            assert!(!s.proto.borrow().is_closed(), "{fault}");
            let fut = s.query("SELECT x", &[], MODE_VAL);
            s.feed(&[bind_complete(), int4_row(1), command_complete("SELECT 1"), ready(b'I')].concat());
            assert_eq!(s.outcome(&fut), "ok 1", "{fault}");
        }
    });
}

/// Broken framing closes the connection at once and fails every request in flight.
#[test]
fn malformed_frames_close_the_connection() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"D\xff\xff\xff\xf0".to_vec(),
            "DataRow message ('D'): length -16 out of range",
        ),
        (
            b"T\x7f\xff\xff\xff".to_vec(),
            "RowDescription message ('T'): length 2147483647 out of range",
        ),
        (
            b"Z\x00\x00\x00\x06II".to_vec(),
            "ReadyForQuery message ('Z'): length 6, expected 5",
        ),
        (b"C\x00\x00\x00\x02".to_vec(), "length 2 out of range"),
        (msg(b'?', b"x"), "unknown message tag"),
        (msg(b't', &[0, 2, 0, 0, 0, 23]), "ParameterDescription"),
        (msg(b'C', b"no terminator"), "CommandComplete"),
    ];
    attach(|py| {
        for (bad, fault) in cases {
            let s = Session::ready(py);
            let a = s.query("SELECT x", &[], MODE_ALL);
            let b = s.proto.borrow_mut().sync(py).unwrap();
            s.feed(&bad);
            let out = s.outcome(&a);
            assert!(
                out.starts_with("raise ProtocolError") && out.contains(fault),
                "{fault}: {out}"
            );
            let out = s.outcome(&b);
            assert!(out.starts_with("raise ConnectionDoesNotExistError"), "{fault}: {out}");
            assert!(s.proto.borrow().is_closed());
            assert!(s.attr("aborted").is_truthy().unwrap());
        }
    });
}

#[test]
fn too_many_arguments_are_refused_before_sending() {
    attach(|py| {
        let s = Session::ready(py);
        let fut = s.query("SELECT $1::int", &[1], MODE_VAL);
        s.feed(&prepared(&[23], &[("x", 23)]));
        s.feed(&[bind_complete(), int4_row(1), command_complete("SELECT 1"), ready(b'I')].concat());
        assert_eq!(s.outcome(&fut), "ok 1");
        s.take_written();
        let many = PyTuple::new(py, 0..40_000).unwrap();
        let err = s
            .proto
            .borrow_mut()
            .query(
                py,
                &PyString::new(py, "SELECT $1::int"),
                many.as_any(),
                MODE_VAL,
                0,
                None,
            )
            .unwrap_err();
        assert_eq!(
            err.value(py).repr().unwrap().to_string(),
            "InterfaceError('the number of query arguments cannot exceed 32767')"
        );
        assert_eq!(s.take_written(), Vec::<u8>::new());
        assert!(!s.proto.borrow().is_closed());
    });
}

#[test]
fn connection_lost_fails_requests_in_flight() {
    attach(|py| {
        let s = Session::ready(py);
        let fut = s.query("SELECT 1", &[], MODE_VAL);
        PyBaseProtocol::connection_lost(&s.proto, None).unwrap();
        assert_eq!(
            s.outcome(&fut),
            "raise ConnectionDoesNotExistError: connection was closed in the middle of operation"
        );
        assert!(s.proto.borrow().is_closed());
    });
}
