"""A pool under concurrent load while the network is cut, stalls, and the server restarts.

Workers write rows keyed by (task, sequence number), retrying a write whose outcome they did not
see until it is confirmed; the key makes the retry idempotent (``ON CONFLICT DO NOTHING``).
Meanwhile the outage proxy cuts every connection, then stalls the network, and the server is
restarted. Afterwards: every confirmed write is there exactly once and nothing else is; the
pool serves ``max_size`` connections again; after ``close()`` the server has no session of the
pool left; the process's RSS is back near where it started.
"""

from __future__ import annotations

import asyncio
import gc
import os

import pytest

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120), pytest.mark.managed_cluster]

APP = "i11_faults_long_run"
WORKERS = 8
POOL_SIZE = 4
RUN_SECONDS = 8.0

# What a write may see while the faults last; anything else fails the test.
_TRANSIENT = (
    asyncpg_rs.exceptions.ConnectionDoesNotExistError,
    asyncpg_rs.exceptions.InterfaceError,
    asyncpg_rs.exceptions.PostgresConnectionError,
    asyncpg_rs.exceptions.CannotConnectNowError,
    asyncpg_rs.exceptions.AdminShutdownError,
    asyncpg_rs.exceptions.QueryCanceledError,
    asyncio.TimeoutError,
    OSError,
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def _sessions(pg_connect_kwargs) -> int:
    con = await asyncpg_rs.connect(**pg_connect_kwargs)
    try:
        return await con.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", APP
        )
    finally:
        await con.close()


async def _run_once(pg_cluster, pg_connect_kwargs, outage_proxy) -> tuple[set, set, int]:
    loop = asyncio.get_running_loop()
    pool = await asyncpg_rs.create_pool(
        **outage_proxy.connect_kwargs(),
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        command_timeout=2.0,
        timeout=3.0,
        server_settings={"application_name": APP},
    )
    confirmed: set[str] = set()
    transient = 0
    stop = loop.time() + RUN_SECONDS

    async def worker(task: int) -> None:
        nonlocal transient
        seq = 0
        while loop.time() < stop:
            key = f"{task}-{seq}"
            # Retry the same key until the write is confirmed (bounded by the test's timeout).
            while True:
                try:
                    await pool.execute(
                        "INSERT INTO faults_t(key, task) VALUES($1, $2) ON CONFLICT DO NOTHING",
                        key,
                        task,
                        timeout=2.0,
                    )
                    break
                except _TRANSIENT:
                    transient += 1
                    await asyncio.sleep(0.05)
            confirmed.add(key)
            seq += 1

    async def faults() -> None:
        await asyncio.sleep(1.0)
        outage_proxy.close_all_connections()  # every connection cut at once
        await asyncio.sleep(1.5)
        outage_proxy.trigger_connectivity_loss()  # the network stalls ...
        await asyncio.sleep(1.0)
        outage_proxy.restore_connectivity()  # ... and comes back
        await asyncio.sleep(1.0)
        await loop.run_in_executor(None, pg_cluster.cluster.restart)  # server restart

    try:
        await asyncio.gather(faults(), *(worker(i) for i in range(WORKERS)))
        # The pool is back to its size: max_size connections at once, each working.
        cons = [await pool.acquire(timeout=10) for _ in range(POOL_SIZE)]
        try:
            for con in cons:
                assert await con.fetchval("SELECT 1") == 1
            assert pool.get_size() == POOL_SIZE
        finally:
            for con in cons:
                await pool.release(con)
    finally:
        outage_proxy.restore_connectivity()
        await asyncio.wait_for(pool.close(), 30)
    rows_con = await asyncpg_rs.connect(**pg_connect_kwargs)
    try:
        rows = await rows_con.fetch("SELECT key FROM faults_t")
    finally:
        await rows_con.close()
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)), "a key was written twice"
    return confirmed, set(keys), transient


async def test_pool_under_load_with_cuts_stalls_and_restart(
    pg_cluster, pg_connect_kwargs, outage_proxy
):
    setup = await asyncpg_rs.connect(**pg_connect_kwargs)
    try:
        await setup.execute(
            "DROP TABLE IF EXISTS faults_t; CREATE TABLE faults_t (key text PRIMARY KEY, task int)"
        )
    finally:
        await setup.close()
    gc.collect()
    rss_start = _rss_mb()
    try:
        confirmed, stored, transient = await _run_once(pg_cluster, pg_connect_kwargs, outage_proxy)
        print(f"confirmed {len(confirmed)} writes, {transient} transient errors")
        assert confirmed, "no write was confirmed"
        assert transient > 0, "the faults did not reach the workers"
        assert stored - confirmed == set(), "rows nobody confirmed (a write went in twice?)"
        assert confirmed - stored == set(), "confirmed writes are missing"

        # No session of the pool left on the server once close() returned.
        for _ in range(100):  # backends exit asynchronously: up to ~10 s
            left = await _sessions(pg_connect_kwargs)
            if not left:
                break
            await asyncio.sleep(0.1)
        assert left == 0, f"{left} server sessions of the closed pool are left"

        gc.collect()
        growth = _rss_mb() - rss_start
        assert growth < 20.0, f"RSS grew by {growth:.1f} MB"
    finally:
        cleanup = await asyncpg_rs.connect(**pg_connect_kwargs)
        try:
            await cleanup.execute("DROP TABLE IF EXISTS faults_t")
        finally:
            await cleanup.close()
