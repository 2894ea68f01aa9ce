"""Transaction: async with, start/commit/rollback, savepoints, isolation, misuse errors."""

import re
import uuid

import pytest
import pytest_asyncio

import asyncpg_rs
from asyncpg_rs.exceptions import InterfaceError

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def con(pg_dsn):
    con = await asyncpg_rs.connect(pg_dsn)
    try:
        yield con
    finally:
        await con.close()


@pytest_asyncio.fixture
async def table(con):
    name = f"xact_{uuid.uuid4().hex[:8]}"
    await con.execute(f"CREATE TABLE {name} (a int)")
    try:
        yield name
    finally:
        await con.execute(f"DROP TABLE {name}")


async def _values(con, table):
    return [r[0] for r in await con.fetch(f"SELECT a FROM {table} ORDER BY a")]


async def test_async_with_commits_on_success(con, table):
    async with con.transaction():
        await con.execute(f"INSERT INTO {table} VALUES (1)")
        assert con.is_in_transaction()
    assert not con.is_in_transaction()
    assert await _values(con, table) == [1]


async def test_async_with_rolls_back_on_error(con, table):
    with pytest.raises(ZeroDivisionError):
        async with con.transaction():
            await con.execute(f"INSERT INTO {table} VALUES (1)")
            1 / 0  # noqa: B018
    assert not con.is_in_transaction()
    assert await _values(con, table) == []


async def test_manual_start_commit_and_rollback(con, table):
    tr = con.transaction()
    await tr.start()
    await con.execute(f"INSERT INTO {table} VALUES (1)")
    await tr.commit()
    tr = con.transaction()
    await tr.start()
    await con.execute(f"INSERT INTO {table} VALUES (2)")
    await tr.rollback()
    assert await _values(con, table) == [1]
    assert not con.is_in_transaction()


async def test_nested_transaction_is_a_savepoint(con, table):
    async with con.transaction():
        await con.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(RuntimeError):
            async with con.transaction():
                await con.execute(f"INSERT INTO {table} VALUES (2)")
                raise RuntimeError
        async with con.transaction():
            await con.execute(f"INSERT INTO {table} VALUES (3)")
        assert con.is_in_transaction()
    assert await _values(con, table) == [1, 3]


async def test_nested_transaction_recovers_from_a_failed_statement(con, table):
    async with con.transaction():
        await con.execute(f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(asyncpg_rs.exceptions.DivisionByZeroError):
            async with con.transaction():
                await con.execute("SELECT 1 / 0")
        await con.execute(f"INSERT INTO {table} VALUES (2)")
    assert await _values(con, table) == [1, 2]


async def test_top_level_state_is_kept_on_the_connection(con):
    outer = con.transaction()
    await outer.start()
    assert con._top_xact is outer
    inner = con.transaction()
    await inner.start()
    assert con._top_xact is outer
    await inner.commit()
    await outer.commit()
    assert con._top_xact is None


@pytest.mark.parametrize(
    ("isolation", "shown"),
    [
        (None, "read committed"),
        ("read_committed", "read committed"),
        ("read_uncommitted", "read uncommitted"),
        ("repeatable_read", "repeatable read"),
        ("serializable", "serializable"),
    ],
)
async def test_isolation_levels(con, isolation, shown):
    async with con.transaction(isolation=isolation):
        assert await con.fetchval("SHOW transaction_isolation") == shown


async def test_readonly_and_deferrable(con, table):
    async with con.transaction(isolation="serializable", readonly=True, deferrable=True):
        assert await con.fetchval("SHOW transaction_read_only") == "on"
        assert await con.fetchval("SHOW transaction_deferrable") == "on"
    with pytest.raises(asyncpg_rs.exceptions.ReadOnlySQLTransactionError):
        async with con.transaction(readonly=True):
            await con.execute(f"INSERT INTO {table} VALUES (1)")


async def test_nested_transaction_inherits_or_matches_isolation(con):
    async with con.transaction(isolation="repeatable_read"):
        async with con.transaction():
            assert await con.fetchval("SHOW transaction_isolation") == "repeatable read"
        async with con.transaction(isolation="repeatable_read"):
            pass
    # the server default
    async with con.transaction(), con.transaction(isolation="read_committed"):
        pass


async def test_nested_transaction_with_other_isolation_is_refused(con):
    async with con.transaction(isolation="serializable"):
        with pytest.raises(InterfaceError) as exc:
            async with con.transaction(isolation="read_committed"):
                pass
        assert str(exc.value) == (
            "nested transaction has a different isolation level: "
            "current 'read_committed' != outer 'serializable'"
        )
    async with con.transaction():
        with pytest.raises(
            InterfaceError, match="current 'serializable' != outer 'read_committed'"
        ):
            async with con.transaction(isolation="serializable"):
                pass


async def test_invalid_isolation(con):
    with pytest.raises(
        ValueError, match=r"^isolation is expected to be either of \{.*\}, got 'x'$"
    ):
        con.transaction(isolation="x")


async def test_manually_started_transaction_clash(con):
    await con.execute("BEGIN")
    with pytest.raises(InterfaceError) as exc:
        async with con.transaction():
            pass
    assert str(exc.value) == (
        "cannot use Connection.transaction() in a manually started transaction"
    )
    await con.execute("ROLLBACK")


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("commit_twice", "cannot commit; the transaction is already committed"),
        ("rollback_after_commit", "cannot rollback; the transaction is already committed"),
        ("commit_after_rollback", "cannot commit; the transaction is already rolled back"),
        ("start_after_commit", "cannot start; the transaction is already committed"),
        ("commit_before_start", "cannot commit; the transaction is not yet started"),
        ("rollback_before_start", "cannot rollback; the transaction is not yet started"),
        ("start_twice", "cannot start; the transaction is already started"),
        ("commit_in_async_with", "cannot manually commit from within an `async with` block"),
        ("rollback_in_async_with", "cannot manually rollback from within an `async with` block"),
        ("enter_twice", "cannot enter context: already in an `async with` block"),
    ],
)
async def test_misuse_errors(con, scenario, message):
    tr = con.transaction()
    with pytest.raises(InterfaceError) as exc:
        if scenario == "commit_twice":
            await tr.start()
            await tr.commit()
            await tr.commit()
        elif scenario == "rollback_after_commit":
            await tr.start()
            await tr.commit()
            await tr.rollback()
        elif scenario == "commit_after_rollback":
            await tr.start()
            await tr.rollback()
            await tr.commit()
        elif scenario == "start_after_commit":
            await tr.start()
            await tr.commit()
            await tr.start()
        elif scenario == "commit_before_start":
            await tr.commit()
        elif scenario == "rollback_before_start":
            await tr.rollback()
        elif scenario == "start_twice":
            await tr.start()
            await tr.start()
        elif scenario == "commit_in_async_with":
            async with tr:
                await tr.commit()
        elif scenario == "rollback_in_async_with":
            async with tr:
                await tr.rollback()
        elif scenario == "enter_twice":
            async with tr, tr:
                pass
    assert str(exc.value) == message
    if con.is_in_transaction():
        await con.execute("ROLLBACK")
        con._top_xact = None


async def test_transaction_on_closed_connection_is_refused(con):
    tr = con.transaction()
    con.terminate()
    with pytest.raises(InterfaceError) as exc:
        await tr.start()
    assert str(exc.value) == "cannot call Transaction.start(): the underlying connection is closed"


async def test_failed_start_puts_transaction_in_error_state(con):
    con._top_xact = con.transaction()  # pretend an outer block: start() sends SAVEPOINT
    tr = con.transaction()
    try:
        with pytest.raises(asyncpg_rs.exceptions.NoActiveSQLTransactionError):
            await tr.start()  # SAVEPOINT outside a transaction block fails on the server
    finally:
        con._top_xact = None
    assert "state:failed" in repr(tr)
    with pytest.raises(InterfaceError) as exc:
        await tr.commit()
    assert str(exc.value) == "cannot commit; the transaction is in error state"


async def test_repr(con):
    tr = con.transaction(isolation="serializable", readonly=True, deferrable=True)
    assert re.fullmatch(
        r"<asyncpg\.Transaction state:new serializable readonly deferrable 0x[0-9a-f]+>", repr(tr)
    )
    async with tr:
        assert "state:started" in repr(tr)
    assert "state:committed" in repr(tr)
    plain = con.transaction()
    assert re.fullmatch(r"<asyncpg\.Transaction state:new 0x[0-9a-f]+>", repr(plain))


async def test_sql_matches_asyncpg(con):
    """The statements sent are asyncpg's, so server logs and poolers see the same thing."""
    from asyncpg_rs import transaction as transaction_mod

    sent = []

    class Recorder:
        _top_xact = None
        _pool_release_ctr = 0

        def is_closed(self):
            return False

        def is_in_transaction(self):
            return bool(sent) and sent[-1].startswith(("BEGIN", "SAVEPOINT"))

        async def execute(self, query):
            sent.append(query)

    rec = Recorder()
    outer = transaction_mod.Transaction(rec, "repeatable_read", True, True)
    await outer.start()
    inner = transaction_mod.Transaction(rec, None, False, False)
    await inner.start()
    await inner.rollback()
    inner2 = transaction_mod.Transaction(rec, None, False, False)
    await inner2.start()
    await inner2.commit()
    await outer.commit()
    assert sent[0] == "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY DEFERRABLE;"
    assert re.fullmatch(r"SAVEPOINT __asyncpg_savepoint_[0-9a-f]+__;", sent[1])
    assert sent[2] == f"ROLLBACK TO {sent[1][len('SAVEPOINT ') : -1]};"
    assert sent[4] == f"RELEASE SAVEPOINT {sent[3][len('SAVEPOINT ') : -1]};"
    assert sent[5] == "COMMIT;"
    plain = transaction_mod.Transaction(rec, None, False, False)
    await plain.start()
    await plain.rollback()
    assert sent[6:] == ["BEGIN;", "ROLLBACK;"]
