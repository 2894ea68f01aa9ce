"""Benchmark workloads, written once for any asyncpg-compatible driver module.

Each workload is an async function ``workload(env) -> Bench``.  It opens what it needs through
``env`` (which knows the driver module, the DSN and the concurrency) and returns the operation to
time: ``op(task, i)`` is awaited ``loops`` times in total, spread over ``env.concurrency`` tasks;
``task`` is the index of the task running it (0 .. concurrency-1) and ``i`` the operation number.
Nothing here imports asyncpg or asyncpg_rs: the same code runs against both.

``WORKLOADS`` lists them with the concurrencies each is measured at.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import random
from collections.abc import Awaitable
from typing import Any, Callable, Optional

POOL_SIZE = 10

Op = Callable[[int, int], Awaitable[Any]]


@dataclasses.dataclass
class Bench:
    """What a workload hands to the timer."""

    op: Op
    # Awaited before each timed batch, outside the timing (e.g. to empty a table).
    reset: Optional[Callable[[], Awaitable[Any]]] = None
    # A line for the results when the workload had to pick between strategies.
    note: str = ""


class Env:
    """The driver, the server and the concurrency a workload runs with; closes what it opened."""

    def __init__(self, driver: Any, dsn: str, concurrency: int) -> None:
        self.driver = driver
        self.dsn = dsn
        self.concurrency = concurrency
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    async def connect(self, **kwargs: Any) -> Any:
        con = await self.driver.connect(self.dsn, **kwargs)
        self._closers.append(con.close)
        return con

    async def create_pool(self, size: int = POOL_SIZE) -> Any:
        pool = await self.driver.create_pool(self.dsn, min_size=size, max_size=size)
        self._closers.append(pool.close)
        return pool

    async def connections(self) -> list[Any]:
        """One connection per task: a plain connection at concurrency 1, else a pool's.

        At concurrency N the connections come from a pool of N, acquired once, so the timing
        covers the queries and not the pool's acquire/release (``pool_fetchrow_100`` does that).
        """
        if self.concurrency == 1:
            return [await self.connect()]
        pool = await self.create_pool(self.concurrency)
        cons = [await pool.acquire() for _ in range(self.concurrency)]

        async def release() -> None:
            for con in cons:
                await pool.release(con)

        self._closers.append(release)
        return cons

    async def aclose(self) -> None:
        while self._closers:
            await self._closers.pop()()


# -- the workloads ----------------------------------------------------------------------------


async def select1(env: Env) -> Bench:
    """``fetchval('SELECT 1')`` in a loop: the per-query overhead of the driver."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetchval("SELECT 1")

    return Bench(op)


FETCH_1000_MIXED_SQL = """\
SELECT i AS id,
       'row number ' || i AS label,
       i * 1.5::float8 AS score,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute' AS created,
       (i * 1.25)::numeric(12, 2) AS amount
FROM generate_series(1, 1000) AS i"""


async def fetch_1000_mixed(env: Env) -> Bench:
    """``fetch`` of 1,000 rows of int4, text, float8, timestamptz and numeric."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch(FETCH_1000_MIXED_SQL)

    return Bench(op)


async def pg_type(env: Env) -> Bench:
    """``SELECT * FROM pg_type``: ~600 rows of catalog types (oid, name, char, aclitem[], ...)."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch("SELECT * FROM pg_type")

    return Bench(op)


async def generate_series_1k(env: Env) -> Bench:
    """``fetch`` of 1,000 one-column int4 rows."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch("SELECT i FROM generate_series(1, 1000) AS i")

    return Bench(op)


async def generate_series_100k(env: Env) -> Bench:
    """``fetch`` of 100,000 one-column int4 rows: the per-row cost."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch("SELECT i FROM generate_series(1, 100000) AS i")

    return Bench(op)


def _wide_sql(columns: int = 50, rows: int = 500) -> str:
    exprs = []
    for c in range(columns):
        if c % 2:
            exprs.append(f"'value ' || (i + {c}) AS c{c}")
        else:
            exprs.append(f"i + {c} AS c{c}")
    return f"SELECT {', '.join(exprs)} FROM generate_series(1, {rows}) AS i"


WIDE_50COLS_SQL = _wide_sql()


async def wide_50cols(env: Env) -> Bench:
    """``fetch`` of 500 rows of 50 columns (int4 and text alternating)."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch(WIDE_50COLS_SQL)

    return Bench(op)


ARRAYS_SQL = (
    "SELECT ARRAY[{ints}]::int4[] AS ints, ARRAY[{texts}]::text[] AS texts "
    "FROM generate_series(1, 1000) AS i"
).format(
    ints=", ".join(f"i + {k}" for k in range(10)),
    texts=", ".join(f"'item ' || (i + {k})" for k in range(10)),
)


async def arrays(env: Env) -> Bench:
    """``fetch`` of 1,000 rows, each with an int4[10] and a text[10]."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch(ARRAYS_SQL)

    return Bench(op)


NUMERIC_TIMESTAMPTZ_SQL = """\
SELECT (i * 1.01)::numeric(14, 4) AS n1,
       (i * 1000.5)::numeric AS n2,
       (i / 7.0)::numeric(20, 10) AS n3,
       (-i * 3.25)::numeric(10, 2) AS n4,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS t1,
       timestamptz '2000-02-29 12:00:00+00' + i * interval '1 hour' AS t2,
       timestamptz '1999-12-31 23:59:59.5+00' - i * interval '1 day' AS t3,
       timestamptz '2030-06-15 08:30:00+00' + i * interval '1 millisecond' AS t4
FROM generate_series(1, 1000) AS i"""


async def numeric_timestamptz_heavy(env: Env) -> Bench:
    """``fetch`` of 1,000 rows of 4 numeric and 4 timestamptz columns."""
    cons = await env.connections()

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetch(NUMERIC_TIMESTAMPTZ_SQL)

    return Bench(op)


# Random, so that the server stores it uncompressed and only copies it out.
BYTEA_PAYLOAD = random.Random(1).randbytes(1 << 20)


async def bytea_1mb(env: Env) -> Bench:
    """``fetchval`` of one 1 MB bytea value from a table."""
    cons = await env.connections()
    for con in cons:  # a temp table per connection: each task reads its own
        await con.execute("CREATE TEMP TABLE bench_bytea (data bytea)")
        await con.execute("INSERT INTO bench_bytea (data) VALUES ($1)", BYTEA_PAYLOAD)

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].fetchval("SELECT data FROM bench_bytea")

    return Bench(op)


EXECUTEMANY_ROWS = [(n, f"name {n}", n * 0.5) for n in range(10_000)]


async def executemany_10k(env: Env) -> Bench:
    """``executemany`` of 10,000 rows (int4, text, float8) into a temp table, emptied between batches."""
    cons = await env.connections()
    for con in cons:
        await con.execute("CREATE TEMP TABLE bench_executemany (a int4, b text, c float8)")

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].executemany(
            "INSERT INTO bench_executemany (a, b, c) VALUES ($1, $2, $3)", EXECUTEMANY_ROWS
        )

    async def reset() -> None:
        for con in cons:
            await con.execute("TRUNCATE bench_executemany")

    return Bench(op, reset=reset)


COPY_RECORDS = [(n, f"name {n}", n * 0.5) for n in range(100_000)]


async def copy_records_100k(env: Env) -> Bench:
    """``copy_records_to_table`` of 100,000 rows (int4, text, float8) into a temp table."""
    cons = await env.connections()
    for con in cons:
        await con.execute("CREATE TEMP TABLE bench_copy (a int4, b text, c float8)")

    def op(task: int, i: int) -> Awaitable[Any]:
        return cons[task].copy_records_to_table(
            "bench_copy", records=COPY_RECORDS, columns=["a", "b", "c"]
        )

    async def reset() -> None:
        for con in cons:
            await con.execute("TRUNCATE bench_copy")

    return Bench(op, reset=reset)


# -- asyncpg-rs extensions, each against what an asyncpg user writes for the same result ---------


def _is_asyncpg_rs(env: Env) -> bool:
    return getattr(env.driver, "__name__", "").startswith("asyncpg_rs")


JSONB_DOCS_SQL = """\
CREATE TEMP TABLE IF NOT EXISTS bench_jsonb AS
SELECT i AS id, jsonb_build_object(
    'id', i, 'name', 'customer ' || i, 'email', 'user' || i || '@example.com',
    'active', i % 2 = 0, 'score', i * 1.37, 'big', 12345678901234567890 + i,
    'tags', jsonb_build_array('alpha', 'beta', 'gamma', 'café'),
    'address', jsonb_build_object('street', i || ' Main St', 'city', 'Springfield',
                                  'zip', lpad(i::text, 5, '0'), 'geo', jsonb_build_array(1.25, -3.5)),
    'items', (SELECT jsonb_agg(jsonb_build_object('sku', 'sku-' || j, 'qty', j,
                                                  'price', j * 0.25, 'note', null))
              FROM generate_series(1, 12) AS j)) AS doc
FROM generate_series(1, 1000) AS i"""


async def jsonb_1k_objects(env: Env) -> Bench:
    """``fetch`` of 1,000 jsonb documents of ~1 KB as Python objects: asyncpg with a
    ``json.loads`` codec, asyncpg-rs with ``json_objects=True``."""
    import json

    if _is_asyncpg_rs(env):
        con = await env.connect(json_objects=True)
    else:
        con = await env.connect()
        if hasattr(con, "set_type_codec"):  # asyncpg; psycopg decodes jsonb by itself
            await con.set_type_codec(
                "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
    await con.execute(JSONB_DOCS_SQL)

    def op(task: int, i: int) -> Awaitable[Any]:
        return con.fetch("SELECT doc FROM bench_jsonb ORDER BY id")

    return Bench(op)


async def fetch_1000_dicts(env: Env) -> Bench:
    """``fetch_1000_mixed`` as a list of dicts: ``[dict(r) for r in await con.fetch(q)]`` with
    asyncpg, ``row_format='dict'`` with asyncpg-rs."""
    if _is_asyncpg_rs(env):
        con = await env.connect(row_format="dict")

        def op(task: int, i: int) -> Awaitable[Any]:
            return con.fetch(FETCH_1000_MIXED_SQL)

        return Bench(op)
    con = await env.connect()

    async def op_dicts(task: int, i: int) -> Any:
        return [dict(r) for r in await con.fetch(FETCH_1000_MIXED_SQL)]

    return Bench(op_dicts)


async def prepared_fetchrow(env: Env) -> Bench:
    """``PreparedStatement.fetchrow`` in a loop (no statement-cache lookup)."""
    (con,) = await env.connections()
    stmt = await con.prepare("SELECT $1::int4 AS id, $2::text AS name, now() AS at")

    def op(task: int, i: int) -> Awaitable[Any]:
        return stmt.fetchrow(i, "name")

    return Bench(op)


async def _shares_one_connection(con: Any) -> bool:
    """Whether the driver runs concurrent queries on one connection (asyncpg refuses)."""
    results = await asyncio.gather(
        con.fetchval("SELECT 1"), con.fetchval("SELECT 2"), return_exceptions=True
    )
    for result in results:
        # asyncpg: InterfaceError("cannot perform operation: another operation is in progress")
        if isinstance(result, BaseException):
            if type(result).__name__ != "InterfaceError":
                raise result
            return False
    if results != [1, 2]:
        raise AssertionError(f"concurrent fetchval on one connection returned {results!r}")
    return True


async def pipelined_50_tasks(env: Env) -> Bench:
    """50 tasks issuing ``fetchval('SELECT $1::int4', i)``.

    A driver that pipelines runs them all on one shared connection; one that cannot (asyncpg)
    gets its best equivalent, a pool of 10 that the 50 tasks share.
    """
    con = await env.connect()
    # A driver may say that it only serialises queries on a shared connection (psycopg's lock).
    pipelines = getattr(env.driver, "PIPELINES_ON_ONE_CONNECTION", True)
    if pipelines and await _shares_one_connection(con):

        def op(task: int, i: int) -> Awaitable[Any]:
            return con.fetchval("SELECT $1::int4", i)

        return Bench(op, note="50 tasks on one shared connection")

    pool = await env.create_pool()

    def pool_op(task: int, i: int) -> Awaitable[Any]:
        return pool.fetchval("SELECT $1::int4", i)

    why = "one connection cannot be shared" if pipelines else "it serialises a shared connection"
    return Bench(pool_op, note=f"50 tasks on a pool of 10 ({why})")


async def pool_fetchrow(env: Env) -> Bench:
    """N tasks calling ``pool.fetchrow('SELECT $1::int4', i)`` on a pool of 10."""
    pool = await env.create_pool()

    def op(task: int, i: int) -> Awaitable[Any]:
        return pool.fetchrow("SELECT $1::int4", i)

    return Bench(op)


async def pool_fetchrow_10(env: Env) -> Bench:
    """10 tasks calling ``pool.fetchrow('SELECT $1::int4', i)`` on a pool of 10."""
    return await pool_fetchrow(env)


async def pool_fetchrow_100(env: Env) -> Bench:
    """100 tasks calling ``pool.fetchrow('SELECT $1::int4', i)`` on a pool of 10."""
    return await pool_fetchrow(env)


@dataclasses.dataclass(frozen=True)
class Spec:
    """A workload and the concurrencies (number of tasks) it is measured at."""

    name: str
    func: Callable[[Env], Awaitable[Bench]]
    concurrencies: tuple[int, ...] = (1,)
    description: str = ""


def _spec(func: Callable[[Env], Awaitable[Bench]], *concurrencies: int) -> Spec:
    doc = (func.__doc__ or "").strip().splitlines()[0]
    return Spec(func.__name__, func, concurrencies or (1,), doc)


WORKLOADS: dict[str, Spec] = {
    s.name: s
    for s in (
        _spec(select1, 1, POOL_SIZE),
        _spec(fetch_1000_mixed, 1, POOL_SIZE),
        _spec(pg_type, 1, POOL_SIZE),
        _spec(generate_series_1k, 1, POOL_SIZE),
        _spec(generate_series_100k, 1, POOL_SIZE),
        _spec(wide_50cols, 1, POOL_SIZE),
        _spec(arrays, 1, POOL_SIZE),
        _spec(numeric_timestamptz_heavy, 1, POOL_SIZE),
        _spec(bytea_1mb, 1, POOL_SIZE),
        _spec(executemany_10k, 1, POOL_SIZE),
        _spec(copy_records_100k, 1, POOL_SIZE),
        _spec(prepared_fetchrow),
        _spec(jsonb_1k_objects),
        _spec(fetch_1000_dicts),
        _spec(pipelined_50_tasks, 50),
        _spec(pool_fetchrow_10, POOL_SIZE),
        _spec(pool_fetchrow_100, 100),
    )
}


def bench_key(name: str, concurrency: int) -> str:
    """Name of one measured case, e.g. ``select1`` or ``select1_c10``."""
    spec = WORKLOADS[name]
    return name if concurrency == spec.concurrencies[0] else f"{name}_c{concurrency}"


# What the first operation (task 0, i=0) must return, checked once before timing so that a driver
# returning wrong data is reported instead of measured.  Each entry: (summary of the result,
# expected summary); fetches are summarised as (number of rows, first row as a tuple).
_UTC = datetime.timezone.utc


def _rows(result: Any) -> Any:
    return (len(result), tuple(result[0]))


_EXPECTED: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "select1": (lambda r: r, 1),
    "fetch_1000_mixed": (
        _rows,
        (
            1000,
            (
                1,
                "row number 1",
                1.5,
                datetime.datetime(2024, 1, 1, 0, 1, tzinfo=datetime.timezone.utc),
                decimal.Decimal("1.25"),
            ),
        ),
    ),
    # typname is pg_type's second column (by position: psycopg's rows are plain tuples)
    "pg_type": (lambda r: {"int4", "text", "pg_type"} <= {row[1] for row in r}, True),
    "generate_series_1k": (_rows, (1000, (1,))),
    "generate_series_100k": (_rows, (100_000, (1,))),
    "wide_50cols": (
        _rows,
        (500, tuple(1 + c if c % 2 == 0 else f"value {1 + c}" for c in range(50))),
    ),
    "arrays": (_rows, (1000, (list(range(1, 11)), [f"item {k}" for k in range(1, 11)]))),
    "numeric_timestamptz_heavy": (
        _rows,
        (
            1000,
            (
                decimal.Decimal("1.01"),
                decimal.Decimal("1000.5"),
                decimal.Decimal("0.1428571429"),
                decimal.Decimal("-3.25"),
                datetime.datetime(2024, 1, 1, 0, 0, 1, tzinfo=_UTC),
                datetime.datetime(2000, 2, 29, 13, 0, tzinfo=_UTC),
                datetime.datetime(1999, 12, 30, 23, 59, 59, 500000, tzinfo=_UTC),
                datetime.datetime(2030, 6, 15, 8, 30, 0, 1000, tzinfo=_UTC),
            ),
        ),
    ),
    "bytea_1mb": (lambda r: bytes(r) == BYTEA_PAYLOAD, True),
    "executemany_10k": (lambda r: r, None),
    "copy_records_100k": (lambda r: r, "COPY 100000"),
    "prepared_fetchrow": (lambda r: (r[0], r[1]), (0, "name")),
    "jsonb_1k_objects": (
        lambda r: (len(r), r[0][0]["items"][1], r[0][0]["big"], len(str(r[0][0]))),
        (1000, {"sku": "sku-2", "qty": 2, "price": 0.5, "note": None}, 12345678901234567891, 957),
    ),
    "fetch_1000_dicts": (
        lambda r: (len(r), type(r[0]).__name__, list(r[0])),
        (1000, "dict", ["id", "label", "score", "created", "amount"]),
    ),
    "pipelined_50_tasks": (lambda r: r, 0),
    "pool_fetchrow_10": (lambda r: tuple(r), (0,)),
    "pool_fetchrow_100": (lambda r: tuple(r), (0,)),
}


# Workloads whose operation i returns i: checked with all tasks running at once, so that a driver
# mixing up the answers of concurrent queries is reported instead of measured.
ECHOES_I: dict[str, Callable[[Any], Any]] = {
    "prepared_fetchrow": lambda r: r[0],
    "pipelined_50_tasks": lambda r: r,
    "pool_fetchrow_10": lambda r: r[0],
    "pool_fetchrow_100": lambda r: r[0],
}


def check_concurrent(name: str, results: list[Any]) -> None:
    """Raise AssertionError unless ``results[i]`` (from operation i) echoes i."""
    echo = ECHOES_I.get(name)
    if echo is None:
        return
    wrong = [(i, r) for i, r in enumerate(results) if echo(r) != i]
    if wrong:
        raise AssertionError(
            f"{name}: {len(wrong)} of {len(results)} answers mixed up: {wrong[:3]}"
        )


def check_result(name: str, result: Any) -> None:
    """Raise AssertionError if the first operation's result is not what the workload expects."""
    summarise, expected = _EXPECTED[name]
    got = summarise(result)
    if got != expected:
        raise AssertionError(f"{name}: expected {expected!r}, got {got!r}"[:300])
