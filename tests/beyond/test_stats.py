"""Connection and pool statistics, and the query tracer hook (asyncpg-rs extensions)."""

from __future__ import annotations

import asyncio
import importlib.util
import pathlib

import pytest

import asyncpg_rs


@pytest.fixture
async def con(pg_dsn):
    c = await asyncpg_rs.connect(pg_dsn)
    yield c
    await c.close()


async def test_connection_counts_queries_rows_errors_and_bytes(con):
    before = con.get_stats()
    assert before.bytes_sent > 0 and before.bytes_received > 0  # the startup exchange
    await con.fetch("SELECT g FROM generate_series(1, 3) AS g")
    await con.fetchrow("SELECT 1")
    with pytest.raises(asyncpg_rs.UndefinedTableError):
        await con.fetch("SELECT * FROM no_such_table")
    after = con.get_stats()
    assert after.rows - before.rows == 4
    assert after.errors - before.errors == 1
    assert after.queries - before.queries == 2  # the failed one never got to execution
    assert after.bytes_sent > before.bytes_sent
    assert after.bytes_received > before.bytes_received
    with pytest.raises(AttributeError):
        after.rows = 0  # a snapshot, read-only


async def test_pool_counts_acquisitions_waits_and_reconnects(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        first = await pool.acquire()
        waiting = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert pool.get_stats().waiters == 1
        await pool.release(first)
        second = await asyncio.wait_for(waiting, 10)
        await second.fetchval("SELECT 1")
        second.terminate()
        await pool.release(second)
        assert await pool.fetchval("SELECT 2") == 2
        stats = pool.get_stats()
        assert stats.acquisitions == 3
        assert stats.waits == 1 and stats.wait_time >= 0.03
        assert stats.connections_opened == 2 and stats.reconnects == 1
        assert (stats.size, stats.idle, stats.waiters, stats.max_size) == (1, 1, 0, 1)
        assert stats.rows >= 2  # including the terminated connection's rows


async def test_acquire_timeout_counts_as_a_failed_wait(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        async with pool.acquire():
            with pytest.raises(asyncio.TimeoutError):
                await pool.acquire(timeout=0.05)
        assert pool.get_stats().waits_failed == 1


async def test_tracer_sees_start_and_end_with_rows(con):
    events = []

    def tracer(started):
        events.append(("start", started.query))
        return lambda logged: events.append(("end", logged.query, logged.rows, logged.exception))

    con.add_query_tracer(tracer)
    await con.fetch("SELECT g FROM generate_series(1, 5) AS g")
    await con.execute("CREATE TEMP TABLE traced (x int)")
    await con.execute("INSERT INTO traced SELECT generate_series(1, 7)")
    with pytest.raises(asyncpg_rs.PostgresError):
        await con.fetchval("SELECT 1/0")
    con.remove_query_tracer(tracer)
    await con.fetchval("SELECT 1")
    assert events == [
        ("start", "SELECT g FROM generate_series(1, 5) AS g"),
        ("end", "SELECT g FROM generate_series(1, 5) AS g", 5, None),
        ("start", "CREATE TEMP TABLE traced (x int)"),
        ("end", "CREATE TEMP TABLE traced (x int)", None, None),
        ("start", "INSERT INTO traced SELECT generate_series(1, 7)"),
        ("end", "INSERT INTO traced SELECT generate_series(1, 7)", 7, None),
        ("start", "SELECT 1/0"),
        ("end", "SELECT 1/0", None, events[-1][3]),
    ]
    assert isinstance(events[-1][3], asyncpg_rs.DivisionByZeroError)


async def test_a_failing_tracer_does_not_fail_the_query(con):
    def tracer(started):
        raise RuntimeError("tracer bug")

    loop = asyncio.get_running_loop()
    seen = []
    loop.set_exception_handler(lambda _loop, ctx: seen.append(ctx["exception"]))
    try:
        con.add_query_tracer(tracer)
        assert await con.fetchval("SELECT 3") == 3
    finally:
        loop.set_exception_handler(None)
    assert [str(e) for e in seen] == ["tracer bug"]


async def test_logged_query_keeps_asyncpg_shape_and_adds_rows(con):
    got = asyncio.get_running_loop().create_future()
    con.add_query_logger(got.set_result)
    await con.fetch("SELECT 1 UNION ALL SELECT 2")
    logged = await asyncio.wait_for(got, 5)
    query, _args, _timeout, _elapsed, exc, _addr, _params = logged
    assert (query, exc, logged.rows) == ("SELECT 1 UNION ALL SELECT 2", None, 2)


EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "stats_export.py"


async def test_the_prometheus_example(pg_dsn):
    path = EXAMPLE
    spec = importlib.util.spec_from_file_location("stats_export", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=2) as pool:
        await pool.fetchval("SELECT 1")
        text = module.prometheus_text(pool, "t")
    assert (
        '# TYPE asyncpg_pool_acquisitions_total counter\nasyncpg_pool_acquisitions_total{pool="t"} 1'
        in text
    )
    assert 'asyncpg_pool_size{pool="t"} 1' in text
