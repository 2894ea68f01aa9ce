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


class _StallingProxy:
    """Forwards bytes between client and server until stall() is called, then drops them."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.stalled = False
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if not self.stalled:
                    dst.write(data)

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    def stall(self) -> None:
        self.stalled = True

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_close_with_timeout_raises_when_the_server_does_not_answer(pg_cluster):
    proxy = _StallingProxy(pg_cluster.host, pg_cluster.port)
    port = await proxy.start()
    try:
        con = await asyncpg_rs.connect(**pg_cluster.connect_kwargs(port=port))
        assert await con.fetchval("SELECT 1") == 1
        proxy.stall()
        with pytest.raises(asyncio.TimeoutError):
            await con.close(timeout=0.3)
        assert con.is_closed()
    finally:
        proxy.close()


async def test_close_with_timeout_waits_for_a_healthy_server(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    await con.close(timeout=5)
    assert con.is_closed()


async def test_anonymous_record_argument_is_an_unsupported_feature(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        with pytest.raises(asyncpg_rs.UnsupportedClientFeatureError) as info:
            await con.fetchval("SELECT $1::record", (1, 2))
        expected = "invalid input for query argument $1: input of anonymous composite types is not supported"
        assert info.value.args == (expected,)
        assert info.value.hint
        assert await con.fetchval("SELECT 1") == 1
    finally:
        await con.close()
