"""Regressions found by running asyncpg 0.32's own test suite against asyncpg_rs.

Each test names the asyncpg test that found the problem. Bodies run through both drivers
(the ``driver`` fixture): asyncpg is the oracle.
"""

from __future__ import annotations

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


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
