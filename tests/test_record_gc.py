"""Rows of atomic values are not tracked by the cycle collector; rows holding containers are."""

from __future__ import annotations

import gc

import asyncpg_rs


async def test_rows_of_scalars_are_untracked_and_rows_with_lists_are_tracked(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        scalars = await con.fetchrow(
            "SELECT 1 AS a, 'x'::text AS b, 1.5::float8 AS c, NULL::int AS d"
        )
        assert not gc.is_tracked(scalars)
        with_list = await con.fetchrow("SELECT ARRAY[1, 2] AS a")
        assert gc.is_tracked(with_list)
        # A row that holds a list can take part in a cycle: the collector must still free it.
        with_list["a"].append(with_list)
        del with_list
        assert gc.collect() >= 1
    finally:
        await con.close()
