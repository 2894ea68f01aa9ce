"""Nothing outlives a connection or a pool once the user lets go of it.

Each test runs through asyncpg and asyncpg_rs (the ``driver`` fixture): after the connection is
closed (or terminated, or its pool closed, or it never opened because authentication failed) and
dropped, a ``gc.collect()`` must free the connection, its protocol, prepared statements, cursors
and listener callbacks. The RSS test catches what weak references cannot see (native memory).
"""

from __future__ import annotations

import asyncio
import gc
import os
import types
import weakref
from typing import Any, Callable

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120), pytest.mark.differential]


def _count(cls: type) -> int:
    """Live instances of ``cls`` the collector knows of (for classes without weakref slots)."""
    return sum(1 for o in gc.get_objects() if type(o) is cls)


def _counted_classes(driver: types.ModuleType) -> list[type]:
    return [
        driver.prepared_stmt.PreparedStatement,
        driver.cursor.Cursor,
        driver.cursor.CursorFactory,
        driver.connection.Connection,
        driver.transaction.Transaction,
    ]


def _counts(driver: types.ModuleType) -> dict[str, int]:
    gc.collect()
    return {cls.__name__: _count(cls) for cls in _counted_classes(driver)}


async def _use(con: Any, refs: dict[str, weakref.ref]) -> None:
    """Touch everything that keeps per-connection state: statements, cursors, listeners."""

    def on_notify(*args: Any) -> None:
        pass

    def on_log(*args: Any) -> None:
        pass

    def on_terminate(*args: Any) -> None:
        pass

    async def on_notify_async(*args: Any) -> None:
        pass

    await con.add_listener("gc_chan", on_notify)
    await con.add_listener("gc_chan", on_notify_async)
    con.add_log_listener(on_log)
    con.add_termination_listener(on_terminate)
    await con.execute("NOTIFY gc_chan, 'x'")
    await con.execute("DO $$ BEGIN RAISE NOTICE 'gc'; END $$")
    stmt = await con.prepare("SELECT generate_series(1, $1::int) AS n")
    assert len(await stmt.fetch(3)) == 3
    async with con.transaction():
        cur = await stmt.cursor(10)
        assert len(await cur.fetch(4)) == 4
        assert [r["n"] async for r in con.cursor("SELECT generate_series(1, 3) AS n")] == [1, 2, 3]
    assert await con.fetchval("SELECT $1::int + 1", 1) == 2
    refs.update(
        on_notify=weakref.ref(on_notify),
        on_notify_async=weakref.ref(on_notify_async),
        on_log=weakref.ref(on_log),
        on_terminate=weakref.ref(on_terminate),
    )


def _track_connection(con: Any, refs: dict[str, weakref.ref]) -> None:
    inner = getattr(con, "_con", None) or con  # a pool's proxy stands for the connection
    refs["connection"] = weakref.ref(inner)
    refs["protocol"] = weakref.ref(inner._protocol)


async def _assert_collected(refs: dict[str, weakref.ref], before: dict[str, int], driver) -> None:
    # Let callbacks scheduled by close() (termination listeners, connection_lost) run first.
    for _ in range(3):
        await asyncio.sleep(0.01)
    gc.collect()
    alive = sorted(name for name, ref in refs.items() if ref() is not None)
    assert alive == [], f"still alive after gc.collect(): {alive}"
    assert _counts(driver) == before


async def _closed_by(driver, pg_connect_kwargs, finish: Callable[[Any], Any]) -> None:
    before = _counts(driver)
    refs: dict[str, weakref.ref] = {}
    con = await driver.connect(**pg_connect_kwargs)
    await _use(con, refs)
    _track_connection(con, refs)
    await finish(con)
    del con
    await _assert_collected(refs, before, driver)


async def test_closed_connection_is_collected(driver, pg_connect_kwargs):
    async def close(con):
        await con.close()

    await _closed_by(driver, pg_connect_kwargs, close)


async def test_terminated_connection_is_collected(driver, pg_connect_kwargs):
    async def terminate(con):
        con.terminate()

    await _closed_by(driver, pg_connect_kwargs, terminate)


async def test_connection_closed_by_the_server_is_collected(driver, pg_connect_kwargs):
    async def killed(con):
        pid = con.get_server_pid()
        other = await driver.connect(**pg_connect_kwargs)
        try:
            await other.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await other.close()
        # The driver sees the end of the session (EOF) without being asked anything.
        for _ in range(300):
            if con.is_closed():
                break
            await asyncio.sleep(0.01)
        assert con.is_closed()

    await _closed_by(driver, pg_connect_kwargs, killed)


@pytest.mark.filterwarnings("ignore:.*is being released to the pool:Warning")
async def test_pooled_connections_and_pool_are_collected(driver, pg_connect_kwargs):
    before = _counts(driver)
    refs: dict[str, weakref.ref] = {}
    pools = (_count(driver.pool.Pool), _count(driver.pool.PoolConnectionProxy))
    pool = await driver.create_pool(**pg_connect_kwargs, min_size=2, max_size=2)
    async with pool.acquire() as con:
        await _use(con, refs)
        _track_connection(con, refs)
        del con
    async with pool.acquire() as con2:
        refs["connection2"] = weakref.ref(con2._con)
        assert await con2.fetchval("SELECT 1") == 1
        del con2
    assert await pool.fetchval("SELECT 2") == 2
    await pool.close()
    del pool
    await _assert_collected(refs, before, driver)
    assert (_count(driver.pool.Pool), _count(driver.pool.PoolConnectionProxy)) == pools


async def test_connection_after_failed_authentication_is_collected(
    driver, pg_cluster, pg_auth_users
):
    user = pg_auth_users["scram-sha-256"]
    kwargs = pg_cluster.connect_kwargs(user=user.user, password="wrong-password")
    protocol_cls = driver.protocol.Protocol
    gc.collect()
    before = (_counts(driver), _count(protocol_cls))
    for _ in range(3):
        try:
            await driver.connect(**kwargs)
        except driver.exceptions.InvalidPasswordError:
            pass  # not kept: a stored traceback would hold the frames (and the protocol)
        else:
            pytest.fail("connect() with a wrong password succeeded")
    for _ in range(3):
        await asyncio.sleep(0.01)  # the transports' connection_lost callbacks
    gc.collect()
    assert (_counts(driver), _count(protocol_cls)) == before


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
async def test_rss_flat_over_connect_close_cycles(driver, pg_connect_kwargs):
    """Each lost connection used to keep ~35 KB; 400 of them would add ~14 MB."""

    async def cycle() -> None:
        con = await driver.connect(**pg_connect_kwargs)
        await con.fetchval("SELECT 1")
        await con.close()

    for _ in range(50):  # warm-up: caches, allocator arenas
        await cycle()
    gc.collect()
    start = _rss_mb()
    for _ in range(400):
        await cycle()
    gc.collect()
    growth = _rss_mb() - start
    assert growth < 5.0, f"RSS grew by {growth:.1f} MB over 400 connect/close cycles"


@pytest.mark.parametrize("driver", ["asyncpg_rs"], indirect=True)
async def test_cycle_through_the_native_protocol_is_collected(driver, pg_connect_kwargs):
    """The native protocol takes part in cycle collection (``__traverse__``/``__clear__``): a
    callback that holds its connection strongly does not pin either."""
    con = await driver.connect(**pg_connect_kwargs)
    refs = {"connection": weakref.ref(con), "protocol": weakref.ref(con._protocol)}
    con._protocol.notice_callback = con._on_notice  # a strong cycle, as before the weak refs
    await con.close()
    del con
    await _assert_collected(refs, _counts(driver), driver)
