"""Timeouts and task cancellation: the query is cancelled on the server, the connection stays usable.

Run through asyncpg and asyncpg_rs alike (the `driver` fixture); asyncpg 0.32 is the oracle.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90)]

SLEEP = "SELECT pg_sleep(10)"


@pytest_asyncio.fixture
async def con(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest_asyncio.fixture
async def admin(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


async def _assert_usable(con):
    """The connection answers, and no late cancel hits the following queries."""
    assert await con.fetchval("SELECT 1") == 1
    assert await con.fetchval("SELECT $1::int + 1", 1) == 2
    # Give a stray CancelRequest time to arrive while a statement runs.
    assert await con.execute("SELECT pg_sleep(0.15)") == "SELECT 1"
    assert await con.fetchval("SELECT 3") == 3
    assert not con.is_in_transaction()


async def _wait_idle(admin, pid, timeout=5.0):
    """Wait until the backend `pid` no longer runs a pg_sleep statement; return its last state."""
    deadline = time.monotonic() + timeout
    while True:
        row = await admin.fetchrow("SELECT state, query FROM pg_stat_activity WHERE pid = $1", pid)
        if row is None or row["state"] != "active" or "pg_sleep" not in row["query"]:
            return row
        if time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.02)


# ----- timeout= on each method -----


def _calls(con):
    """Each way of running a slow statement, with a timeout."""
    return {
        "execute": lambda t: con.execute(SLEEP, timeout=t),
        "execute_args": lambda t: con.execute("SELECT pg_sleep($1)", 10, timeout=t),
        "fetch": lambda t: con.fetch(SLEEP, timeout=t),
        "fetchrow": lambda t: con.fetchrow(SLEEP, timeout=t),
        "fetchval": lambda t: con.fetchval(SLEEP, timeout=t),
        "fetchval_args": lambda t: con.fetchval("SELECT pg_sleep($1::float8)", 10.0, timeout=t),
        "executemany": lambda t: con.executemany("SELECT pg_sleep($1)", [(10,), (10,)], timeout=t),
        "fetchmany": lambda t: con.fetchmany("SELECT pg_sleep($1)", [(10,)], timeout=t),
    }


@pytest.mark.parametrize(
    "method",
    [
        "execute",
        "execute_args",
        "fetch",
        "fetchrow",
        "fetchval",
        "fetchval_args",
        "executemany",
        "fetchmany",
    ],
)
async def test_timeout_on_method(con, admin, method):
    call = _calls(con)[method]
    pid = con.get_server_pid()
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await call(0.2)
    assert time.monotonic() - started < 2.0
    row = await _wait_idle(admin, pid)
    assert row is None or "pg_sleep" not in row["query"] or row["state"] != "active"
    await _assert_usable(con)


@pytest.mark.parametrize("method", ["fetch", "fetchrow", "fetchval"])
async def test_timeout_on_prepared_statement(con, method):
    stmt = await con.prepare("SELECT pg_sleep($1)")
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await getattr(stmt, method)(10, timeout=0.2)
    assert time.monotonic() - started < 2.0
    await _assert_usable(con)
    assert await stmt.fetchval(0) in (None, "")


async def test_timeout_on_prepared_executemany(con):
    stmt = await con.prepare("SELECT pg_sleep($1)")
    with pytest.raises(asyncio.TimeoutError):
        await stmt.executemany([(10,)], timeout=0.2)
    await _assert_usable(con)


async def test_timeout_on_cursor_fetch(driver, con):
    tr = con.transaction()
    await tr.start()
    try:
        cur = await con.cursor(
            "SELECT pg_sleep(CASE WHEN g = 2 THEN 10 ELSE 0 END) FROM generate_series(1, 3) g"
        )
        await cur.fetch(1)
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await cur.fetch(1, timeout=0.2)
        assert time.monotonic() - started < 2.0
        # The cancelled statement aborted the transaction.
        with pytest.raises(driver.InFailedSQLTransactionError):
            await con.fetchval("SELECT 1")
    finally:
        await tr.rollback()
    await _assert_usable(con)


async def test_timeout_on_prepare(con):
    # A prepare never sleeps; a generous timeout is accepted and a tiny one applies.
    stmt = await con.prepare("SELECT 1", timeout=5)
    assert await stmt.fetchval() == 1


async def test_query_faster_than_timeout(con):
    assert await con.fetchval("SELECT 5", timeout=5) == 5
    assert await con.fetch("SELECT pg_sleep(0.05)", timeout=5) is not None


@pytest.mark.parametrize("timeout", [0, -1, 0.0])
async def test_non_positive_timeout_raises_at_once(con, timeout):
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await con.fetchval("SELECT pg_sleep(1)", timeout=timeout)
    assert time.monotonic() - started < 0.9
    await _assert_usable(con)


@pytest.mark.parametrize("timeout", ["x", True, False])
async def test_invalid_timeout_raises_value_error(con, timeout):
    with pytest.raises(ValueError, match="invalid timeout value: expected non-negative float"):
        await con.fetchval("SELECT 1", timeout=timeout)
    assert await con.fetchval("SELECT 1") == 1


async def test_repeated_timeouts(con):
    for _ in range(10):
        with pytest.raises(asyncio.TimeoutError):
            await con.fetchval(SLEEP, timeout=0.1)
    await _assert_usable(con)


async def test_timeout_in_transaction_aborts_it(driver, con):
    tr = con.transaction()
    await tr.start()
    with pytest.raises(asyncio.TimeoutError):
        await con.fetchval(SLEEP, timeout=0.2)
    with pytest.raises(driver.InFailedSQLTransactionError):
        await con.fetchval("SELECT 1")
    await tr.rollback()
    await _assert_usable(con)


# ----- task cancellation -----


async def test_cancel_task_cancels_server_query(con, admin):
    pid = con.get_server_pid()
    task = asyncio.ensure_future(con.fetchval(SLEEP))
    # Wait until the server runs it.
    for _ in range(250):
        state = await admin.fetchval(
            "SELECT state FROM pg_stat_activity WHERE pid = $1 AND query = $2", pid, SLEEP
        )
        if state == "active":
            break
        await asyncio.sleep(0.02)
    assert state == "active"
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    row = await _wait_idle(admin, pid)
    assert row is not None
    assert row["state"] != "active" or "pg_sleep" not in row["query"]
    await _assert_usable(con)


@pytest.mark.parametrize("method", ["execute", "fetch", "fetchrow", "fetchval_args", "executemany"])
async def test_cancel_each_method(con, admin, method):
    call = _calls(con)[method]
    pid = con.get_server_pid()
    task = asyncio.ensure_future(call(None))
    await asyncio.sleep(0.2)
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.0
    row = await _wait_idle(admin, pid)
    assert row is None or row["state"] != "active" or "pg_sleep" not in row["query"]
    await _assert_usable(con)


async def test_cancel_with_wait_for(con):
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(con.fetchval(SLEEP), 0.2)
    assert time.monotonic() - started < 2.0
    await _assert_usable(con)


async def test_cancel_before_the_query_is_sent(con):
    task = asyncio.ensure_future(con.fetchval("SELECT 1"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_usable(con)


@pytest.mark.timeout(60)
async def test_many_cancellations_of_a_long_result(con):
    """Cancel a large fetch at random points; after each, the connection gives right answers."""
    rng = random.Random(20240607)
    query = "SELECT g FROM generate_series(1, 200000) g"
    started = time.monotonic()
    completed = cancelled = 0
    for i in range(100):
        task = asyncio.ensure_future(con.fetch(query))
        await asyncio.sleep(rng.uniform(0, 0.02))
        task.cancel()
        try:
            rows = await task
        except asyncio.CancelledError:
            cancelled += 1
        else:
            completed += 1
            assert len(rows) == 200000
        assert await con.fetchval("SELECT $1::int", i) == i
        assert time.monotonic() - started < 45, f"too slow: {i} iterations"
    assert cancelled > 0
    await _assert_usable(con)
    assert len(await con.fetch(query)) == 200000


@pytest.mark.timeout(60)
async def test_many_cancellations_of_short_queries(con):
    rng = random.Random(7)
    for i in range(100):
        task = asyncio.ensure_future(
            con.fetchval("SELECT pg_sleep(0.01)::text || $1::text", str(i))
        )
        await asyncio.sleep(rng.uniform(0, 0.02))
        task.cancel()
        try:
            value = await task
        except asyncio.CancelledError:
            pass
        else:
            assert value == str(i)
        assert await con.fetchval("SELECT $1::text", f"x{i}") == f"x{i}"
    await _assert_usable(con)


async def test_close_while_query_runs(driver, pg_dsn):
    con = await driver.connect(pg_dsn)
    task = asyncio.ensure_future(con.fetchval(SLEEP))
    await asyncio.sleep(0.1)
    con.terminate()
    with pytest.raises((driver.ConnectionDoesNotExistError, driver.InterfaceError)):
        await asyncio.wait_for(task, 5)
    assert con.is_closed()


# ----- cancellation with pipelined requests (asyncpg_rs only: asyncpg runs one at a time) -----


async def test_cancel_queued_request_spares_the_running_one(driver, con):
    """Cancelling a request still queued behind another must not cancel the running one."""
    if driver.__name__ == "asyncpg":
        return await _asyncpg_refuses_a_second_operation(driver, con)
    running = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(0.5)::text || 'ran'"))
    queued = asyncio.ensure_future(con.fetchval("SELECT 'queued'"))
    await asyncio.sleep(0.1)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await asyncio.wait_for(running, 5) == "ran"
    await _assert_usable(con)


async def test_timeout_of_queued_request_spares_the_running_one(driver, con):
    if driver.__name__ == "asyncpg":
        return await _asyncpg_refuses_a_second_operation(driver, con)
    running = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(0.6)::text || 'ran'"))
    await asyncio.sleep(0.05)
    with pytest.raises(asyncio.TimeoutError):
        await con.fetchval("SELECT 'queued'", timeout=0.2)
    assert await asyncio.wait_for(running, 5) == "ran"
    await _assert_usable(con)


async def test_timeout_of_running_request_spares_the_queued_ones(driver, con):
    if driver.__name__ == "asyncpg":
        return await _asyncpg_refuses_a_second_operation(driver, con)
    slow = asyncio.ensure_future(con.fetchval(SLEEP, timeout=0.3))
    queued = [asyncio.ensure_future(con.fetchval("SELECT $1::int", i)) for i in range(5)]
    with pytest.raises(asyncio.TimeoutError):
        await slow
    assert await asyncio.wait_for(asyncio.gather(*queued), 5) == list(range(5))
    await _assert_usable(con)


async def _asyncpg_refuses_a_second_operation(driver, con):
    """The deliberate difference: asyncpg refuses what asyncpg_rs pipelines."""
    first = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(0.05)"))
    await asyncio.sleep(0.01)
    with pytest.raises(driver.InterfaceError, match="another operation is in progress"):
        await con.fetchval("SELECT 1")
    await first
