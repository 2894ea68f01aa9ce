"""Pool shortcuts run without a proxy and send the reset without waiting for it; the next user of
the connection must still find a reset session."""

from __future__ import annotations

import asyncio

import pytest

import asyncpg_rs


async def test_session_state_does_not_leak_between_shortcuts(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        await pool.execute("SET application_name = 'leaky'")
        assert await pool.fetchval("SHOW application_name") != "leaky"
        results = await asyncio.gather(
            pool.execute("SET search_path = nowhere"),
            pool.fetchval("SHOW search_path"),
        )
        assert results[1] != "nowhere"


async def test_advisory_locks_are_released_after_a_shortcut(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        await pool.fetchval("SELECT pg_advisory_lock(4242)")
        other = await asyncpg_rs.connect(pg_dsn)
        try:
            # The reset (pg_advisory_unlock_all) is flushed within two loop iterations.
            for _ in range(50):
                if await other.fetchval("SELECT pg_try_advisory_lock(4242)"):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the pooled connection kept its advisory lock")
        finally:
            await other.close()


async def test_many_tasks_through_shortcuts_get_their_own_results(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=3, max_size=3) as pool:
        results = await asyncio.gather(*(pool.fetchval("SELECT $1::int", i) for i in range(300)))
        assert results == list(range(300))
        assert pool.get_idle_size() == 3


async def test_a_cancelled_shortcut_gives_its_connection_back(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        task = asyncio.ensure_future(pool.fetchval("SELECT pg_sleep(10)"))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.wait_for(pool.fetchval("SELECT 7"), 5) == 7
        assert pool.get_idle_size() == 1


async def test_shortcut_errors_leave_the_pool_usable(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
        with pytest.raises(asyncpg_rs.UndefinedTableError):
            await pool.fetch("SELECT * FROM no_such_table")
        with pytest.raises(asyncpg_rs.DataError):
            await pool.fetchval("SELECT $1::int", "x")
        assert await pool.fetchval("SELECT 1") == 1
        assert pool.get_idle_size() == 1


async def test_release_after_terminate_is_a_no_op(pg_dsn):
    pool = await asyncpg_rs.create_pool(pg_dsn, min_size=1, max_size=1)
    con = await pool.acquire()
    pool.terminate()
    await pool.release(con)  # asyncpg: terminate() detached it, nothing to do
    with pytest.raises(asyncpg_rs.InterfaceError, match="released back to the pool"):
        await con.fetchval("SELECT 1")


def test_pool_logs_on_asyncpgs_logger_name():
    # Logging configured for asyncpg keeps receiving the pool's warnings.
    from asyncpg_rs import pool

    assert pool.logger.name == "asyncpg.pool"
