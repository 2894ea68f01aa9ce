"""execute, executemany, fetch, fetchrow, fetchval, fetchmany: results and errors.

Every test takes the `driver` fixture (the asyncpg module or asyncpg_rs): asyncpg 0.32 is the
oracle. Where asyncpg_rs differs on purpose (pipelining on one connection) the test says so.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest_asyncio.fixture
async def table(con):
    await con.execute(
        "CREATE TEMP TABLE items (id int PRIMARY KEY, name text, qty int NOT NULL DEFAULT 0)"
    )
    return "items"


def _first_line(exc: BaseException) -> str:
    return str(exc).split("\n", 1)[0]


# ----- execute -----


async def test_execute_simple_returns_status(con):
    assert await con.execute("SELECT 1") == "SELECT 1"
    assert await con.execute("SELECT generate_series(1, 3)") == "SELECT 3"


async def test_execute_multi_statement_returns_last_status(con):
    assert await con.execute("SELECT 1; SELECT 2") == "SELECT 1"
    status = await con.execute(
        "CREATE TEMP TABLE m (a int); INSERT INTO m VALUES (1), (2); UPDATE m SET a = a + 1"
    )
    assert status == "UPDATE 2"
    assert await con.fetchval("SELECT sum(a) FROM m") == 5


async def test_execute_ddl_and_dml_statuses(con):
    assert await con.execute("CREATE TEMP TABLE s (a int)") == "CREATE TABLE"
    assert await con.execute("INSERT INTO s VALUES (1), (2), (3)") == "INSERT 0 3"
    assert await con.execute("DELETE FROM s WHERE a > 1") == "DELETE 2"
    assert await con.execute("DROP TABLE s") == "DROP TABLE"


async def test_execute_with_args_uses_extended_protocol(con, table):
    assert (
        await con.execute("INSERT INTO items (id, name) VALUES ($1, $2)", 1, "one") == "INSERT 0 1"
    )
    assert await con.execute("UPDATE items SET qty = $1 WHERE id = $2", 7, 1) == "UPDATE 1"
    assert await con.execute("SELECT * FROM items WHERE id = $1", 99) == "SELECT 0"
    assert await con.fetchrow("SELECT id, name, qty FROM items") == (1, "one", 7)


async def test_execute_multi_statement_with_args_is_a_syntax_error(driver, con):
    with pytest.raises(driver.PostgresSyntaxError):
        await con.execute("SELECT $1::int; SELECT 2", 1)


async def test_execute_error_in_multi_statement_stops_there(driver, con):
    await con.execute("CREATE TEMP TABLE ms (a int)")
    with pytest.raises(driver.DivisionByZeroError):
        await con.execute("INSERT INTO ms VALUES (1); SELECT 1/0; INSERT INTO ms VALUES (2)")
    # The simple protocol runs the string as one implicit transaction: nothing is kept.
    assert await con.fetchval("SELECT count(*) FROM ms") == 0


# ----- executemany -----


async def test_executemany_inserts_all_rows(con, table):
    result = await con.executemany(
        "INSERT INTO items (id, name) VALUES ($1, $2)", [(i, f"n{i}") for i in range(50)]
    )
    assert result is None
    assert await con.fetchval("SELECT count(*) FROM items") == 50


async def test_executemany_accepts_a_generator(con, table):
    await con.executemany("INSERT INTO items (id) VALUES ($1)", ((i,) for i in range(10)))
    assert await con.fetchval("SELECT sum(id) FROM items") == 45


async def test_executemany_empty_sequence(con, table):
    assert await con.executemany("INSERT INTO items (id) VALUES ($1)", []) is None
    assert await con.fetchval("SELECT count(*) FROM items") == 0


async def test_executemany_server_error_in_row_3_leaves_no_rows(driver, con, table):
    rows = [(1, "a"), (2, "b"), (1, "dup"), (4, "d")]
    with pytest.raises(driver.UniqueViolationError) as info:
        await con.executemany("INSERT INTO items (id, name) VALUES ($1, $2)", rows)
    assert info.value.constraint_name == "items_pkey"
    assert await con.fetchval("SELECT count(*) FROM items") == 0
    assert not con.is_in_transaction()


async def test_executemany_bad_row_type_raises_data_error_and_leaves_no_rows(driver, con, table):
    rows = [(1, "a"), (2, "b"), ("three", "c")]
    with pytest.raises(driver.DataError) as info:
        await con.executemany("INSERT INTO items (id, name) VALUES ($1, $2)", rows)
    assert str(info.value) == (
        "invalid input for query argument $1 in element #2 of executemany() sequence: "
        "'three' ('str' object cannot be interpreted as an integer)"
    )
    assert await con.fetchval("SELECT count(*) FROM items") == 0


async def test_executemany_element_not_a_sequence(driver, con, table):
    with pytest.raises(driver.DataError) as info:
        await con.executemany("INSERT INTO items (id) VALUES ($1)", [(1,), 2])
    assert str(info.value) == (
        "invalid input in executemany() argument sequence element #1: expected a sequence, got int"
    )
    assert await con.fetchval("SELECT count(*) FROM items") == 0


async def test_executemany_wrong_argument_count(driver, con, table):
    with pytest.raises(driver.InterfaceError) as info:
        await con.executemany("INSERT INTO items (id, name) VALUES ($1, $2)", [(1, "a"), (2,)])
    assert _first_line(info.value) == "the server expects 2 arguments for this query, 1 was passed"


async def test_executemany_in_transaction_rolls_back_with_it(driver, con, table):
    tr = con.transaction()
    await tr.start()
    await con.executemany("INSERT INTO items (id) VALUES ($1)", [(1,), (2,)])
    assert await con.fetchval("SELECT count(*) FROM items") == 2
    await tr.rollback()
    assert await con.fetchval("SELECT count(*) FROM items") == 0


# ----- fetch family -----


async def test_fetch_returns_records(driver, con):
    rows = await con.fetch("SELECT g AS n, g * 2 AS double FROM generate_series(1, 3) g")
    assert isinstance(rows, list)
    assert [tuple(r) for r in rows] == [(1, 2), (2, 4), (3, 6)]
    assert all(isinstance(r, driver.Record) for r in rows)
    assert rows[1]["double"] == 4
    assert list(rows[0].keys()) == ["n", "double"]


async def test_fetch_with_args(con):
    rows = await con.fetch("SELECT g FROM generate_series($1::int, $2::int) g", 3, 5)
    assert [r[0] for r in rows] == [3, 4, 5]


async def test_fetch_empty_result(con):
    assert await con.fetch("SELECT 1 WHERE false") == []
    assert await con.fetch("SELECT $1::int WHERE false", 1) == []


async def test_fetch_from_statement_without_result(con):
    assert await con.fetch("CREATE TEMP TABLE nores (a int)") == []
    assert await con.fetch("INSERT INTO nores VALUES ($1)", 1) == []


async def test_fetchrow(con):
    row = await con.fetchrow("SELECT 1 AS a, 'x' AS b")
    assert row["a"] == 1
    assert row["b"] == "x"
    assert await con.fetchrow("SELECT 1 WHERE false") is None
    row = await con.fetchrow("SELECT g FROM generate_series(1, 100) g")
    assert row[0] == 1


async def test_fetchval(con):
    assert await con.fetchval("SELECT 42") == 42
    assert await con.fetchval("SELECT 1, 2, 3", column=2) == 3
    assert await con.fetchval("SELECT 1 AS a, 'two' AS b", column=1) == "two"
    assert await con.fetchval("SELECT 1 WHERE false") is None
    assert await con.fetchval("SELECT $1::text", "hi") == "hi"


async def test_fetchval_column_out_of_range(con):
    with pytest.raises(IndexError):
        await con.fetchval("SELECT 1, 2", column=5)
    assert await con.fetchval("SELECT 1") == 1


async def test_fetchval_column_out_of_range_without_rows(con):
    assert await con.fetchval("SELECT 1, 2 WHERE false", column=5) is None


async def test_nulls(con):
    assert await con.fetchval("SELECT NULL") is None
    assert await con.fetchval("SELECT NULL::int") is None
    assert await con.fetchval("SELECT $1::int", None) is None
    row = await con.fetchrow("SELECT NULL::text AS a, 1 AS b, $1::text AS c", None)
    assert tuple(row) == (None, 1, None)
    assert await con.fetchval("SELECT $1::int IS NULL", None) is True


async def test_fetchmany(con, table):
    rows = await con.fetchmany(
        "INSERT INTO items (id, name) VALUES ($1, $2) RETURNING id, name",
        [(1, "a"), (2, "b"), (3, "c")],
    )
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]
    assert await con.fetchmany("SELECT $1::int", []) == []


async def test_fetchmany_is_atomic(driver, con, table):
    with pytest.raises(driver.UniqueViolationError):
        await con.fetchmany("INSERT INTO items (id) VALUES ($1) RETURNING id", [(1,), (1,)])
    assert await con.fetchval("SELECT count(*) FROM items") == 0


async def test_record_class_on_fetch_methods(driver, con):
    class MyRecord(driver.Record):
        def doubled(self):
            return self["a"] * 2

    rows = await con.fetch("SELECT 21 AS a", record_class=MyRecord)
    assert type(rows[0]) is MyRecord
    assert rows[0].doubled() == 42
    row = await con.fetchrow("SELECT $1::int AS a", 4, record_class=MyRecord)
    assert type(row) is MyRecord
    assert row.doubled() == 8
    rows = await con.fetchmany("SELECT $1::int AS a", [(1,), (2,)], record_class=MyRecord)
    assert [type(r) for r in rows] == [MyRecord, MyRecord]
    # The default class is unchanged for other calls.
    assert type(await con.fetchrow("SELECT 1 AS a")) is not MyRecord


async def test_record_class_must_be_a_record_subclass(driver, con):
    with pytest.raises(driver.InterfaceError, match="record_class is expected to be a subclass of"):
        await con.fetch("SELECT 1", record_class=dict)
    with pytest.raises(driver.InterfaceError, match="record_class is expected to be a subclass of"):
        await con.fetchrow("SELECT 1", record_class=tuple)


async def test_duplicate_column_names(con):
    row = await con.fetchrow("SELECT 1 AS a, 2 AS a")
    assert tuple(row) == (1, 2)
    assert row["a"] in (1, 2)


async def test_many_rows(con):
    rows = await con.fetch("SELECT g, repeat('x', 10) FROM generate_series(1, 20000) g")
    assert len(rows) == 20000
    assert rows[-1][0] == 20000


# ----- argument errors -----


@pytest.mark.parametrize(
    ("query", "args", "message"),
    [
        ("SELECT $1::int", (), "the server expects 1 argument for this query, 0 were passed"),
        (
            "SELECT $1::int, $2::int",
            (1,),
            "the server expects 2 arguments for this query, 1 was passed",
        ),
        ("SELECT $1::int", (1, 2), "the server expects 1 argument for this query, 2 were passed"),
        ("SELECT 1", (1,), "the server expects 0 arguments for this query, 1 was passed"),
    ],
)
async def test_wrong_argument_count(driver, con, query, args, message):
    calls = [con.fetch, con.fetchval, con.fetchrow]
    if args:  # execute() without arguments uses the simple protocol (no parameters at all)
        calls.append(con.execute)
    for call in calls:
        with pytest.raises(driver.InterfaceError) as info:
            await call(query, *args)
        assert _first_line(info.value) == message
    assert await con.fetchval("SELECT 1") == 1


async def test_execute_without_args_has_no_parameters(driver, con):
    with pytest.raises(driver.UndefinedParameterError):
        await con.execute("SELECT $1::int")


@pytest.mark.parametrize(
    ("query", "value", "message"),
    [
        (
            "SELECT $1::int",
            "x",
            "invalid input for query argument $1: 'x' ('str' object cannot be interpreted as an integer)",
        ),
        (
            "SELECT $1::int",
            2**40,
            "invalid input for query argument $1: 1099511627776 (value out of int32 range)",
        ),
        ("SELECT $1::text", 5, "invalid input for query argument $1: 5 (expected str, got int)"),
        (
            "SELECT $1::int8",
            "y",
            "invalid input for query argument $1: 'y' ('str' object cannot be interpreted as an integer)",
        ),
    ],
)
async def test_wrong_argument_type_raises_data_error(driver, con, query, value, message):
    with pytest.raises(driver.DataError) as info:
        await con.fetchval(query, value)
    assert str(info.value) == message
    assert await con.fetchval("SELECT 1") == 1


async def test_wrong_argument_type_in_second_position(driver, con):
    with pytest.raises(driver.DataError) as info:
        await con.fetchval("SELECT $1::int + $2::int", 1, "two")
    assert str(info.value).startswith("invalid input for query argument $2: 'two'")


# ----- server errors -----


async def test_unique_violation_attributes(driver, con, table):
    await con.execute("INSERT INTO items (id) VALUES (1)")
    with pytest.raises(driver.UniqueViolationError) as info:
        await con.execute("INSERT INTO items (id) VALUES ($1)", 1)
    e = info.value
    assert isinstance(e, driver.IntegrityConstraintViolationError)
    assert isinstance(e, driver.PostgresError)
    assert e.sqlstate == "23505"
    assert e.constraint_name == "items_pkey"
    assert e.table_name == "items"
    assert e.detail == "Key (id)=(1) already exists."
    assert e.severity == "ERROR"
    assert str(e) == (
        'duplicate key value violates unique constraint "items_pkey"\n'
        "DETAIL:  Key (id)=(1) already exists."
    )


async def test_not_null_violation(driver, con, table):
    with pytest.raises(driver.NotNullViolationError) as info:
        await con.execute("INSERT INTO items (id, qty) VALUES (1, NULL)")
    assert info.value.column_name == "qty"


async def test_undefined_table(driver, con):
    with pytest.raises(driver.UndefinedTableError) as info:
        await con.fetch("SELECT * FROM no_such_table_xyz")
    assert info.value.sqlstate == "42P01"
    assert str(info.value) == 'relation "no_such_table_xyz" does not exist'
    with pytest.raises(driver.UndefinedTableError):
        await con.execute("SELECT * FROM no_such_table_xyz")


async def test_syntax_error_position(driver, con):
    with pytest.raises(driver.PostgresSyntaxError) as info:
        await con.fetch("SELEC 1")
    assert info.value.position == "1"
    assert str(info.value) == 'syntax error at or near "SELEC"'
    with pytest.raises(driver.PostgresSyntaxError) as info:
        await con.fetch("SELECT 1 FROM pg_class WHERE")
    assert info.value.position == "29"
    with pytest.raises(driver.PostgresSyntaxError) as info:
        await con.execute("SELECT 1; SELEC 2")
    assert info.value.position == "11"


async def test_runtime_error_from_execution(driver, con):
    with pytest.raises(driver.DivisionByZeroError):
        await con.fetchval("SELECT 1 / $1::int", 0)
    with pytest.raises(driver.InvalidTextRepresentationError):
        await con.fetchval("SELECT 'abc'::int")


async def test_raise_exception_from_plpgsql(driver, con):
    with pytest.raises(driver.RaiseError) as info:
        await con.execute(
            "DO $$ BEGIN RAISE EXCEPTION 'boom %', 42 USING DETAIL = 'dd', HINT = 'hh'; END $$"
        )
    assert info.value.message == "boom 42"
    assert info.value.detail == "dd"
    assert info.value.hint == "hh"


async def test_connection_usable_after_errors(driver, con):
    errors = [
        con.fetch("SELECT * FROM nope"),
        con.fetchval("SELEC"),
        con.fetchval("SELECT 1/0"),
        con.fetchval("SELECT $1::int", "x"),
        con.fetchval("SELECT $1::int"),
        con.execute("SELECT * FROM nope"),
        con.executemany("SELECT $1::int", [("x",)]),
    ]
    for coro in errors:
        with pytest.raises((driver.PostgresError, driver.InterfaceError)):
            await coro
        assert await con.fetchval("SELECT 1") == 1
        assert await con.fetchval("SELECT $1::int + 1", 1) == 2
    assert not con.is_in_transaction()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.execute("SELECT 1\x00"), id="execute"),
        pytest.param(lambda c: c.fetchval("SELECT 1\x00"), id="fetchval"),
        pytest.param(lambda c: c.fetchval("SELECT $1::int\x00", 1), id="fetchval_args"),
        pytest.param(lambda c: c.prepare("SELECT 1\x00"), id="prepare"),
        pytest.param(lambda c: c.prepare("SELECT 1", name="a\x00"), id="prepare_name"),
    ],
)
async def test_nul_byte_in_query_text_keeps_connection_usable(driver, con, call):
    # asyncpg sends it and the server answers ProtocolViolationError; refusing it client-side
    # (InterfaceError) is fine too, as long as nothing half-written stays on the wire.
    with pytest.raises((driver.PostgresError, driver.InterfaceError)):
        await call(con)
    assert await con.fetchval("SELECT 1") == 1
    assert await con.fetchval("SELECT $1::int", 2) == 2


async def test_nul_byte_in_text_argument(driver, con):
    with pytest.raises(driver.CharacterNotInRepertoireError):
        await con.fetchval("SELECT $1::text", "a\x00b")
    assert await con.fetchval("SELECT 1") == 1


async def test_error_inside_transaction_aborts_it(driver, con):
    tr = con.transaction()
    await tr.start()
    with pytest.raises(driver.DivisionByZeroError):
        await con.fetchval("SELECT 1/0")
    with pytest.raises(driver.InFailedSQLTransactionError):
        await con.fetchval("SELECT 1")
    await tr.rollback()
    assert await con.fetchval("SELECT 1") == 1


# ----- statement cache and schema changes -----


async def test_cached_plan_after_alter_table_outside_transaction(con):
    await con.execute("CREATE TEMP TABLE alt (a int)")
    await con.execute("INSERT INTO alt VALUES (1)")
    assert [tuple(r) for r in await con.fetch("SELECT * FROM alt")] == [(1,)]
    await con.execute("ALTER TABLE alt ADD COLUMN b int DEFAULT 5")
    rows = await con.fetch("SELECT * FROM alt")
    assert [tuple(r) for r in rows] == [(1, 5)]
    assert list(rows[0].keys()) == ["a", "b"]
    await con.execute("ALTER TABLE alt ALTER COLUMN b TYPE text")
    assert await con.fetchrow("SELECT * FROM alt WHERE a = $1", 1) is not None
    assert await con.fetchval("SELECT b FROM alt") == "5"


async def test_cached_plan_after_alter_table_with_args(con):
    await con.execute("CREATE TEMP TABLE alt2 (a int)")
    await con.execute("INSERT INTO alt2 VALUES (1)")
    assert await con.fetchrow("SELECT * FROM alt2 WHERE a = $1", 1) == (1,)
    await con.execute("ALTER TABLE alt2 ADD COLUMN b text DEFAULT 'x'")
    assert await con.fetchrow("SELECT * FROM alt2 WHERE a = $1", 1) == (1, "x")


async def test_cached_plan_after_alter_table_inside_transaction(driver, con):
    await con.execute("CREATE TEMP TABLE alt3 (a int)")
    await con.fetch("SELECT * FROM alt3")
    tr = con.transaction()
    await tr.start()
    try:
        await con.execute("ALTER TABLE alt3 ADD COLUMN b int")
        with pytest.raises(driver.InvalidCachedStatementError) as info:
            await con.fetch("SELECT * FROM alt3")
        assert isinstance(info.value, driver.FeatureNotSupportedError)
    finally:
        await tr.rollback()
    # After the failed attempt the stale statement was dropped: it works again.
    assert await con.fetch("SELECT * FROM alt3") == []


# ----- many tasks on one connection -----


async def test_concurrent_queries_on_one_connection(driver, con):
    """asyncpg_rs pipelines requests on one connection; asyncpg refuses the second operation."""
    coros = [con.fetchval("SELECT $1::int * 10", i) for i in range(50)]
    if driver.__name__ == "asyncpg":
        with pytest.raises(driver.InterfaceError, match="another operation is in progress"):
            await asyncio.gather(*coros)
        await asyncio.sleep(0.1)
        return
    results = await asyncio.gather(*coros)
    assert results == [i * 10 for i in range(50)]


async def test_pipelined_mixed_methods_and_errors(driver, con):
    if driver.__name__ == "asyncpg":
        return await _asyncpg_refuses_a_second_operation(driver, con)
    await con.execute("CREATE TEMP TABLE pipe (a int PRIMARY KEY)")
    coros = []
    for i in range(40):
        kind = i % 5
        if kind == 0:
            coros.append(con.fetchval("SELECT $1::int", i))
        elif kind == 1:
            coros.append(con.fetch("SELECT g FROM generate_series(1, $1::int) g", i))
        elif kind == 2:
            coros.append(con.fetchval("SELECT 1 / ($1::int - $1::int)", i))  # division by zero
        elif kind == 3:
            coros.append(con.execute("INSERT INTO pipe VALUES ($1)", i))
        else:
            coros.append(con.fetchrow("SELECT $1::text AS t", str(i)))
    results = await asyncio.gather(*coros, return_exceptions=True)
    for i, r in enumerate(results):
        kind = i % 5
        if kind == 0:
            assert r == i
        elif kind == 1:
            assert [x[0] for x in r] == list(range(1, i + 1))
        elif kind == 2:
            assert isinstance(r, driver.DivisionByZeroError)
        elif kind == 3:
            assert r == "INSERT 0 1"
        else:
            assert r["t"] == str(i)
    assert await con.fetchval("SELECT count(*) FROM pipe") == 8


async def test_pipelined_queries_from_many_tasks(driver, con):
    if driver.__name__ == "asyncpg":
        return await _asyncpg_refuses_a_second_operation(driver, con)

    async def worker(n):
        out = []
        for j in range(10):
            out.append(await con.fetchval("SELECT $1::int + $2::int", n, j))
        return out

    results = await asyncio.gather(*(worker(n * 100) for n in range(20)))
    assert results == [[n * 100 + j for j in range(10)] for n in range(20)]


async def _asyncpg_refuses_a_second_operation(driver, con):
    """The deliberate difference: asyncpg refuses what asyncpg_rs pipelines."""
    first = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(0.05)"))
    await asyncio.sleep(0.01)
    with pytest.raises(driver.InterfaceError, match="another operation is in progress"):
        await con.fetchval("SELECT 1")
    await first
