"""Connection.prepare() and PreparedStatement, run through asyncpg and asyncpg_rs alike."""

from __future__ import annotations

import pytest
import pytest_asyncio

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]


@pytest_asyncio.fixture
async def con(driver, pg_dsn):
    c = await driver.connect(pg_dsn)
    try:
        yield c
    finally:
        await c.close()


def _type(driver, oid, name, kind="scalar", schema="pg_catalog"):
    return driver.Type(oid=oid, name=name, kind=kind, schema=schema)


# ----- introspection -----


async def test_get_query_and_name(con):
    query = "SELECT $1::int AS a"
    stmt = await con.prepare(query)
    assert stmt.get_query() == query
    name = stmt.get_name()
    assert isinstance(name, str)
    assert name
    names = [r["name"] for r in await con.fetch("SELECT name FROM pg_prepared_statements")]
    assert name in names


async def test_explicit_name(driver, con):
    stmt = await con.prepare("SELECT 1", name="my_statement")
    assert stmt.get_name() == "my_statement"
    assert await stmt.fetchval() == 1
    names = [r["name"] for r in await con.fetch("SELECT name FROM pg_prepared_statements")]
    assert "my_statement" in names
    with pytest.raises(driver.DuplicatePreparedStatementError):
        await con.prepare("SELECT 2", name="my_statement")
    assert await con.fetchval("SELECT 3") == 3


async def test_prepared_statements_get_distinct_names(con):
    a = await con.prepare("SELECT 1")
    b = await con.prepare("SELECT 1")
    assert a.get_name() != b.get_name()


async def test_get_parameters(driver, con):
    stmt = await con.prepare("SELECT $1::int, $2::text, $3::int8, $4::bool")
    assert stmt.get_parameters() == (
        _type(driver, 23, "int4"),
        _type(driver, 25, "text"),
        _type(driver, 20, "int8"),
        _type(driver, 16, "bool"),
    )
    assert (await con.prepare("SELECT 1")).get_parameters() == ()


async def test_get_parameters_array_and_numeric(driver, con):
    stmt = await con.prepare("SELECT $1::int[], $2::numeric")
    assert stmt.get_parameters() == (
        _type(driver, 1007, "int4[]", kind="array"),
        _type(driver, 1700, "numeric"),
    )


async def test_get_attributes(driver, con):
    stmt = await con.prepare("SELECT 1::int AS a, 'x'::text AS b, now() AS c, ARRAY[1] AS d")
    assert stmt.get_attributes() == (
        driver.Attribute(name="a", type=_type(driver, 23, "int4")),
        driver.Attribute(name="b", type=_type(driver, 25, "text")),
        driver.Attribute(name="c", type=_type(driver, 1184, "timestamptz")),
        driver.Attribute(name="d", type=_type(driver, 1007, "int4[]", kind="array")),
    )
    attr = stmt.get_attributes()[0]
    assert attr.name == "a"
    assert attr.type.oid == 23


async def test_attributes_of_statement_without_result(con):
    await con.execute("CREATE TEMP TABLE pt (a int)")
    stmt = await con.prepare("INSERT INTO pt VALUES ($1)")
    assert stmt.get_attributes() == ()
    assert len(stmt.get_parameters()) == 1


async def test_get_statusmsg(con):
    stmt = await con.prepare("SELECT generate_series(1, $1::int)")
    assert stmt.get_statusmsg() is None
    await stmt.fetch(5)
    assert stmt.get_statusmsg() == "SELECT 5"
    await stmt.fetch(2)
    assert stmt.get_statusmsg() == "SELECT 2"


async def test_get_statusmsg_of_dml(con):
    await con.execute("CREATE TEMP TABLE ps (a int)")
    await con.execute("INSERT INTO ps SELECT generate_series(1, 4)")
    stmt = await con.prepare("UPDATE ps SET a = a + 1 WHERE a > $1")
    await stmt.fetch(1)
    assert stmt.get_statusmsg() == "UPDATE 3"


# ----- execution -----


async def test_fetch_fetchrow_fetchval(con):
    stmt = await con.prepare("SELECT g, g * 10 AS t FROM generate_series(1, $1::int) g")
    rows = await stmt.fetch(3)
    assert [tuple(r) for r in rows] == [(1, 10), (2, 20), (3, 30)]
    assert tuple(await stmt.fetchrow(3)) == (1, 10)
    assert await stmt.fetchrow(0) is None
    assert await stmt.fetchval(3) == 1
    assert await stmt.fetchval(3, column=1) == 10
    assert await stmt.fetchval(0) is None
    assert await stmt.fetch(0) == []


async def test_statement_reused_many_times(con):
    stmt = await con.prepare("SELECT $1::int * 2")
    for i in range(100):
        assert await stmt.fetchval(i) == i * 2


async def test_fetchmany_and_executemany(con):
    await con.execute("CREATE TEMP TABLE pm (a int PRIMARY KEY, b text)")
    ins = await con.prepare("INSERT INTO pm VALUES ($1, $2) RETURNING a")
    assert await ins.executemany([(1, "a"), (2, "b")]) is None
    rows = await ins.fetchmany([(3, "c"), (4, "d")])
    assert [r["a"] for r in rows] == [3, 4]
    assert await ins.fetchmany([]) == []
    assert await con.fetchval("SELECT count(*) FROM pm") == 4


async def test_executemany_is_atomic(driver, con):
    await con.execute("CREATE TEMP TABLE pa (a int PRIMARY KEY)")
    ins = await con.prepare("INSERT INTO pa VALUES ($1)")
    with pytest.raises(driver.UniqueViolationError):
        await ins.executemany([(1,), (2,), (1,)])
    assert await con.fetchval("SELECT count(*) FROM pa") == 0


async def test_record_class_on_prepare(driver, con):
    class MyRecord(driver.Record):
        pass

    stmt = await con.prepare("SELECT 1 AS a", record_class=MyRecord)
    assert type(await stmt.fetchrow()) is MyRecord
    assert [type(r) for r in await stmt.fetch()] == [MyRecord]


async def test_wrong_argument_count(driver, con):
    stmt = await con.prepare("SELECT $1::int")
    with pytest.raises(driver.InterfaceError) as info:
        await stmt.fetchval()
    assert (
        str(info.value).split("\n")[0]
        == "the server expects 1 argument for this query, 0 were passed"
    )
    assert await stmt.fetchval(5) == 5


async def test_wrong_argument_type(driver, con):
    stmt = await con.prepare("SELECT $1::int")
    with pytest.raises(driver.DataError, match=r"invalid input for query argument \$1: 'x'"):
        await stmt.fetchval("x")
    assert await stmt.fetchval(6) == 6


async def test_prepare_invalid_query(driver, con):
    with pytest.raises(driver.PostgresSyntaxError):
        await con.prepare("SELEC 1")
    with pytest.raises(driver.UndefinedTableError):
        await con.prepare("SELECT * FROM no_such_table_p")
    assert await con.fetchval("SELECT 1") == 1


async def test_server_error_from_prepared_statement(driver, con):
    stmt = await con.prepare("SELECT 10 / $1::int")
    with pytest.raises(driver.DivisionByZeroError):
        await stmt.fetchval(0)
    assert await stmt.fetchval(5) == 2


async def test_prepared_statement_with_statement_cache_disabled(driver, pg_dsn):
    con = await driver.connect(pg_dsn, statement_cache_size=0)
    try:
        stmt = await con.prepare("SELECT $1::int + 1")
        assert await stmt.fetchval(1) == 2
        assert await stmt.fetchval(2) == 3
        # Other queries in between replace the unnamed statement; the prepared one still works.
        assert await con.fetchval("SELECT $1::text", "x") == "x"
        assert await stmt.fetchval(3) == 4
    finally:
        await con.close()


async def test_repr(con):
    stmt = await con.prepare("SELECT 1")
    assert "PreparedStatement" in repr(stmt)


# ----- explain -----


async def test_explain(con):
    stmt = await con.prepare("SELECT generate_series(1, $1::int)")
    plan = await stmt.explain(3)
    assert isinstance(plan, list)
    assert plan[0]["Plan"]["Node Type"] == "ProjectSet"
    assert "Actual Rows" not in plan[0]["Plan"]


async def test_explain_analyze_rolls_back(con):
    await con.execute("CREATE TEMP TABLE pe (a int)")
    stmt = await con.prepare("INSERT INTO pe VALUES ($1)")
    plan = await stmt.explain(1, analyze=True)
    assert plan[0]["Plan"]["Node Type"] == "ModifyTable"
    assert "Actual Rows" in plan[0]["Plan"]
    assert "Execution Time" in plan[0]
    assert await con.fetchval("SELECT count(*) FROM pe") == 0
    assert not con.is_in_transaction()
