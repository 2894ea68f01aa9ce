"""psycopg 3 (async) behind the small asyncpg-shaped surface that ``workloads.py`` uses.

``run.py --drivers ...,psycopg`` imports this module as the driver "psycopg".  It wraps
``psycopg.AsyncConnection`` and ``psycopg_pool.AsyncConnectionPool`` with the methods the
workloads call (``connect``, ``create_pool``, ``fetch``, ``fetchval``, ``fetchrow``, ``execute``,
``executemany``, ``prepare``, ``copy_records_to_table``, ``acquire``/``release``) and turns the
``$n`` placeholders into psycopg's ``%s``.

psycopg is used as it comes: autocommit connections (asyncpg does not open transactions
either), tuple rows, text result format, its own prepare threshold (a query is prepared on the
server from its sixth execution on).  ``executemany`` runs in libpq's pipeline mode (psycopg's
default); ``copy_records_to_table`` is ``cursor.copy()`` with ``write_row`` per record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg import sql as pgsql

__version__ = psycopg.__version__

# psycopg serialises concurrent queries on one connection (a lock), it does not pipeline them:
# pipelined_50_tasks gives it a pool instead, as it does for asyncpg.
PIPELINES_ON_ONE_CONNECTION = False

_PLACEHOLDER = re.compile(r"\$(\d+)")
_translated: dict[str, tuple[str, tuple[int, ...]]] = {}


def _translate(sql: str) -> tuple[str, tuple[int, ...]]:
    """``$n`` -> ``%s`` (and ``%`` -> ``%%``); the argument index of each placeholder, in order."""
    hit = _translated.get(sql)
    if hit is None:
        order = tuple(int(m.group(1)) - 1 for m in _PLACEHOLDER.finditer(sql))
        hit = (_PLACEHOLDER.sub("%s", sql.replace("%", "%%")), order)
        _translated[sql] = hit
    return hit


def _query(sql: str, args: Sequence[Any]) -> tuple[str, Sequence[Any] | None]:
    if not args:
        return sql, None
    text, order = _translate(sql)
    if order == tuple(range(len(args))):
        return text, args
    return text, [args[k] for k in order]


class Connection:
    def __init__(self, raw: psycopg.AsyncConnection) -> None:
        self.raw = raw

    async def execute(self, sql: str, *args: Any) -> str:
        text, params = _query(sql, args)
        cur = await self.raw.execute(text, params)
        return cur.statusmessage or ""

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        text, params = _query(sql, args)
        cur = await self.raw.execute(text, params)
        return await cur.fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        text, params = _query(sql, args)
        cur = await self.raw.execute(text, params)
        return await cur.fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        text, _ = _translate(sql)
        async with self.raw.cursor() as cur:
            await cur.executemany(text, rows)

    async def prepare(self, sql: str) -> PreparedStatement:
        return PreparedStatement(self.raw, sql)

    async def copy_records_to_table(
        self, table: str, *, records: Iterable[Sequence[Any]], columns: Sequence[str]
    ) -> str:
        stmt = pgsql.SQL("COPY {} ({}) FROM STDIN").format(
            pgsql.Identifier(table),
            pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns),
        )
        async with self.raw.cursor() as cur:
            async with cur.copy(stmt) as copy:
                for record in records:
                    await copy.write_row(record)
            return f"COPY {cur.rowcount}"

    async def close(self) -> None:
        await self.raw.close()


class PreparedStatement:
    def __init__(self, raw: psycopg.AsyncConnection, sql: str) -> None:
        self.raw = raw
        self.sql = sql

    async def fetchrow(self, *args: Any) -> tuple[Any, ...] | None:
        text, params = _query(self.sql, args)
        cur = await self.raw.execute(text, params, prepare=True)
        return await cur.fetchone()


async def connect(dsn: str) -> Connection:
    return Connection(await psycopg.AsyncConnection.connect(dsn, autocommit=True))


class Pool:
    def __init__(self, raw: psycopg_pool.AsyncConnectionPool) -> None:
        self.raw = raw
        self._wrapped: dict[int, Connection] = {}

    async def acquire(self) -> Connection:
        raw = await self.raw.getconn()
        con = self._wrapped.get(id(raw))
        if con is None or con.raw is not raw:
            con = self._wrapped[id(raw)] = Connection(raw)
        return con

    async def release(self, con: Connection) -> None:
        await self.raw.putconn(con.raw)

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        text, params = _query(sql, args)
        async with self.raw.connection() as raw:
            cur = await raw.execute(text, params)
            return await cur.fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def close(self) -> None:
        await self.raw.close()


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> Pool:
    raw = psycopg_pool.AsyncConnectionPool(
        dsn, min_size=min_size, max_size=max_size, kwargs={"autocommit": True}, open=False
    )
    await raw.open(wait=True)
    return Pool(raw)
