"""What in-flight requests see when the connection goes away, and errors of simple queries."""

from __future__ import annotations

import asyncio

import pytest

import asyncpg_rs


async def test_terminate_fails_the_request_in_flight_as_closed_in_the_middle(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(5)"))
    await asyncio.sleep(0.1)
    con.terminate()
    with pytest.raises(
        asyncpg_rs.ConnectionDoesNotExistError, match="closed in the middle of operation"
    ):
        await task


async def test_backend_killed_mid_query_quotes_the_server_and_keeps_the_cause(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    admin = await asyncpg_rs.connect(pg_dsn)
    try:
        task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.1)
        await admin.fetchval("SELECT pg_terminate_backend($1)", con.get_server_pid())
        with pytest.raises(asyncpg_rs.ConnectionDoesNotExistError) as info:
            await task
        assert "closed in the middle of operation: terminating connection" in str(info.value)
        assert isinstance(info.value.__cause__, asyncpg_rs.AdminShutdownError)
        assert con.is_closed()
    finally:
        await admin.close()


async def test_termination_listener_runs_before_the_failed_request_returns(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    admin = await asyncpg_rs.connect(pg_dsn)
    called = []
    con.add_termination_listener(lambda c: called.append(c))
    try:
        task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.1)
        await admin.fetchval("SELECT pg_terminate_backend($1)", con.get_server_pid())
        with pytest.raises(asyncpg_rs.ConnectionDoesNotExistError):
            await task
        assert called == [con]
    finally:
        await admin.close()


async def test_simple_query_errors_carry_the_query(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        with pytest.raises(asyncpg_rs.UndefinedTableError) as info:
            await con.execute("SELECT * FROM no_such_table_here")
        assert info.value.query == "SELECT * FROM no_such_table_here"
    finally:
        await con.close()
