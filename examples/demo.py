"""A tour of asyncpg-rs: run it with `make demo` (or `python examples/demo.py [DSN]`).

Without a DSN (argument or ASYNCPG_RS_DSN) it starts a temporary PostgreSQL cluster from the local
server binaries and removes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import date
from decimal import Decimal

import asyncpg_rs as asyncpg


async def tour(dsn: str) -> None:
    con = await asyncpg.connect(dsn)
    print("connected to PostgreSQL", con.get_server_version())
    await con.execute("DROP TABLE IF EXISTS users")
    await con.execute(
        "CREATE TABLE users(id serial PRIMARY KEY, name text UNIQUE, born date, score numeric)"
    )
    status = await con.execute(
        "INSERT INTO users(name, born, score) VALUES($1, $2, $3)",
        "Alice",
        date(1990, 5, 1),
        Decimal("9.5"),
    )
    print("execute ->", status)
    await con.executemany(
        "INSERT INTO users(name, born, score) VALUES($1, $2, $3)",
        [("Bob", date(1985, 1, 2), Decimal("7.25")), ("Carol", None, Decimal(8))],
    )
    row = await con.fetchrow("SELECT * FROM users WHERE name = $1", "Alice")
    assert row is not None
    print("fetchrow ->", row)
    print("  row['name'], row[0], dict(row) ->", row["name"], row[0], dict(row))
    print("fetchval count ->", await con.fetchval("SELECT count(*) FROM users"))
    try:
        await con.execute("INSERT INTO users(name) VALUES('Alice')")
    except asyncpg.UniqueViolationError as e:
        print("UniqueViolationError:", e.sqlstate, e.constraint_name)

    async with con.transaction():
        await con.execute("UPDATE users SET score = score + 1 WHERE name = $1", "Bob")
        print("in transaction:", con.is_in_transaction())

    # Beyond asyncpg: several tasks may share one connection; their queries are pipelined.
    started = time.perf_counter()
    results = await asyncio.gather(*(con.fetchval("SELECT $1::int * 2", i) for i in range(100)))
    elapsed = (time.perf_counter() - started) * 1000
    print(f"100 pipelined queries on one connection: {results[:5]}... in {elapsed:.1f} ms")

    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    async with pool:
        print("pool.fetchval ->", await pool.fetchval("SELECT name FROM users ORDER BY id LIMIT 1"))
    await con.close()


def main() -> None:
    dsn = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ASYNCPG_RS_DSN")
    if dsn:
        asyncio.run(tour(dsn))
        return
    from asyncpg_rs.cluster import TempCluster

    cluster = TempCluster()
    print("starting a temporary PostgreSQL cluster in", cluster.get_data_dir())
    cluster.init(username="postgres", auth="trust")
    cluster.start(port="dynamic")
    try:
        spec = cluster.get_connection_spec()
        dsn = "postgresql://{user}@{host}:{port}/{database}".format(
            user=spec.get("user", "postgres"),
            host=spec["host"],
            port=spec["port"],
            database=spec.get("database", "postgres"),
        )
        asyncio.run(tour(dsn))
    finally:
        cluster.stop()
        cluster.destroy()


if __name__ == "__main__":
    main()
