"""Wrong uses that mypy must reject: proves the types are real, not ``Any``.

Each line marked ``# E: <code>`` must produce exactly that mypy error code (test_typing.py).
"""

from __future__ import annotations

import asyncpg_rs as asyncpg
from asyncpg_rs import Record


class UserRecord(asyncpg.Record):
    pass


async def wrong(dsn: str) -> None:
    con = await asyncpg.connect(dsn)
    users: list[UserRecord] = await con.fetch("SELECT 1")  # E: assignment
    row: Record = await con.fetchrow("SELECT 1")  # E: assignment
    status: int = await con.execute("SELECT 1")  # E: assignment
    await con.fetch(1)  # E: call-overload
    pool = await asyncpg.create_pool(dsn, record_class=UserRecord)
    async with pool.acquire() as c:
        mine: list[UserRecord] = await c.fetch("SELECT 1")
        nope: list[int] = await c.fetch("SELECT 1")  # E: assignment
    stmt = await con.prepare("SELECT 1")
    bad_stmt: list[UserRecord] = await stmt.fetch()  # E: assignment
    print(users, row, status, mine, nope, bad_stmt)
    print(asyncpg.NoSuchError)  # E: attr-defined
