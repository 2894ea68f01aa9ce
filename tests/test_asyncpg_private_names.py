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
