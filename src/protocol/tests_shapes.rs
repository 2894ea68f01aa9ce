//! More query shapes through the scripted session of `tests.rs`: the simple protocol with several
//! statements, pipelined executemany, portals fetched in chunks, a COPY the server refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::tests::{
    attach, bind_complete, command_complete, cstr, error_response, int4_row, msg, param_description, parse_complete,
    prepared, ready, row_description, Session,
};

#[test]
fn simple_query_with_several_statements_and_an_empty_one() {
    attach(|py| {
        let s = Session::ready(py);
        let fut = s
            .proto
            .borrow_mut()
            .simple_query(py, "SELECT 1; ; BEGIN", true)
            .unwrap();
        let sent = s.written_messages();
        assert_eq!(sent, vec![(b'Q', cstr("SELECT 1; ; BEGIN"))]);
        s.feed(
            &[
                row_description(&[("?column?", 23)]),
                int4_row(1),
                command_complete("SELECT 1"),
                msg(b'I', &[]),
                command_complete("BEGIN"),
                ready(b'T'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok 'BEGIN'");
        assert_eq!(s.proto.borrow().transaction_status(), 'T');
    });
}

#[test]
fn executemany_pipelines_one_bind_per_argument_set() {
    attach(|py| {
        let s = Session::ready(py);
        let args = PyList::new(py, [PyTuple::new(py, [1]).unwrap(), PyTuple::new(py, [2]).unwrap()]).unwrap();
        let fut = s
            .proto
            .borrow_mut()
            .query_many(py, "INSERT INTO t VALUES ($1)", args, super::MODE_NONE, None)
            .unwrap();
        assert_eq!(s.written_tags(), "PDS");
        s.feed(&[parse_complete(), param_description(&[23]), msg(b'n', &[]), ready(b'I')].concat());
        let sent = s.written_messages();
        let tags: String = sent.iter().map(|(t, _)| char::from(*t)).collect();
        assert_eq!(tags, "BEBES");
        // The second Bind carries the second value, in binary.
        assert!(
            sent[2].1.ends_with(&[0, 1, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0]),
            "{:?}",
            sent[2].1
        );
        s.feed(
            &[
                bind_complete(),
                command_complete("INSERT 0 1"),
                bind_complete(),
                command_complete("INSERT 0 1"),
                ready(b'I'),
            ]
            .concat(),
        );
        assert_eq!(s.outcome(&fut), "ok None");
    });
}

#[test]
fn portal_fetches_in_chunks_until_exhausted() {
    attach(|py| {
        let s = Session::ready(py);
        let fut = s.proto.borrow_mut().prepare(py, "SELECT x FROM t", None).unwrap();
        assert_eq!(s.written_tags(), "PDS");
        s.feed(&prepared(&[], &[("x", 23)]));
        let stmt = s.outcome(&fut);
        assert!(stmt.starts_with("ok <asyncpg_rs._native.StatementState"), "{stmt}");
        let fut_obj = fut.bind(py).call_method0("result").unwrap();
        let stmt = fut_obj.cast::<super::statement::PyStatement>().unwrap();
        let bound = s
            .proto
            .borrow_mut()
            .bind_portal(py, stmt, PyTuple::empty(py).as_any(), "c1")
            .unwrap();
        assert_eq!(s.written_tags(), "BS");
        s.feed(&[bind_complete(), ready(b'T')].concat());
        assert_eq!(s.outcome(&bound), "ok None");
        let first = s.proto.borrow_mut().execute_portal(py, stmt, "c1", 2, None).unwrap();
        assert_eq!(s.written_tags(), "ES");
        s.feed(&[int4_row(1), int4_row(2), msg(b's', &[]), ready(b'T')].concat());
        assert_eq!(s.outcome(&first), "ok ([<Record x=1>, <Record x=2>], True)");
        let rest = s.proto.borrow_mut().execute_portal(py, stmt, "c1", 2, None).unwrap();
        s.feed(&[int4_row(3), command_complete("SELECT 1"), ready(b'T')].concat());
        assert_eq!(s.outcome(&rest), "ok ([<Record x=3>], False)");
    });
}

#[test]
fn copy_in_refused_by_the_server_fails_started() {
    attach(|py| {
        let s = Session::ready(py);
        let (started, done) = s.proto.borrow_mut().copy_in(py, "COPY nope FROM STDIN").unwrap();
        s.feed(&[error_response("42P01", "relation \"nope\" does not exist"), ready(b'I')].concat());
        assert_eq!(
            s.outcome(&started),
            "raise UndefinedTableError: relation \"nope\" does not exist"
        );
        assert_eq!(s.outcome(&done), "ok None");
    });
}
