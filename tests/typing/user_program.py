"""A realistic program using asyncpg_rs, checked with ``mypy --strict`` by test_typing.py.

It is type-checked, never run: every call here must type-check exactly as a user would write it,
with no ``Any`` leaking into what the program annotates.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Optional

import asyncpg_rs as asyncpg
import asyncpg_rs.exceptions
import asyncpg_rs.pool
from asyncpg_rs import Connection, Pool, Record
from asyncpg_rs.cursor import Cursor, CursorFactory
from asyncpg_rs.pool import PoolAcquireContext
from asyncpg_rs.prepared_stmt import PreparedStatement
from asyncpg_rs.transaction import Transaction


class UserRecord(asyncpg.Record):
    """A custom record class: rows come back as this type."""

    @property
    def display(self) -> str:
        return f"{self['name']} <{self['email']}>"


async def init_connection(con: Connection) -> None:
    await con.set_type_codec(
        "json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


async def use_connection(dsn: str) -> None:
    con: Connection = await asyncpg.connect(dsn, command_timeout=30, statement_cache_size=0)
    try:
        status: str = await con.execute("CREATE TEMP TABLE users(id int, name text, email text)")
        await con.executemany("INSERT INTO users VALUES($1, $2, $3)", [(1, "a", "a@x")])
        rows: list[Record] = await con.fetch("SELECT * FROM users WHERE id > $1", 0)
        for row in rows:
            name: Any = row["name"]
            first: Any = row[0]
            as_dict: dict[str, Any] = dict(row)
            keys: list[str] = list(row.keys())
            maybe: Any = row.get("missing", None)
            print(status, name, first, as_dict, keys, maybe, len(row), tuple(row.values()))
        row_or_none: Optional[Record] = await con.fetchrow("SELECT 1 AS x")
        if row_or_none is not None:
            print(row_or_none["x"])
        count: Any = await con.fetchval("SELECT count(*) FROM users")
        many: list[Record] = await con.fetchmany("SELECT $1::int", [(1,), (2,)])

        typed: list[UserRecord] = await con.fetch("SELECT * FROM users", record_class=UserRecord)
        print(count, many, [r.display for r in typed])
        one: Optional[UserRecord] = await con.fetchrow("SELECT 1", record_class=UserRecord)
        print(one)

        async with con.transaction(isolation="serializable"):
            await con.execute("UPDATE users SET name = $1", "b")
            tr: Transaction = con.transaction()
            await tr.start()
            await tr.rollback()
        print(con.is_in_transaction())

        stmt: PreparedStatement[Record] = await con.prepare("SELECT * FROM users WHERE id = $1")
        prepared_rows: list[Record] = await stmt.fetch(1)
        prepared_row: Optional[Record] = await stmt.fetchrow(1)
        prepared_val: Any = await stmt.fetchval(1)
        print(prepared_rows, prepared_row, prepared_val, stmt.get_query(), stmt.get_statusmsg())
        print([p.name for p in stmt.get_parameters()], [a.name for a in stmt.get_attributes()])
        user_stmt: PreparedStatement[UserRecord] = await con.prepare(
            "SELECT * FROM users", record_class=UserRecord
        )
        print([r.display for r in await user_stmt.fetch()])

        async with con.transaction():
            factory: CursorFactory[Record] = con.cursor("SELECT * FROM users")
            async for r in factory:
                print(r["id"])
            cur: Cursor[Record] = await con.cursor("SELECT * FROM users", prefetch=10)
            batch: list[Record] = await cur.fetch(5)
            single: Optional[Record] = await cur.fetchrow()
            moved: int = await cur.forward(2)
            print(batch, single, moved)
            user_cur: Cursor[UserRecord] = await con.cursor("SELECT 1", record_class=UserRecord)
            print(await user_cur.fetchrow())

        buf = io.BytesIO()
        await con.copy_from_table("users", output=buf, format="csv")
        await con.copy_from_query("SELECT * FROM users", output=buf, format="csv")
        await con.copy_to_table("users", source=io.BytesIO(b"3,c,c@x\n"), format="csv")
        copied: str = await con.copy_records_to_table(
            "users", records=[(4, "d", "d@x")], columns=["id", "name", "email"]
        )
        print(copied)

        def on_notify(
            connection: asyncpg.Connection, pid: int, channel: str, payload: object
        ) -> None:
            print(connection, pid, channel, payload)

        def on_log(connection: asyncpg.Connection, message: asyncpg.PostgresLogMessage) -> None:
            print(message.severity)

        await con.add_listener("events", on_notify)
        con.add_log_listener(on_log)
        await con.remove_listener("events", on_notify)
        con.remove_log_listener(on_log)

        await con.set_type_codec(
            "numeric",
            encoder=str,
            decoder=decimal.Decimal,
            schema="pg_catalog",
            format="text",
        )
        version: asyncpg.ServerVersion = con.get_server_version()
        print(version.major, con.get_server_pid(), con.is_closed())
    except asyncpg.UniqueViolationError as e:
        print(e.sqlstate, e.constraint_name, e.detail)
    except asyncpg.PostgresError as e:
        print(e.sqlstate, e.as_dict())
    except asyncpg.InterfaceError as e:
        print("interface", e)
    except asyncpg_rs.exceptions.ConnectionDoesNotExistError:
        pass
    except (asyncpg.InterfaceWarning, asyncpg.ClientConfigurationError, asyncio.TimeoutError):
        pass
    finally:
        await con.close(timeout=5)


async def use_pool(dsn: str) -> None:
    async with asyncpg.create_pool(dsn, min_size=1, max_size=4, init=init_connection) as pool:
        p: Pool[Record] = pool
        ctx: PoolAcquireContext[Record] = pool.acquire(timeout=10)
        async with ctx as con:
            value: Any = await con.fetchval("SELECT 1")
            rows: list[Record] = await con.fetch("SELECT 1")
            print(value, rows)
        con2 = await pool.acquire()
        try:
            print(await con2.fetchrow("SELECT now()"))
        finally:
            await pool.release(con2)
        direct: list[Record] = await p.fetch("SELECT 1")
        direct_row: Optional[Record] = await p.fetchrow("SELECT 1")
        direct_val: Any = await p.fetchval("SELECT 1")
        status: str = await p.execute("SELECT 1")
        print(direct, direct_row, direct_val, status, p.get_size(), p.get_idle_size())

    user_pool: Pool[UserRecord] = await asyncpg.create_pool(dsn, record_class=UserRecord)
    try:
        async with user_pool.acquire() as con:
            users: list[UserRecord] = await con.fetch("SELECT 'a' AS name, 'b' AS email")
            print([u.display for u in users])
        pool_users: list[UserRecord] = await user_pool.fetch("SELECT 1")
        print(pool_users)
    finally:
        await user_pool.close()


async def stream(con: Connection, ids: Sequence[int]) -> AsyncIterator[datetime.date]:
    async with con.transaction():
        async for row in con.cursor("SELECT d FROM t WHERE id = any($1)", list(ids)):
            d: datetime.date = row["d"]
            yield d


def main() -> None:
    asyncpg.install_as_asyncpg()
    print(asyncpg.__version__, asyncpg.asyncpg_version)
    asyncio.run(use_connection("postgresql://localhost/postgres"))
    asyncio.run(use_pool("postgresql://localhost/postgres"))
    print(asyncpg_rs.pool.Pool, asyncpg.BitString, asyncpg.Range, asyncpg.Point)


if __name__ == "__main__":
    main()
