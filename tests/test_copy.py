"""COPY: copy_records_to_table (binary), copy_to_table, copy_from_table, copy_from_query."""

from __future__ import annotations

import io

import pytest

import asyncpg_rs


@pytest.fixture
async def con(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    await con.execute("DROP TABLE IF EXISTS copy_t; CREATE TABLE copy_t(a int, b text, c float8)")
    yield con
    await con.execute("DROP TABLE IF EXISTS copy_t")
    await con.close()


async def test_copy_records_to_table_writes_every_record(con):
    records = [(i, f"t{i}", i / 2) for i in range(5000)]
    assert await con.copy_records_to_table("copy_t", records=records) == "COPY 5000"
    assert await con.fetchval("SELECT count(*) FROM copy_t") == 5000
    assert await con.fetchrow("SELECT * FROM copy_t WHERE a = 4999") == (4999, "t4999", 2499.5)


async def test_copy_records_to_table_with_columns_and_nulls(con):
    status = await con.copy_records_to_table(
        "copy_t", records=[(1, None), (2, "x")], columns=["a", "b"]
    )
    assert status == "COPY 2"
    assert await con.fetch("SELECT a, b, c FROM copy_t ORDER BY a") == [
        (1, None, None),
        (2, "x", None),
    ]


async def test_copy_records_to_table_accepts_async_iterables(con):
    async def gen():
        for i in range(3000):
            yield (i, "x", 0.0)

    assert await con.copy_records_to_table("copy_t", records=gen()) == "COPY 3000"


async def test_copy_records_bad_value_raises_data_error_and_connection_survives(con):
    with pytest.raises(asyncpg_rs.DataError):
        await con.copy_records_to_table("copy_t", records=[(1, 2, 3.0)])
    assert await con.fetchval("SELECT 1") == 1
    assert await con.fetchval("SELECT count(*) FROM copy_t") == 0


async def test_copy_to_table_from_file_like_and_bytes(con):
    assert await con.copy_to_table("copy_t", source=io.BytesIO(b"1\tx\t0.5\n2\ty\t1\n")) == "COPY 2"
    assert await con.copy_to_table("copy_t", source=b"3,z,2\n", format="csv") == "COPY 1"
    assert await con.fetchval("SELECT string_agg(b, '' ORDER BY a) FROM copy_t") == "xyz"


async def test_copy_to_table_unknown_table_raises_and_connection_survives(con):
    with pytest.raises(asyncpg_rs.UndefinedTableError):
        await con.copy_to_table("no_such_table", source=b"1\n")
    assert await con.fetchval("SELECT 2") == 2


async def test_copy_to_table_source_error_aborts_copy(con):
    async def source():
        yield b"1\ta\t1\n"
        raise RuntimeError("failure in source")

    with pytest.raises(RuntimeError, match="failure in source"):
        await con.copy_to_table("copy_t", source=source())
    assert await con.fetchval("SELECT count(*) FROM copy_t") == 0


async def test_copy_from_table_to_file_like_csv_with_header(con, tmp_path):
    await con.copy_records_to_table("copy_t", records=[(1, "a", 1.5), (2, "b", 2.5)])
    buf = io.BytesIO()
    status = await con.copy_from_table("copy_t", output=buf, format="csv", header=True)
    assert status == "COPY 2"
    assert buf.getvalue() == b"a,b,c\n1,a,1.5\n2,b,2.5\n"
    path = tmp_path / "out.txt"
    await con.copy_from_table("copy_t", output=str(path), columns=["a"])
    assert path.read_bytes() == b"1\n2\n"


async def test_copy_from_query_with_arguments_to_async_callable(con):
    await con.copy_records_to_table("copy_t", records=[(i, str(i), 0.0) for i in range(10)])
    chunks: list[bytes] = []

    async def output(data: bytes) -> None:
        chunks.append(data)

    status = await con.copy_from_query(
        "SELECT a FROM copy_t WHERE a < $1 ORDER BY a", 3, output=output
    )
    assert status == "COPY 3"
    assert b"".join(chunks) == b"0\n1\n2\n"


@pytest.mark.parametrize("driver_name", ["asyncpg", "asyncpg_rs"])
async def test_copy_records_matches_asyncpg(pg_dsn, driver_name):
    import importlib

    driver = importlib.import_module(driver_name)
    con = await driver.connect(pg_dsn)
    try:
        await con.execute(
            f"DROP TABLE IF EXISTS copy_{driver_name}; CREATE TABLE copy_{driver_name}(a int, b text)"
        )
        status = await con.copy_records_to_table(
            f"copy_{driver_name}", records=[(1, "x"), (2, None)]
        )
        assert status == "COPY 2"
        buf = io.BytesIO()
        await con.copy_from_table(f"copy_{driver_name}", output=buf, format="csv", null="NULL")
        assert buf.getvalue() == b"1,x\n2,NULL\n"
        await con.execute(f"DROP TABLE copy_{driver_name}")
    finally:
        await con.close()
