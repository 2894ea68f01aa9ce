"""Request futures: asyncio's own Future on the stock loop, the loop's `create_future()` otherwise.

On a stock loop the driver makes `asyncio.Future(loop=loop)` itself (what
`BaseEventLoop.create_future` returns, without its Python frame); a loop that provides its own
futures, by subclass or on the instance, still gets asked for each one.
"""

from __future__ import annotations

import asyncio

import pytest

import asyncpg_rs

pytestmark = pytest.mark.timeout(60)


class _CountingFuture(asyncio.Future):
    made = 0

    def __init__(self, *, loop):
        super().__init__(loop=loop)
        type(self).made += 1


class _OwnFuturesLoop(asyncio.SelectorEventLoop):
    def create_future(self):
        return _CountingFuture(loop=self)


def _run(loop, coro):
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def _queries(dsn):
    con = await asyncpg_rs.connect(dsn)
    try:
        fut_values = [await con.fetchval("SELECT $1::int", i) for i in range(3)]
        fut_values.append(await asyncio.wait_for(con.fetchval("SELECT 7"), 10))
        return fut_values
    finally:
        await con.close()


def test_loop_subclass_futures_are_used(pg_dsn):
    _CountingFuture.made = 0
    assert _run(_OwnFuturesLoop(), _queries(pg_dsn)) == [0, 1, 2, 7]
    assert _CountingFuture.made >= 4


def test_create_future_set_on_the_instance_is_used(pg_dsn):
    loop = asyncio.SelectorEventLoop()
    made = []

    def create_future():
        fut = asyncio.Future(loop=loop)
        made.append(fut)
        return fut

    loop.create_future = create_future
    assert _run(loop, _queries(pg_dsn)) == [0, 1, 2, 7]
    assert len(made) >= 4


def test_stock_loop_futures_behave(pg_dsn):
    async def main():
        con = await asyncpg_rs.connect(pg_dsn)
        try:
            task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(5)"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(con.fetchval("SELECT pg_sleep(5)"), 0.1)
            return await con.fetchval("SELECT 42")
        finally:
            await con.close()

    assert _run(asyncio.new_event_loop(), main()) == 42
