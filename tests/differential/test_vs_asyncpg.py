"""The same calls through asyncpg 0.32 and asyncpg_rs: values, statuses and exceptions must agree.

Each scenario is an async function of a fresh connection. It runs once per driver and its outcome
is normalised: records become (key, value) pairs, asyncpg's named tuples become (class name,
fields), and an exception becomes its class name, message and PostgreSQL fields. The outcomes
must be equal. Scenarios where asyncpg_rs differs on purpose (pipelining) are not here.
"""

from __future__ import annotations

import asyncio
import typing

import asyncpg
import pytest

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60), pytest.mark.differential]

# Fields that depend on where in the server's source an error was raised, not on the driver.
_SOURCE_FIELDS = ("server_source_filename", "server_source_line", "server_source_function")


def normalise(value: typing.Any) -> typing.Any:
    """A driver-independent, comparable form of a result."""
    if isinstance(value, (asyncpg.Record, asyncpg_rs.Record)):
        return ("Record", tuple((k, normalise(v)) for k, v in value.items()))
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, tuple(normalise(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(normalise(v) for v in value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def normalise_exception(exc: BaseException) -> tuple:
    fields: dict[str, typing.Any] = {}
    as_dict = getattr(exc, "as_dict", None)
    if callable(as_dict):
        fields = {k: v for k, v in as_dict().items() if k not in _SOURCE_FIELDS}
    first_line = str(exc).split("\n", 1)[0]
    return ("raise", type(exc).__name__, first_line, fields)


async def outcome(scenario, con, mod) -> typing.Any:
    try:
        value = await scenario(con, mod)
    except (Exception, asyncio.TimeoutError) as exc:
        return normalise_exception(exc)
    return ("ok", normalise(value))


async def run_both(pg_dsn, scenario, **connect_kwargs):
    results = []
    for mod in (asyncpg, asyncpg_rs):
        con = await mod.connect(pg_dsn, **connect_kwargs)
        try:
            results.append(await outcome(scenario, con, mod))
        finally:
            await con.close()
    return results


# ----- scenarios: async (con, driver_module) -> value -----


async def _table(con):
    await con.execute(
        "CREATE TEMP TABLE d (id int PRIMARY KEY, name text NOT NULL, "
        "ref int CHECK (ref > 0), note varchar(5))"
    )
    await con.execute("INSERT INTO d VALUES (1, 'one', 1, 'a'), (2, 'two', 2, 'b')")


def _with_table(fn):
    async def scenario(con, mod):
        await _table(con)
        return await fn(con, mod)

    return scenario


SCENARIOS: dict[str, typing.Callable[..., typing.Awaitable[typing.Any]]] = {
    # results
    "fetch_rows": lambda c, m: c.fetch("SELECT g, g::text AS t FROM generate_series(1, 5) g"),
    "fetch_args": lambda c, m: c.fetch("SELECT $1::int + $2::int AS s, $3::text AS t", 1, 2, "x"),
    "fetch_empty": lambda c, m: c.fetch("SELECT 1 WHERE false"),
    "fetchrow": lambda c, m: c.fetchrow("SELECT 1 AS a, NULL::text AS b, 'c' AS c"),
    "fetchrow_none": lambda c, m: c.fetchrow("SELECT 1 WHERE false"),
    "fetchval_column": lambda c, m: c.fetchval("SELECT 1, 2, 3", column=1),
    "fetchval_none": lambda c, m: c.fetchval("SELECT 1 WHERE false"),
    "fetchval_null_arg": lambda c, m: c.fetchval("SELECT $1::int IS NULL", None),
    "fetchmany": lambda c, m: c.fetchmany("SELECT $1::int * 2 AS x", [(1,), (2,), (3,)]),
    "fetchmany_empty": lambda c, m: c.fetchmany("SELECT $1::int", []),
    "duplicate_columns": lambda c, m: c.fetchrow("SELECT 1 AS a, 2 AS a"),
    "unnamed_columns": lambda c, m: c.fetchrow("SELECT 1, 'x', 1 + 1"),
    # statuses
    "execute_simple": lambda c, m: c.execute("SELECT 1"),
    "execute_multi": lambda c, m: c.execute("SELECT 1; SELECT 2; SELECT generate_series(1, 3)"),
    "execute_ddl": lambda c, m: c.execute("CREATE TEMP TABLE s (a int); DROP TABLE s"),
    "execute_empty_args_status": lambda c, m: c.execute("SELECT $1::int WHERE false", 1),
    "execute_insert": _with_table(lambda c, m: c.execute("INSERT INTO d VALUES ($1, $2)", 3, "x")),
    "execute_update": _with_table(lambda c, m: c.execute("UPDATE d SET ref = ref + $1", 1)),
    "execute_delete": _with_table(lambda c, m: c.execute("DELETE FROM d")),
    "executemany_result": _with_table(
        lambda c, m: c.executemany("INSERT INTO d VALUES ($1, $2)", [(5, "e"), (6, "f")])
    ),
    "execute_begin_commit": lambda c, m: c.execute("BEGIN; SELECT 1; COMMIT"),
    "execute_show": lambda c, m: c.execute("SHOW client_encoding"),
    # server errors
    "undefined_table": lambda c, m: c.fetch("SELECT * FROM nope_nope"),
    "undefined_column": lambda c, m: c.fetch("SELECT nope FROM pg_class"),
    "undefined_function": lambda c, m: c.fetchval("SELECT nope_fn($1::int)", 1),
    "syntax_error": lambda c, m: c.fetch("SELEC 1"),
    "syntax_error_simple": lambda c, m: c.execute("SELECT 1; SELEC 2"),
    "syntax_error_at_end": lambda c, m: c.fetch("SELECT 1 FROM pg_class WHERE"),
    "division_by_zero": lambda c, m: c.fetchval("SELECT 1 / $1::int", 0),
    "invalid_text": lambda c, m: c.fetchval("SELECT 'abc'::int"),
    "numeric_overflow": lambda c, m: c.fetchval("SELECT 2147483647::int + 1"),
    "unique_violation": _with_table(lambda c, m: c.execute("INSERT INTO d VALUES ($1, 'x')", 1)),
    "not_null_violation": _with_table(lambda c, m: c.execute("INSERT INTO d VALUES (9, NULL)")),
    "check_violation": _with_table(lambda c, m: c.execute("INSERT INTO d VALUES (9, 'x', -1)")),
    "string_too_long": _with_table(
        lambda c, m: c.execute("INSERT INTO d VALUES (9, 'x', 1, $1)", "toolong")
    ),
    "executemany_unique": _with_table(
        lambda c, m: c.executemany("INSERT INTO d VALUES ($1, 'x')", [(7,), (8,), (1,)])
    ),
    "raise_exception": lambda c, m: c.execute(
        "DO $$ BEGIN RAISE EXCEPTION USING MESSAGE = 'm', DETAIL = 'd', HINT = 'h', "
        "ERRCODE = '22012', SCHEMA = 's', TABLE = 't', COLUMN = 'c', CONSTRAINT = 'k', "
        "DATATYPE = 'dt'; END $$"
    ),
    "raise_custom_sqlstate": lambda c, m: c.execute(
        "DO $$ BEGIN RAISE EXCEPTION 'custom' USING ERRCODE = 'P1234'; END $$"
    ),
    "in_failed_transaction": lambda c, m: c.execute("BEGIN; SELECT 1/0; COMMIT"),
    # (the pgbouncer HINT of this one is our own wording, so only its presence is compared)
    "duplicate_prepared": lambda c, m: _without_hint_text(
        _twice(c.prepare, "SELECT 1", name="dup_name")
    ),
    # client errors
    "too_few_args": lambda c, m: c.fetchval("SELECT $1::int, $2::int", 1),
    "too_many_args": lambda c, m: c.fetchval("SELECT $1::int", 1, 2),
    "args_to_query_without_params": lambda c, m: c.fetch("SELECT 1", 1),
    "bad_int_arg": lambda c, m: c.fetchval("SELECT $1::int", "x"),
    "int_overflow_arg": lambda c, m: c.fetchval("SELECT $1::int2", 70000),
    "bad_text_arg": lambda c, m: c.fetchval("SELECT $1::text", 5),
    "bad_bool_arg": lambda c, m: c.fetchval("SELECT $1::bool", "yes"),
    "executemany_bad_element_type": lambda c, m: c.executemany("SELECT $1::int", [(1,), ("x",)]),
    "executemany_not_sequence": lambda c, m: c.executemany("SELECT $1::int", [(1,), 5]),
    "executemany_wrong_count": lambda c, m: c.executemany("SELECT $1::int", [(1,), (1, 2)]),
    "fetchval_column_out_of_range": lambda c, m: c.fetchval("SELECT 1", column=3),
    "record_class_not_record": lambda c, m: c.fetch("SELECT 1", record_class=dict),
    "timeout_not_a_number": lambda c, m: c.fetchval("SELECT 1", timeout="x"),
    "timeout_zero": lambda c, m: c.fetchval("SELECT 1", timeout=0),
    "cursor_outside_transaction": lambda c, m: c.cursor("SELECT 1"),
    "cursor_prefetch_on_await": lambda c, m: _in_transaction(
        c, lambda: c.cursor("SELECT 1", prefetch=3)
    ),
    "cursor_fetch_zero": lambda c, m: _in_transaction(
        c, lambda: _cursor_call(c, lambda cur: cur.fetch(0))
    ),
    # connection after an error in a transaction
    "transaction_state": lambda c, m: _transaction_states(c),
}


async def _twice(fn, *args, **kwargs):
    await fn(*args, **kwargs)
    return await fn(*args, **kwargs)


async def _without_hint_text(coro):
    try:
        return await coro
    except Exception as e:
        return type(e).__name__, e.sqlstate, e.message, bool(e.hint)


async def _in_transaction(con, fn):
    tr = con.transaction()
    await tr.start()
    try:
        return await fn()
    finally:
        await tr.rollback()


async def _cursor_call(con, fn):
    cur = await con.cursor("SELECT generate_series(1, 10)")
    return await fn(cur)


async def _transaction_states(con):
    states = [con.is_in_transaction()]
    await con.execute("BEGIN")
    states.append(con.is_in_transaction())
    try:
        await con.execute("SELECT 1/0")
    except Exception as e:
        states.append(type(e).__name__)
    states.append(con.is_in_transaction())
    await con.execute("ROLLBACK")
    states.append(con.is_in_transaction())
    return states


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_same_outcome(pg_dsn, name):
    theirs, ours = await run_both(pg_dsn, SCENARIOS[name])
    assert ours == theirs


@pytest.mark.parametrize("name", ["fetch_args", "unique_violation", "bad_int_arg", "too_few_args"])
async def test_same_outcome_without_statement_cache(pg_dsn, name):
    theirs, ours = await run_both(pg_dsn, SCENARIOS[name], statement_cache_size=0)
    assert ours == theirs


async def test_same_full_message_for_argument_count(pg_dsn):
    """The whole text, HINT included, of a wrong argument count."""

    async def scenario(con, mod):
        try:
            await con.fetchval("SELECT $1::int")
        except mod.InterfaceError as e:
            return str(e), getattr(e, "hint", None)

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_exception_hierarchy(pg_dsn):
    async def scenario(con, mod):
        try:
            await con.fetch("SELECT * FROM nope_nope")
        except Exception as e:
            return [
                c.__name__
                for c in type(e).__mro__
                if c.__module__.split(".")[0] in ("asyncpg", "asyncpg_rs")
            ]

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_error_after_alter_table_in_transaction(pg_dsn):
    async def scenario(con, mod):
        await con.execute("CREATE TEMP TABLE alt (a int)")
        await con.fetch("SELECT * FROM alt")
        async with con.transaction():
            await con.execute("ALTER TABLE alt ADD COLUMN b int")
            try:
                await con.fetch("SELECT * FROM alt")
            except Exception as e:
                return normalise_exception(e)

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_result_after_alter_table_outside_transaction(pg_dsn):
    async def scenario(con, mod):
        await con.execute("CREATE TEMP TABLE alt (a int); INSERT INTO alt VALUES (1)")
        before = await con.fetch("SELECT * FROM alt")
        await con.execute("ALTER TABLE alt ADD COLUMN b text DEFAULT 'x'")
        return before, await con.fetch("SELECT * FROM alt")

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_prepared_statement_introspection(pg_dsn):
    async def scenario(con, mod):
        stmt = await con.prepare(
            "SELECT $1::int AS a, $2::text AS b, $3::int8[] AS c, now() AS d, $4::numeric AS e"
        )
        before = stmt.get_statusmsg()
        rows = await stmt.fetch(1, "x", [1, 2], 1)
        return (
            stmt.get_query(),
            stmt.get_parameters(),
            stmt.get_attributes(),
            before,
            stmt.get_statusmsg(),
            len(rows),
        )

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_settings(pg_dsn):
    names = (
        "application_name",
        "client_encoding",
        "DateStyle",
        "integer_datetimes",
        "IntervalStyle",
        "is_superuser",
        "server_encoding",
        "server_version",
        "session_authorization",
        "standard_conforming_strings",
        "TimeZone",
    )

    async def scenario(con, mod):
        settings = con.get_settings()
        return (
            [getattr(settings, n) for n in names],
            con.get_server_version(),
            con.get_reset_query(),
        )

    theirs, ours = await run_both(pg_dsn, scenario, server_settings={"application_name": "diff"})
    assert ours == theirs


async def test_same_log_messages(pg_dsn):
    async def scenario(con, mod):
        got = []
        con.add_log_listener(lambda c, msg: got.append(msg))
        await con.execute(
            "DO $$ BEGIN RAISE NOTICE 'n %', 1 USING DETAIL = 'dd'; "
            "RAISE WARNING 'w' USING HINT = 'hh'; RAISE INFO 'i'; END $$"
        )
        await asyncio.sleep(0.05)
        return [
            (
                type(m).__name__,
                str(m),
                isinstance(m, Warning),
                {k: v for k, v in m.as_dict().items() if k not in _SOURCE_FIELDS},
            )
            for m in got
        ]

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_closed_connection_errors(pg_dsn):
    async def scenario(con, mod):
        await con.close()
        out = [con.is_closed()]
        for call in (
            lambda: con.execute("SELECT 1"),
            lambda: con.fetch("SELECT 1"),
            lambda: con.fetchval("SELECT $1::int", 1),
            lambda: con.prepare("SELECT 1"),
            lambda: con.executemany("SELECT $1::int", [(1,)]),
        ):
            try:
                await call()
            except Exception as e:
                out.append(normalise_exception(e))
        return out

    theirs, ours = await run_both(pg_dsn, scenario)
    assert ours == theirs


async def test_same_wrong_password_error(pg_cluster, pg_auth_users):
    outcomes = []
    for mod in (asyncpg, asyncpg_rs):
        for auth in pg_auth_users.values():
            try:
                await mod.connect(
                    host=pg_cluster.host,
                    port=pg_cluster.port,
                    user=auth.user,
                    password="wrong",
                    database=pg_cluster.database,
                )
            except Exception as e:
                outcomes.append((mod.__name__, normalise_exception(e)))
    half = len(outcomes) // 2
    assert [o for _, o in outcomes[half:]] == [o for _, o in outcomes[:half]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"statement_cache_size": -1},
        {"max_cached_statement_lifetime": -1},
        {"max_cacheable_statement_size": None},
        {"command_timeout": 0},
        {"command_timeout": "x"},
        {"command_timeout": True},
        {"command_timeout": "5"},
        {"connection_class": dict},
        {"record_class": dict},
        {"server_settings": {"a": 1}},
    ],
    ids=lambda kw: "-".join(f"{k}={v!r}" for k, v in kw.items()),
)
async def test_same_connect_validation_error(pg_dsn, kwargs):
    outcomes = []
    for mod in (asyncpg, asyncpg_rs):
        try:
            con = await mod.connect(pg_dsn, **kwargs)
        except Exception as e:
            outcomes.append(normalise_exception(e))
        else:
            await con.close()
            outcomes.append("connected")
    assert outcomes[1] == outcomes[0]
