"""asyncpg-private names that code and test suites written for asyncpg read or patch.

Each is provided over the real mechanism (see docs/compatibility.md for the list, and for the
names deliberately not provided). Behaviour is compared with asyncpg where both have the name.
Checks that need ``install_as_asyncpg()`` run in a subprocess: the alias is process-wide.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import textwrap
from unittest import mock

import asyncpg
import pytest
import pytest_asyncio
from asyncpg.protocol.protocol import _create_record as ref_create_record

import asyncpg_rs
from asyncpg_rs import _native, connect_utils

pytestmark = [pytest.mark.timeout(60)]

R_A = collections.OrderedDict([("a", 0)])
R_AB = collections.OrderedDict([("a", 0), ("b", 1)])


def outcome(fn):
    try:
        value = fn()
    except Exception as e:
        return ("raised", type(e).__name__)
    if isinstance(value, (list, tuple)):
        return ("ok", type(value).__name__, list(value))
    return ("ok", type(value).__name__, value)


CREATE_RECORD_CASES = [
    lambda R: R(R_AB, (42, 43))["b"],
    lambda R: R(R_AB, (42, 43))[1],
    lambda R: R(R_AB, (42, 43))["z"],
    lambda R: R(None, (1,))["spam"],
    lambda R: R({"spam": 123}, (1,))["spam"],  # position out of range
    lambda R: R({"spam": "ham"}, (1,))["spam"],  # position not an int
    lambda R: repr(R(R_AB, (42, -1))),
    lambda R: repr(R(R_A, (42, 43))),  # more values than names
    lambda R: repr(R(R_AB, (42,))),
    lambda R: list(R(R_A, (42, 43)).items()),
    lambda R: list(R(R_AB, (42,)).items()),
    lambda R: list(R(None, (42, 43)).keys()),
    lambda R: dict(R(R_AB, (1, 2))),
    lambda R: "a" in R(R_AB, (1, 2)),
    lambda R: "a" in R(None, (1, 2)),
    lambda R: R(R_AB, (1, 2)).get("b"),
    lambda R: R(R_AB, (1, 2)).get("zz", "dflt"),
    lambda R: R(R_AB, (1, 2)) == (1, 2),
    lambda R: hash(R(R_AB, (1, 2))) == hash((1, 2)),
    lambda R: len(R(None, ())),
]


@pytest.mark.parametrize("case", range(len(CREATE_RECORD_CASES)))
def test_create_record_as_asyncpg(case):
    fn = CREATE_RECORD_CASES[case]
    assert outcome(lambda: fn(_native._create_record)) == outcome(lambda: fn(ref_create_record))


def test_record_iterators_let_go_of_the_record():
    r = _native._create_record(R_AB, (42, 43))
    before = sys.getrefcount(r)
    items, values = r.items(), iter(r)
    assert sys.getrefcount(r) == before + 2
    assert list(items) == [("a", 42), ("b", 43)] and list(values) == [42, 43]
    assert sys.getrefcount(r) == before  # exhausted: the record is released
    assert items.__length_hint__() == 0 and list(items) == []


@pytest_asyncio.fixture
async def con(pg_dsn):
    c = await asyncpg_rs.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


async def test_prepare_with_use_cache_goes_through_the_statement_cache(con):
    first = await con._prepare("SELECT 1::int + $1", use_cache=True)
    again = await con._prepare("SELECT 1::int + $1", use_cache=True)
    assert first.get_name() == again.get_name() != ""
    assert await again.fetchval(1) == 2
    # Without use_cache it is prepare(): a statement of its own.
    own = await con._prepare("SELECT 1::int + $1")
    assert own.get_name() != first.get_name()


async def test_stmt_cache_view_over_the_protocol_cache(pg_dsn):
    con = await asyncpg_rs.connect(
        pg_dsn, statement_cache_size=3, max_cached_statement_lifetime=142
    )
    try:
        cache = con._stmt_cache
        assert (len(cache), cache.get_max_size(), cache.get_max_lifetime()) == (0, 3, 142)
        for i in range(5):
            assert await con.fetchval(f"SELECT {i}") == i
        assert len(cache) == 3  # LRU: the two oldest went
        states = list(cache.iter_statements())
        assert [s.query for s in states] == ["SELECT 2", "SELECT 3", "SELECT 4"]
        assert not any(s.closed for s in states)
        # One state per cached statement: the cache hands out the same object.
        assert cache.get("SELECT 4", promote=False) is states[-1]
        assert (await con._prepare("SELECT 4", use_cache=True))._state is states[-1]
        assert cache.get("SELECT 0") is None
        # Evicted and used by nothing: closed on the server with the request that evicted them.
        assert con._stmts_to_close == []
        cache.set_max_size(1)
        assert len(cache) == 1 and cache.get_max_size() == 1
        assert states[0].closed and states[1].closed and not states[2].closed
        cache.set_max_lifetime(0)
        assert cache.get_max_lifetime() == 0
        cache.clear()
        assert len(cache) == 0 and states[2].closed
        assert await con.fetchval("SELECT 4") == 4
    finally:
        await con.close()
    assert len(con._stmt_cache) == 0


async def test_statements_used_by_a_prepared_statement_stay_open(con):
    cache = con._stmt_cache
    cache.set_max_size(1)
    ps = await con._prepare("SELECT 1", use_cache=True)
    await con.fetchval("SELECT 2")  # evicts SELECT 1, which ps still uses
    assert not ps._state.closed and con._stmts_to_close == []
    assert await ps.fetchval() == 1
    del ps
    import gc

    gc.collect()
    assert [s.query for s in con._stmts_to_close] == ["SELECT 1"]


async def test_mark_closed_and_connection_loss_close_states(con):
    ps = await con.prepare("SELECT 1")
    ps._state.mark_closed()
    with pytest.raises(asyncpg_rs.InterfaceError, match="is closed"):
        await ps.fetch()
    await con.fetchval("SELECT 5")
    state = next(iter(con._stmt_cache.iter_statements()))
    con._protocol.abort_transport()
    await asyncio.sleep(0.05)
    assert state.closed and len(con._stmt_cache) == 0


async def test_server_caps_and_copy_introspection_from_the_cache(con):
    caps = con._server_caps
    assert caps.sql_copy_from_where and caps.advisory_locks and caps.sql_reset
    await con.execute("CREATE TEMP TABLE cp_cache(a text, b int)")
    key = ('SELECT "a", "b" FROM "cp_cache" LIMIT 1', asyncpg_rs.Record, False)
    assert await con.copy_records_to_table("cp_cache", records=[("a", 1)], columns=["a", "b"])
    entry = con._stmt_cache.get(key, promote=False)
    assert entry is not None
    await con.copy_records_to_table("cp_cache", records=[("b", 2)], columns=["a", "b"])
    assert con._stmt_cache.get(key, promote=False) is entry


async def test_protocol_abort_loses_the_connection(con):
    con._protocol.abort()
    await asyncio.sleep(0.05)
    assert con.is_closed()


async def test_uid_counts_named_statements(pg_dsn):
    from asyncpg_rs import connection

    before = connection._uid
    c = await asyncpg_rs.connect(pg_dsn, statement_cache_size=0)
    try:
        await c.fetchval("SELECT $1::int", 1)
        assert connection._uid == before  # named statements off: none made
    finally:
        await c.close()
    c = await asyncpg_rs.connect(pg_dsn)
    try:
        await c.fetchval("SELECT $1::int", 1)
        assert connection._uid == before + 1
    finally:
        await c.close()


async def test_cancel_goes_through_connect_utils_cancel(con):
    calls = []
    real = connect_utils._cancel

    async def spy(**kwargs):
        calls.append(kwargs)
        await real(**kwargs)

    with mock.patch.object(connect_utils, "_cancel", spy):
        with pytest.raises(asyncio.TimeoutError):
            await con.fetchval("SELECT pg_sleep(10)", timeout=0.2)
        assert await con.fetchval("SELECT 42") == 42
    assert len(calls) == 1
    assert calls[0]["backend_pid"] == con.get_server_pid()
    assert set(calls[0]) == {"loop", "addr", "params", "backend_pid", "backend_secret"}


async def test_cancel_current_command(con):
    waiter = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.3)
    con._cancel_current_command(waiter)
    await asyncio.wait_for(waiter, 10)
    with pytest.raises(asyncpg_rs.QueryCanceledError):
        await asyncio.wait_for(task, 10)
    assert await con.fetchval("SELECT 42") == 42


async def test_pool_queue_and_inactive_callback(pg_dsn):
    async with asyncpg_rs.create_pool(
        pg_dsn, min_size=1, max_size=2, max_inactive_connection_lifetime=60
    ) as pool:
        assert pool._queue.qsize() == 2
        con = await pool.acquire()
        assert pool._queue.qsize() == 1
        holder = con._holder
        assert holder._inactive_callback is None  # in use: no idle timer
        await pool.release(con)
        assert pool._queue.qsize() == 2
        assert holder._inactive_callback is not None  # idle: expiry armed
    assert holder._inactive_callback is None


async def test_custom_codec_type_named_by_its_schema(pg_dsn):
    """get_parameters() of a type with a user codec says its own schema, as asyncpg."""
    out = {}
    for drv in (asyncpg, asyncpg_rs):
        c = await drv.connect(pg_dsn)
        try:
            await c.execute("CREATE EXTENSION IF NOT EXISTS hstore")
            await c.set_type_codec("hstore", encoder=str, decoder=str, format="text")
            st = await c.prepare("SELECT $1::hstore AS h")
            out[drv.__name__] = [(t.name, t.kind, t.schema) for t in st.get_parameters()] + [
                (a.name, a.type.name, a.type.schema) for a in st.get_attributes()
            ]
        finally:
            await c.close()
    assert (
        out["asyncpg_rs"]
        == out["asyncpg"]
        == [
            ("hstore", "scalar", "public"),
            ("h", "hstore", "public"),
        ]
    )


ALIASED = textwrap.dedent(
    """
    import asyncio, json, sys
    from unittest import mock
    import asyncpg_rs
    asyncpg_rs.install_as_asyncpg()
    import asyncpg
    from asyncpg import connect_utils, connection
    from asyncpg.protocol.protocol import _create_record, BUILTIN_TYPE_OID_MAP
    import asyncpg.protocol.record as record_mod
    out = {}
    out["record_class"] = record_mod.Record is asyncpg.Record
    out["oid_map"] = [BUILTIN_TYPE_OID_MAP.get(23), BUILTIN_TYPE_OID_MAP.get(790)]
    r = _create_record({"a": 0}, (1,))
    out["iter_repr"] = repr(r.values()).split(" ")[0]
    try:
        asyncpg.Record()
    except TypeError as e:
        out["no_new"] = str(e)

    async def main(dsn):
        cancels = []

        async def cancel(**kwargs):
            cancels.append(kwargs["backend_pid"])
            await connect_utils.__dict__["_real_cancel"](**kwargs)

        connect_utils._real_cancel = connect_utils._cancel
        con = await asyncpg.connect(dsn)
        with mock.patch.object(connect_utils, "_cancel", cancel):
            try:
                await con.fetchval("SELECT pg_sleep(10)", timeout=0.2)
            except asyncio.TimeoutError:
                pass
            await con.fetchval("SELECT 1")  # waits until the cancel is over
        out["cancel_seen"] = cancels == [con.get_server_pid()]
        await con.close()

        async def bad_connect(*args, **kwargs):
            return 1

        try:
            await asyncpg.create_pool(dsn, connect=bad_connect, min_size=1)
        except asyncpg.InterfaceError as e:
            out["pool_msg"] = str(e)

    asyncio.run(main(sys.argv[1]))
    print(json.dumps(out))
    """
)


def test_names_under_the_asyncpg_alias(pg_dsn):
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", ALIASED, pg_dsn],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "record_class": True,
        "oid_map": ["int4", "money"],
        "iter_repr": "<asyncpg.protocol.record.RecordIterator",
        "no_new": "cannot create 'asyncpg.protocol.record.Record' instances",
        "cancel_seen": True,
        "pool_msg": "expected pool connect callback to return an instance of "
        "'asyncpg.connection.Connection', got 'int'",
    }


async def test_stale_statements_leave_the_cache_closed(con):
    await con.execute("CREATE TEMP TABLE inv_t(a int, b int); INSERT INTO inv_t VALUES (1, 2)")
    assert await con.fetchrow("SELECT * FROM inv_t") == (1, 2)
    states = list(con._stmt_cache.iter_statements())
    await con.execute("ALTER TABLE inv_t ALTER COLUMN b SET DATA TYPE text")
    with pytest.raises(asyncpg_rs.InvalidCachedStatementError):
        async with con.transaction():
            await con.fetchrow("SELECT * FROM inv_t")
    assert all(s.closed for s in states)  # out of the cache even inside a transaction block
    assert await con.fetchrow("SELECT * FROM inv_t") == (1, "2")


async def test_prepared_statement_closes_on_outdated_schema(con):
    await con.execute("CREATE TYPE inv_typ AS (x int, y int)")
    try:
        await con.execute("CREATE TEMP TABLE inv_t2(a int, b inv_typ)")
        await con.execute("INSERT INTO inv_t2 VALUES (1, (2, 3))")
        ps = await con._prepare("SELECT * FROM inv_t2", use_cache=True)
        assert await ps.fetchrow() == (1, (2, 3))
        tx = con.transaction()
        await tx.start()
        try:
            await con.execute("ALTER TYPE inv_typ ADD ATTRIBUTE c text")
            with pytest.raises(asyncpg_rs.OutdatedSchemaCacheError):
                await ps.fetchrow()
            assert ps._state.closed
            with pytest.raises(asyncpg_rs.InterfaceError, match="is closed"):
                await ps.fetchrow()
        finally:
            await tx.rollback()
    finally:
        await con.execute("DROP TABLE IF EXISTS inv_t2; DROP TYPE inv_typ")


async def test_a_stale_statement_drops_the_whole_pools_caches(pg_dsn):
    # As asyncpg: the connection that finds the schema changed drops the statement caches of
    # every connection of its pool, so the others do not fail inside a transaction block.
    admin = await asyncpg_rs.connect(pg_dsn)
    await admin.execute("DROP TABLE IF EXISTS inv_pool; CREATE TABLE inv_pool(a int, b int)")
    await admin.execute("INSERT INTO inv_pool VALUES (1, 2)")
    try:
        async with asyncpg_rs.create_pool(pg_dsn, min_size=2, max_size=2) as pool:
            con1 = await pool.acquire()
            con2 = await pool.acquire()
            assert await con1.fetchrow("SELECT * FROM inv_pool") == (1, 2)
            assert await con2.fetchrow("SELECT * FROM inv_pool") == (1, 2)
            states2 = list(con2._con._stmt_cache.iter_statements())
            await admin.execute("ALTER TABLE inv_pool ALTER COLUMN b SET DATA TYPE text")
            assert await con1.fetchrow("SELECT * FROM inv_pool") == (1, "2")
            assert states2 and all(s.closed for s in states2)
            async with con2.transaction():
                assert await con2.fetchrow("SELECT * FROM inv_pool") == (1, "2")
            await pool.release(con1)
            await pool.release(con2)
    finally:
        await admin.execute("DROP TABLE inv_pool")
        await admin.close()


async def test_protocol_is_cancelling_while_a_cancel_is_under_way(con):
    assert not con._protocol._is_cancelling()
    started = asyncio.Event()

    async def stalled_cancel(**kwargs):
        started.set()
        await asyncio.get_running_loop().create_future()

    with mock.patch.object(connect_utils, "_cancel", stalled_cancel):
        with pytest.raises(asyncio.TimeoutError):
            await con.execute("SELECT pg_sleep(10)", timeout=0.05)
        await asyncio.wait_for(started.wait(), 10)
        assert con._protocol._is_cancelling()
        con.terminate()
        assert not con._protocol._is_cancelling()
