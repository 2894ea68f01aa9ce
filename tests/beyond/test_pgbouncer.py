"""Beyond asyncpg: statement_cache_size=0 works behind pgbouncer in transaction mode, leaves no
prepared statement on the server, and repeats cost one round trip."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import asyncpg_rs
from tests.fixtures.tools import require_tool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pgbouncer_dsn(pg_cluster):
    pgbouncer = require_tool("pgbouncer")
    workdir = tempfile.mkdtemp(prefix="asyncpg-rs-pgbouncer-")
    port = _free_port()
    ini = os.path.join(workdir, "pgbouncer.ini")
    with open(ini, "w") as f:
        f.write(
            "[databases]\n"
            f"* = host={pg_cluster.host} port={pg_cluster.port} user={pg_cluster.user}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
            f"unix_socket_dir = {workdir}\n"
            "auth_type = any\npool_mode = transaction\n"
            "default_pool_size = 2\nmax_client_conn = 100\n"
            f"logfile = {workdir}/pgbouncer.log\npidfile = {workdir}/pgbouncer.pid\n"
            "ignore_startup_parameters = extra_float_digits,application_name\n"
        )
    cmd = [pgbouncer, ini]
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres", workdir], check=True)
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("pgbouncer did not start")
            time.sleep(0.1)
    yield f"postgresql://{pg_cluster.user}@127.0.0.1:{port}/{pg_cluster.database}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)


async def test_queries_through_pgbouncer_transaction_mode(pgbouncer_dsn):
    cons = [await asyncpg_rs.connect(pgbouncer_dsn, statement_cache_size=0) for _ in range(6)]
    try:

        async def work(con, k):
            for i in range(30):
                assert await con.fetchval("SELECT $1::int + $2::int", i, k) == i + k
                row = await con.fetchrow("SELECT $1::text AS t, $2::int AS n", str(i), k)
                assert row["t"] == str(i) and row["n"] == k
                async with con.transaction():
                    assert await con.fetchval("SELECT $1::int", i) == i

        await asyncio.gather(*(work(c, k) for k, c in enumerate(cons)))
    finally:
        for c in cons:
            await c.close()


async def test_no_prepared_statement_is_left_on_the_server(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn, statement_cache_size=0)
    try:
        for i in range(5):
            await con.fetchval("SELECT $1::int", i)
            await con.fetch("SELECT * FROM generate_series(1, $1)", i)
            await con.execute("SELECT $1::text", "x")
        await con.executemany("SELECT $1::int", [(1,), (2,)])
        assert await con.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
    finally:
        await con.close()


async def test_repeated_query_costs_one_round_trip(pg_dsn):
    # Count the messages the server receives per call through a counting proxy on the socket.
    con = await asyncpg_rs.connect(pg_dsn, statement_cache_size=0)
    try:
        await con.fetchval("SELECT $1::int", 1)  # first call describes the query
        writes = []
        transport = con._transport
        original = transport.write

        def counting_write(data):
            writes.append(bytes(data))
            return original(data)

        transport.write = counting_write
        try:
            assert await con.fetchval("SELECT $1::int", 2) == 2
        finally:
            transport.write = original
        assert len(writes) == 1
        sent = writes[0]
        # Parse, Bind, Describe, Execute, Sync in one write.
        assert [sent[0:1]] == [b"P"] and sent.endswith(b"S\x00\x00\x00\x04")
    finally:
        await con.close()


async def test_schema_change_between_calls_is_followed(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn, statement_cache_size=0)
    try:
        await con.execute("DROP TABLE IF EXISTS pgb_t; CREATE TABLE pgb_t(a int)")
        await con.execute("INSERT INTO pgb_t VALUES (1)")
        assert await con.fetch("SELECT * FROM pgb_t") == [(1,)]
        await con.execute("ALTER TABLE pgb_t ADD COLUMN b text DEFAULT 'x'")
        assert await con.fetch("SELECT * FROM pgb_t") == [(1, "x")]
        await con.execute("ALTER TABLE pgb_t ALTER COLUMN a TYPE bigint")
        assert await con.fetch("SELECT * FROM pgb_t") == [(1, "x")]
        await con.execute("DROP TABLE pgb_t")
    finally:
        await con.close()
