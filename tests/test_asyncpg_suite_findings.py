"""Regressions found by running asyncpg 0.32's own test suite against asyncpg_rs.

Each test names the asyncpg test that found the problem. Bodies run through both drivers
(the ``driver`` fixture): asyncpg is the oracle.
"""

from __future__ import annotations

import asyncio
import gc
import os

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.timeout(60)]


@pytest_asyncio.fixture
async def con(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


async def test_fetchval_column_by_name(con):
    # asyncpg tests/test_prepare.py::test_prepare_13_connect
    assert await con.fetchval("SELECT $1::smallint AS foo", 10, column="foo") == 10
    assert await con.fetchval("SELECT 1 AS foo WHERE false", column="foo") is None
    stmt = await con.prepare("SELECT $1::int AS a, $1::int * 2 AS b")
    assert await stmt.fetchval(21, column="b") == 42


async def test_log_listener_runs_before_the_query_returns(con):
    # asyncpg tests/test_listeners.py::TestLogListeners::test_log_listener_02
    seen = []
    con.add_log_listener(lambda _con, msg: seen.append(msg.message))
    await con.execute("DO $$ BEGIN RAISE NOTICE 'hello'; END $$")
    assert seen == ["hello"]


async def test_notification_listener_runs_before_the_query_returns(con):
    seen = []
    await con.add_listener("findings_chan", lambda *args: seen.append(args[3]))
    await con.execute("NOTIFY findings_chan, 'p1'")
    assert seen == ["p1"]


async def test_failing_log_listener_goes_to_the_loop_handler(con):
    loop = asyncio.get_running_loop()
    reported = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: reported.append(ctx))
    seen = []

    def bad(_con, msg):
        raise RuntimeError("boom")

    try:
        con.add_log_listener(bad)
        con.add_log_listener(lambda _con, msg: seen.append(msg.message))
        await con.execute("DO $$ BEGIN RAISE NOTICE 'x'; END $$")
        await asyncio.sleep(0.01)
    finally:
        loop.set_exception_handler(previous)
    assert seen == ["x"]
    assert [type(ctx.get("exception")) for ctx in reported] == [RuntimeError]


async def test_invalid_timeout_leaves_no_unretrieved_future(driver, pg_dsn):
    # asyncpg tests/test_timeout.py::TestTimeout::test_invalid_timeout (its tearDown saw
    # "Future exception was never retrieved" from the abandoned requests)
    loop = asyncio.get_running_loop()
    reported = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: reported.append(ctx))
    try:
        con = await driver.connect(pg_dsn)
        for timeout in ("a", False):
            for call in (con.execute, con.fetch, con.fetchrow, con.fetchval):
                with pytest.raises(ValueError, match="invalid timeout"):
                    await call("SELECT 1", timeout=timeout)
        await con.close()  # before the answers arrive: the requests fail with the close
        gc.collect()
        await asyncio.sleep(0.01)
    finally:
        loop.set_exception_handler(previous)
    assert [ctx.get("message") for ctx in reported] == []


async def test_copy_from_query_timeout_covers_a_slow_async_output(con):
    # asyncpg tests/test_copy.py::TestCopyFrom::test_copy_from_query_timeout_1 (hung: the
    # timeout stopped applying once the server had sent everything)
    async def slow_writer(data):
        await asyncio.sleep(0.5)

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(asyncio.TimeoutError):
        await con.copy_from_query(
            "SELECT repeat('a', 500) FROM generate_series(1, 5000)",
            output=slow_writer,
            timeout=0.2,
        )
    assert loop.time() - started < 5
    assert await con.fetchval("SELECT 1") == 1


async def test_copy_from_query_async_output_within_timeout(con):
    chunks = []

    async def writer(data):
        chunks.append(data)

    status = await con.copy_from_query("SELECT 1", output=writer, timeout=5)
    assert status == "COPY 1"
    assert b"".join(chunks) == b"1\n"


async def test_copy_from_query_slow_async_output_gets_batches(con):
    # asyncpg tests/test_copy.py::TestCopyFrom::test_copy_from_query_to_sink (took minutes:
    # the output was called once per row)
    received = []

    async def writer(data):
        await asyncio.sleep(0.05)
        received.append(data)

    loop = asyncio.get_running_loop()
    started = loop.time()
    await con.copy_from_query(
        "SELECT repeat('a', 500) FROM generate_series(1, 5000)", output=writer
    )
    assert loop.time() - started < 20
    assert b"".join(received).decode().split("\n") == ["a" * 500] * 5000 + [""]


def test_cluster_hba_entry_takes_ipaddress_networks(tmp_path):
    # asyncpg tests/test_connect.py (TestAuthentication, TestSSLConnection set up pg_hba.conf
    # with ipaddress.ip_network(...) addresses)
    import ipaddress

    from asyncpg_rs import cluster

    c = cluster.Cluster(str(tmp_path / "data"))
    os.makedirs(c.get_data_dir())
    with open(os.path.join(c.get_data_dir(), "PG_VERSION"), "w") as f:
        f.write("15\n")
    c.reset_hba()
    c.add_hba_entry(
        database="all",
        user="all",
        address=ipaddress.ip_network("127.0.0.0/24"),
        auth_method="trust",
    )
    with open(os.path.join(c.get_data_dir(), "pg_hba.conf")) as f:
        assert f.read().split() == ["host", "all", "all", "127.0.0.0/24", "trust"]


async def test_released_connection_objects_refuse_when_called(driver, pg_dsn):
    # asyncpg tests/test_pool.py::TestPool::test_pool_11: statements, cursors and transactions of
    # a connection released to its pool refuse at call time, before looking at the arguments.
    pool = await driver.create_pool(pg_dsn, min_size=1, max_size=1)
    try:
        con = await pool.acquire()
        ps = await con.prepare("SELECT 1")
        txn = con.transaction()
        async with con.transaction():
            cur = await con.cursor("SELECT 1")
        await pool.release(con)
        seen = []
        for call in (
            ps.get_query,
            ps.get_statusmsg,
            ps.get_parameters,
            ps.get_attributes,
            cur.fetch,
            cur.fetchrow,
            txn.start,
            txn.commit,
            txn.rollback,
        ):
            try:
                call()
            except driver.InterfaceError as e:
                seen.append("released back to the pool" in str(e))
            else:
                seen.append("no error")
        assert seen == [True] * 9
    finally:
        await pool.close()


@pytest.mark.parametrize("action", ["close", "terminate"])
@pytest.mark.parametrize("floor", [0, 1])
async def test_a_shut_pool_is_collected(driver, pg_dsn, action, floor):
    # asyncpg tests/test_pool.py::TestPool::test_pool_shutdown_cleans_idle_connections: nothing
    # (a closed connection the loop still holds, its termination listener) keeps the pool alive.
    import weakref

    class WeakPool(driver.Pool):  # Pool itself takes no weak references, in either driver
        pass

    pool = await WeakPool(
        pg_dsn,
        min_size=floor,
        max_size=1,
        max_queries=50000,
        max_inactive_connection_lifetime=0.05,
        connect=None,
        setup=None,
        init=None,
        reset=None,
        loop=None,
        connection_class=driver.Connection,
        record_class=driver.Record,
    )
    if action == "close":
        await pool.close()
    else:
        pool.terminate()
    ref = weakref.ref(pool)
    del pool
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("cause", ["max_queries", "expire", "close", "terminate"])
async def test_pool_min_size_restored_after_recycling(driver, pg_dsn, cause):
    # asyncpg tests/test_pool.py::TestPool::test_pool_min_size_restored_after_recycling: a
    # connection closed at release (worn out, expired, closed by its user) is replaced in the
    # background, back to min_size.
    async with driver.create_pool(
        pg_dsn,
        min_size=1,
        max_size=1,
        max_queries=1 if cause == "max_queries" else 50000,
        max_inactive_connection_lifetime=0,
    ) as pool:
        async with pool.acquire() as con:
            old = con._con
            await con.fetchval("SELECT 42")
            if cause == "expire":
                await pool.expire_connections()
            elif cause == "close":
                await con.close()
            elif cause == "terminate":
                con.terminate()

        for _ in range(1000):  # up to 10 s
            if pool.get_size() == 1:
                break
            await asyncio.sleep(0.01)
        assert pool.get_size() == 1
        assert pool._holders[0]._con is not old and old.is_closed()
