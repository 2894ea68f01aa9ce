"""Pool: create_pool(), acquire/release, the proxy, lifecycle hooks, limits, shutdown, faults."""

import asyncio
import inspect
import io
import random
import uuid

import pytest

import asyncpg_rs
from asyncpg_rs import pool as pool_mod
from asyncpg_rs.exceptions import InterfaceError

pytestmark = pytest.mark.asyncio

RELEASED = "connection has been released back to the pool"


def _pool(pg_dsn, **kwargs):
    kwargs.setdefault("min_size", 1)
    kwargs.setdefault("max_size", 1)
    return asyncpg_rs.create_pool(pg_dsn, **kwargs)


async def _wait_for(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _terminate_backend(pg_dsn, pid):
    admin = await asyncpg_rs.connect(pg_dsn)
    try:
        return await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


def _live_pids(pool):
    return {h._con.get_server_pid() for h in pool._holders if h.is_connected()}


# -- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_size": 0}, "max_size is expected to be greater than zero"),
        ({"min_size": -1}, "min_size is expected to be greater or equal to zero"),
        ({"min_size": 5, "max_size": 2}, "min_size is greater than max_size"),
        ({"init_size": -1}, "init_size is expected to be greater or equal to zero"),
        ({"init_size": 5, "max_size": 2}, "init_size is greater than max_size"),
        ({"init_size": 1, "min_size": 2, "max_size": 3}, "init_size is smaller than min_size"),
        ({"max_queries": 0}, "max_queries is expected to be greater than zero"),
        (
            {"max_inactive_connection_lifetime": -1},
            "max_inactive_connection_lifetime is expected to be greater or equal to zero",
        ),
    ],
)
async def test_create_pool_rejects_bad_sizes(pg_dsn, kwargs, message):
    kwargs = {"min_size": 1, "max_size": 2, **kwargs}
    with pytest.raises(ValueError) as exc:
        asyncpg_rs.create_pool(pg_dsn, **kwargs)
    assert str(exc.value) == message


async def test_create_pool_checks_connection_and_record_classes(pg_dsn):
    with pytest.raises(TypeError, match="connection_class is expected to be a subclass of"):
        asyncpg_rs.create_pool(pg_dsn, connection_class=int)
    with pytest.raises(TypeError, match="record_class is expected to be a subclass of"):
        asyncpg_rs.create_pool(pg_dsn, record_class=dict)


async def test_create_pool_signature_matches_asyncpg():
    asyncpg = pytest.importorskip("asyncpg")
    ours = inspect.signature(asyncpg_rs.create_pool).parameters
    theirs = inspect.signature(asyncpg.create_pool).parameters
    assert list(ours) == list(theirs)
    for name, param in theirs.items():
        if name not in ("connection_class", "record_class"):
            assert ours[name].default == param.default, name
            assert ours[name].kind == param.kind, name


async def test_pool_opens_min_size_connections_and_reports_sizes(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=3, max_size=5) as pool:
        assert isinstance(pool, asyncpg_rs.Pool)
        assert pool.get_size() == 3
        assert pool.get_idle_size() == 3
        assert pool.get_min_size() == 3
        assert pool.get_max_size() == 5
        assert pool.get_init_size() == 3
        assert not pool.is_closing()
        async with pool.acquire():
            assert pool.get_idle_size() == 2
    assert pool.is_closing()
    assert pool.get_size() == 0


async def test_init_size_opens_more_than_the_floor(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, init_size=3, min_size=1, max_size=4) as pool:
        assert pool.get_size() == 3
        assert pool.get_init_size() == 3


async def test_pool_can_be_awaited_then_closed(pg_dsn):
    pool = await _pool(pg_dsn)
    assert await pool.fetchval("SELECT 1") == 1
    assert await pool == pool  # awaiting an initialised pool again is harmless
    await pool.close()
    await pool.close()  # closing twice is a no-op


async def test_pool_state_errors(pg_dsn):
    pool = _pool(pg_dsn)
    with pytest.raises(InterfaceError, match="^pool is not initialized$"):
        await pool.acquire()
    await pool
    await pool.close()
    with pytest.raises(InterfaceError, match="^pool is closed$"):
        await pool.acquire()
    with pytest.raises(InterfaceError, match="^pool is closed$"):
        await pool.fetchval("SELECT 1")


async def test_initialising_in_two_tasks_is_refused(pg_dsn):
    pool = _pool(pg_dsn)
    first = asyncio.ensure_future(pool._async__init__())
    await asyncio.sleep(0)
    with pytest.raises(InterfaceError, match="pool is being initialized in another task"):
        await pool
    with pytest.raises(InterfaceError, match="pool is being initialized, but not yet ready"):
        await pool.acquire()
    await first
    await pool.close()


async def test_failed_start_closes_the_pool(pg_dsn):
    async def init(con):
        raise RuntimeError("init failed")

    pool = asyncpg_rs.create_pool(pg_dsn, min_size=2, max_size=2, init=init)
    with pytest.raises(RuntimeError, match="init failed"):
        await pool
    assert pool.is_closing()
    assert pool.get_size() == 0


# -- acquire, release and the proxy ----------------------------------------------------------


async def test_acquire_with_async_with_and_with_await(pg_dsn):
    async with _pool(pg_dsn) as pool:
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT 1") == 1
        con = await pool.acquire()
        try:
            assert await con.fetchval("SELECT 2") == 2
        finally:
            await pool.release(con)
        assert pool.get_idle_size() == 1


async def test_acquire_context_cannot_be_entered_twice(pg_dsn):
    async with _pool(pg_dsn, max_size=2) as pool:
        ctx = pool.acquire(timeout=3)
        assert ctx.pool is pool and ctx.timeout == 3 and not ctx.done
        async with ctx as con:
            assert ctx.connection is con
            with pytest.raises(InterfaceError, match="a connection is already acquired"):
                async with ctx:
                    pass
        assert ctx.done


async def test_proxy_is_a_connection_until_released(pg_dsn):
    async with _pool(pg_dsn) as pool:
        con = await pool.acquire()
        assert isinstance(con, asyncpg_rs.Connection)
        assert type(con).__name__ == "PoolConnectionProxy"
        assert repr(con).startswith("<PoolConnectionProxy <")
        assert isinstance(con.get_server_pid(), int)
        await pool.release(con)
        assert repr(con).startswith("<PoolConnectionProxy [released] 0x")
        with pytest.raises(InterfaceError) as exc:
            con.fetch("SELECT 1")  # raises on the call itself, before any await
        assert str(exc.value) == f"cannot call Connection.fetch(): {RELEASED}"
        with pytest.raises(InterfaceError, match=r"cannot call Connection\.execute\(\)"):
            await con.execute("SELECT 1")


async def test_proxy_methods_keep_connection_names_docs_and_signatures(pg_dsn):
    async with _pool(pg_dsn) as pool, pool.acquire() as con:
        raw = con._con
        for name in ("execute", "fetch", "fetchval", "fetchrow", "transaction", "close"):
            wrapped = getattr(con, name)
            original = getattr(type(raw), name)
            assert wrapped.__name__ == name
            assert wrapped.__doc__ == original.__doc__
            assert inspect.signature(wrapped) == inspect.signature(getattr(raw, name))
        assert pool_mod.PoolConnectionProxy.execute.__doc__ == type(raw).execute.__doc__


async def test_method_taken_before_release_fails_after_release(pg_dsn):
    async with _pool(pg_dsn) as pool:
        async with pool.acquire() as con:
            fetchval = con.fetchval
        with pytest.raises(InterfaceError, match=RELEASED):
            fetchval("SELECT 1")


async def test_release_twice_is_a_no_op(pg_dsn):
    async with _pool(pg_dsn) as pool:
        con = await pool.acquire()
        await pool.release(con)
        await pool.release(con)
        assert pool.get_idle_size() == 1


async def test_release_rejects_foreign_connections(pg_dsn):
    async with _pool(pg_dsn) as pool, _pool(pg_dsn) as other:
        with pytest.raises(InterfaceError) as exc:
            await pool.release(object())
        assert str(exc.value).startswith("Pool.release() received invalid connection: <object")
        assert str(exc.value).endswith("is not a member of this pool")
        async with other.acquire() as con:
            with pytest.raises(InterfaceError, match="is not a member of this pool"):
                await pool.release(con)
        raw = await asyncpg_rs.connect(pg_dsn)
        try:
            with pytest.raises(InterfaceError, match="is not a member of this pool"):
                await pool.release(raw)
        finally:
            await raw.close()


async def test_release_survives_cancellation_of_the_releasing_task(pg_dsn):
    async with _pool(pg_dsn) as pool:
        con = await pool.acquire()
        task = asyncio.ensure_future(pool.release(con))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _wait_for(lambda: pool.get_idle_size() == 1)
        async with pool.acquire(timeout=5) as con:
            assert await con.fetchval("SELECT 1") == 1


async def test_objects_made_on_a_released_connection_refuse_to_work(pg_dsn):
    async with _pool(pg_dsn) as pool:
        async with pool.acquire() as con:
            tr = con.transaction()
        with pytest.raises(InterfaceError) as exc:
            await tr.start()
        assert str(exc.value) == (
            "cannot call Transaction.start(): "
            "the underlying connection has been released back to the pool"
        )


async def test_release_rolls_back_an_open_transaction(pg_dsn):
    async with _pool(pg_dsn) as pool:
        async with pool.acquire() as con:
            async with con.transaction():
                await con.execute("SET LOCAL statement_timeout = 1234")
                # leaving the pool's async with first would be a user bug; here we only check
                # that a transaction started by hand is rolled back on release
            await con.execute("BEGIN")
            assert con.is_in_transaction()
        async with pool.acquire() as con:
            assert not con.is_in_transaction()


async def test_default_reset_restores_session_state(pg_dsn):
    async with _pool(pg_dsn) as pool:
        async with pool.acquire() as con:
            await con.execute("SET application_name = 'changed-by-test'")
        async with pool.acquire() as con:
            assert await con.fetchval("SHOW application_name") != "changed-by-test"


async def test_listener_callbacks_receive_the_proxy(pg_dsn):
    received = asyncio.get_running_loop().create_future()

    def on_notify(con, pid, channel, payload):
        if not received.done():
            received.set_result(con)

    async with _pool(pg_dsn) as pool, pool.acquire() as con:
        await con.add_listener("pool_proxy_chan", on_notify)
        await con.execute("NOTIFY pool_proxy_chan, 'x'")
        assert await asyncio.wait_for(received, 5) is con
        await con.remove_listener("pool_proxy_chan", on_notify)


async def test_release_warns_about_leftover_listeners(pg_dsn):
    def on_notify(*args):
        pass

    async with _pool(pg_dsn) as pool:
        con = await pool.acquire()
        await con.add_listener("pool_leftover_chan", on_notify)
        with pytest.warns(asyncpg_rs.InterfaceWarning, match="1 active notification listener$"):
            await pool.release(con)
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT 1") == 1


# -- hooks -----------------------------------------------------------------------------------


class _FailingResetConnection(asyncpg_rs.Connection):
    def get_reset_query(self):
        return "SELECT 1 / 0"


async def test_failed_background_reset_closes_the_connection(pg_dsn):
    """The reset sent without waiting on release: when it fails, the connection is terminated
    and the next use gets a fresh one, through the shortcuts and acquire()/release() alike."""
    async with asyncpg_rs.create_pool(
        pg_dsn, min_size=1, max_size=1, connection_class=_FailingResetConnection
    ) as pool:
        holder = pool._holders[0]
        first_con = holder._con
        first = await pool.fetchval("SELECT pg_backend_pid()")
        assert await _wait_for(first_con.is_closed)
        async with pool.acquire() as con:
            second_con = holder._con
            second = await con.fetchval("SELECT pg_backend_pid()")
        assert second_con is not first_con and second != first
        assert await _wait_for(second_con.is_closed)
        assert await pool.fetchval("SELECT pg_backend_pid()") not in (first, second)


async def test_init_setup_and_reset_hooks(pg_dsn):
    calls = []

    async def init(con):
        assert not isinstance(con, pool_mod.PoolConnectionProxy)
        calls.append(("init", con.get_server_pid()))

    async def setup(con):
        assert isinstance(con, pool_mod.PoolConnectionProxy)
        calls.append(("setup", con.get_server_pid()))

    async def reset(con):
        assert not isinstance(con, pool_mod.PoolConnectionProxy)
        calls.append(("reset", con.get_server_pid()))

    async with asyncpg_rs.create_pool(
        pg_dsn, min_size=1, max_size=1, init=init, setup=setup, reset=reset
    ) as pool:
        for _ in range(3):
            async with pool.acquire() as con:
                pid = con.get_server_pid()
    assert calls == [("init", pid)] + [("setup", pid), ("reset", pid)] * 3


async def test_custom_reset_still_ends_the_transaction(pg_dsn):
    async def reset(con):
        pass

    async with _pool(pg_dsn, reset=reset) as pool:
        async with pool.acquire() as con:
            await con.execute("BEGIN")
        async with pool.acquire() as con:
            assert not con.is_in_transaction()


async def test_failing_setup_discards_the_connection(pg_dsn):
    fail = True

    async def setup(con):
        if fail:
            raise RuntimeError("setup failed")

    async with _pool(pg_dsn, setup=setup) as pool:
        first_pid = pool._holders[0]._con.get_server_pid()
        with pytest.raises(RuntimeError, match="setup failed"):
            await pool.acquire()
        assert pool.get_size() == 0
        fail = False
        async with pool.acquire(timeout=5) as con:
            assert con.get_server_pid() != first_pid


async def test_connect_callback_replaces_connect(pg_dsn):
    seen = []

    async def connect(*args, **kwargs):
        seen.append(kwargs["connection_class"])
        return await asyncpg_rs.connect(*args, **kwargs)

    async with _pool(pg_dsn, connect=connect) as pool:
        assert await pool.fetchval("SELECT 7") == 7
    assert seen == [asyncpg_rs.Connection]


async def test_connect_callback_must_return_a_connection(pg_dsn):
    async def connect(*args, **kwargs):
        return 1

    pool = _pool(pg_dsn, connect=connect)
    with pytest.raises(InterfaceError) as exc:
        await pool
    assert str(exc.value) == (
        "expected pool connect callback to return an instance of "
        "'asyncpg_rs.connection.Connection', got 'int'"
    )


async def test_connection_class_subclass_is_used(pg_dsn):
    class MyConnection(asyncpg_rs.Connection):
        def hello(self):
            return "hello"

    async with _pool(pg_dsn, connection_class=MyConnection) as pool:
        async with pool.acquire() as con:
            assert isinstance(con._con, MyConnection)
            assert con.hello() == "hello"
        with pytest.raises(InterfaceError, match=r"cannot call Connection\.hello\(\)"):
            con.hello()


# -- limits ----------------------------------------------------------------------------------


async def test_max_queries_replaces_the_connection(pg_dsn):
    async with _pool(pg_dsn, max_queries=3) as pool:
        async with pool.acquire() as con:
            pid = con.get_server_pid()
            for _ in range(3):
                await con.fetchval("SELECT 1")
        async with pool.acquire() as con:
            assert con.get_server_pid() != pid


async def test_connection_is_kept_below_max_queries(pg_dsn):
    async with _pool(pg_dsn, max_queries=1000) as pool:
        async with pool.acquire() as con:
            pid = con.get_server_pid()
            await con.fetchval("SELECT 1")
        async with pool.acquire() as con:
            assert con.get_server_pid() == pid


async def test_idle_connections_above_min_size_are_closed(pg_dsn):
    async with asyncpg_rs.create_pool(
        pg_dsn, min_size=0, max_size=2, max_inactive_connection_lifetime=0.1
    ) as pool:
        a = await pool.acquire()
        b = await pool.acquire()
        assert pool.get_size() == 2
        await pool.release(a)
        await pool.release(b)
        assert await _wait_for(lambda: pool.get_size() == 0, timeout=3)


async def test_idle_expiry_counts_from_the_last_release(pg_dsn):
    """A connection used again and again within the lifetime is never closed for idleness, through
    acquire()/release() and the shortcuts alike; once left alone it goes after the lifetime."""
    async with asyncpg_rs.create_pool(
        pg_dsn, min_size=0, max_size=1, max_inactive_connection_lifetime=1.0
    ) as pool:
        async with pool.acquire() as con:
            pid = con.get_server_pid()
        loop = asyncio.get_running_loop()
        end = loop.time() + 2.5
        while loop.time() < end:
            assert await pool.fetchval("SELECT pg_backend_pid()") == pid
            async with pool.acquire() as con:
                assert con.get_server_pid() == pid
            await asyncio.sleep(0.05)
        assert pool.get_size() == 1
        released = loop.time()
        assert await _wait_for(lambda: pool.get_size() == 0, timeout=10)
        assert loop.time() - released >= 0.9


async def test_idle_connections_at_min_size_are_kept(pg_dsn):
    async with asyncpg_rs.create_pool(
        pg_dsn, min_size=1, max_size=2, max_inactive_connection_lifetime=0.05
    ) as pool:
        a = await pool.acquire()
        b = await pool.acquire()
        await pool.release(a)
        await pool.release(b)
        assert await _wait_for(lambda: pool.get_size() == 1, timeout=3)
        await asyncio.sleep(0.2)
        assert pool.get_size() == 1


async def test_acquire_timeout(pg_dsn):
    async with _pool(pg_dsn) as pool:
        held = await pool.acquire()
        with pytest.raises(asyncio.TimeoutError):
            await pool.acquire(timeout=0.05)
        with pytest.raises(asyncio.TimeoutError):
            async with pool.acquire(timeout=0.05):
                pass
        await pool.release(held)
        async with pool.acquire(timeout=1) as con:
            assert await con.fetchval("SELECT 1") == 1


async def test_waiters_are_served_in_order(pg_dsn):
    async with _pool(pg_dsn) as pool:
        order = []
        held = await pool.acquire()

        async def worker(i):
            async with pool.acquire():
                order.append(i)

        tasks = [asyncio.ensure_future(worker(i)) for i in range(5)]
        await asyncio.sleep(0.05)
        await pool.release(held)
        await asyncio.gather(*tasks)
        assert order == list(range(5))


async def test_cancelled_acquires_leak_nothing(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=0, max_size=2) as pool:
        # cancelled while waiting for a free connection
        held = [await pool.acquire(), await pool.acquire()]
        waiter = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        for con in held:
            await pool.release(con)
        # cancelled at every point of connecting and setting up
        for delay in (0, 0.001, 0.002, 0.005, 0.01, 0.02):
            await pool.expire_connections()
            task = asyncio.ensure_future(pool.acquire())
            await asyncio.sleep(delay)
            task.cancel()
            try:
                con = await task
            except asyncio.CancelledError:
                pass
            else:
                await pool.release(con)
        cons = [await pool.acquire(timeout=5), await pool.acquire(timeout=5)]
        assert pool.get_size() == 2 and pool.get_idle_size() == 0
        for con in cons:
            await pool.release(con)
    assert pool.get_size() == 0


async def test_connection_is_handed_over_when_the_waiter_is_cancelled(pg_dsn):
    async with _pool(pg_dsn) as pool:
        held = await pool.acquire()
        waiter = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        release = asyncio.ensure_future(pool.release(held))
        await asyncio.sleep(0)
        waiter.cancel()  # may race with being handed the connection
        await release
        try:
            con = await waiter
        except asyncio.CancelledError:
            pass
        else:
            await pool.release(con)
        async with pool.acquire(timeout=2) as con:
            assert await con.fetchval("SELECT 1") == 1


# -- shutdown and expiry ---------------------------------------------------------------------


async def test_close_waits_for_acquired_connections(pg_dsn):
    pool = await _pool(pg_dsn)
    con = await pool.acquire()
    closing = asyncio.ensure_future(pool.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    assert pool.is_closing()
    with pytest.raises(InterfaceError, match="^pool is closing$"):
        await pool.acquire()
    assert await con.fetchval("SELECT 1") == 1
    await pool.release(con)
    await asyncio.wait_for(closing, 5)
    assert pool.get_size() == 0


async def test_close_wakes_waiting_acquirers(pg_dsn):
    pool = await _pool(pg_dsn)
    con = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    closing = asyncio.ensure_future(pool.close())
    with pytest.raises(InterfaceError, match="pool is closing"):
        await waiter
    await pool.release(con)
    await asyncio.wait_for(closing, 5)


async def test_terminate_closes_everything_at_once(pg_dsn):
    pool = await _pool(pg_dsn, min_size=2, max_size=2)
    con = await pool.acquire()
    pool.terminate()
    assert pool.is_closing()
    assert pool.get_size() == 0
    assert con._con is None or con.is_closed()
    with pytest.raises(InterfaceError, match="^pool is closed$"):
        await pool.acquire()
    pool.terminate()  # again: no-op
    await pool.close()  # after terminate: no-op


async def test_expire_connections_replaces_them(pg_dsn):
    async with _pool(pg_dsn, max_size=2) as pool:
        async with pool.acquire() as con:
            old = con.get_server_pid()
            await pool.expire_connections()
        async with pool.acquire() as con:
            assert con.get_server_pid() != old


async def test_set_connect_args_applies_to_new_connections(pg_dsn):
    async with _pool(pg_dsn) as pool:
        pool.set_connect_args(pg_dsn, server_settings={"application_name": "pool-new-args"})
        assert await pool.fetchval("SHOW application_name") != "pool-new-args"
        await pool.expire_connections()
        assert await pool.fetchval("SHOW application_name") == "pool-new-args"


# -- connections lost ------------------------------------------------------------------------


async def test_connection_killed_by_server_is_replaced(pg_dsn):
    async with _pool(pg_dsn) as pool:
        async with pool.acquire() as con:
            pid = con.get_server_pid()
        assert await _terminate_backend(pg_dsn, pid)
        # pg_terminate_backend() returns before the backend is gone; wait for the client to see it
        assert await _wait_for(lambda: pid not in _live_pids(pool))
        async with pool.acquire(timeout=5) as con:
            assert con.get_server_pid() != pid
            assert await con.fetchval("SELECT 1") == 1


async def test_closing_an_acquired_connection_frees_its_seat(pg_dsn):
    async with _pool(pg_dsn) as pool:
        con = await pool.acquire()
        await con.close()
        await pool.release(con)  # no-op
        async with pool.acquire(timeout=5) as con:
            assert await con.fetchval("SELECT 1") == 1


async def test_min_size_floor_is_restored_after_a_kill(pg_dsn):
    async with asyncpg_rs.create_pool(pg_dsn, min_size=2, max_size=2) as pool:
        pids = []
        async with pool.acquire() as a, pool.acquire() as b:
            pids = [a.get_server_pid(), b.get_server_pid()]
        await _terminate_backend(pg_dsn, pids[0])
        # Replaced in the background when the connection reports its end, at the latest on
        # the next acquire.
        if not await _wait_for(lambda: pool.get_size() == 2, timeout=3):
            async with pool.acquire(timeout=5), pool.acquire(timeout=5):
                pass
        assert pool.get_size() == 2


# -- shortcuts -------------------------------------------------------------------------------


async def test_query_shortcuts(pg_dsn):
    async with _pool(pg_dsn, max_size=2) as pool:
        assert await pool.execute("SELECT 1") == "SELECT 1"
        assert await pool.fetchval("SELECT $1::int + 1", 1) == 2
        assert await pool.fetchval("SELECT 1, 2", column=1) == 2
        assert (await pool.fetchrow("SELECT 1 AS a"))["a"] == 1
        assert [r[0] for r in await pool.fetch("SELECT generate_series(1, 3)")] == [1, 2, 3]
        rows = await pool.fetchmany("SELECT $1::int * 2", [(1,), (2,)])
        assert [r[0] for r in rows] == [2, 4]
        assert pool.get_idle_size() == pool.get_size()


async def test_copy_and_executemany_shortcuts(pg_dsn):
    table = f"pool_copy_{uuid.uuid4().hex[:8]}"
    async with _pool(pg_dsn) as pool:
        await pool.execute(f"CREATE TABLE {table} (a int, b text)")
        try:
            await pool.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "x"), (2, "y")])
            await pool.copy_records_to_table(table, records=[(3, "z")])
            await pool.copy_to_table(table, source=io.BytesIO(b"4\tw\n"))
            out = io.BytesIO()
            await pool.copy_from_table(table, output=out, columns=["a"])
            assert sorted(out.getvalue().split()) == [b"1", b"2", b"3", b"4"]
            out = io.BytesIO()
            await pool.copy_from_query(f"SELECT b FROM {table} WHERE a > $1", 2, output=out)
            assert sorted(out.getvalue().split()) == [b"w", b"z"]
        finally:
            await pool.execute(f"DROP TABLE {table}")


# -- faults ----------------------------------------------------------------------------------


async def test_pool_survives_backends_killed_under_load(pg_dsn):
    """200 tasks over 10 connections for ~5 s while backends are terminated at random."""
    app = f"pool-fault-{uuid.uuid4().hex[:8]}"
    results = {}
    stop = asyncio.Event()
    # What a query on a connection killed under it may raise; anything else fails the test.
    transient = (
        asyncpg_rs.PostgresError,
        InterfaceError,
        asyncpg_rs.InternalClientError,
        OSError,
        asyncio.TimeoutError,
    )
    pool = await asyncpg_rs.create_pool(
        pg_dsn, min_size=10, max_size=10, server_settings={"application_name": app}
    )
    admin = await asyncpg_rs.connect(pg_dsn)

    async def worker(i):
        done = 0
        while not stop.is_set() or done == 0:
            try:
                async with pool.acquire(timeout=10) as con:
                    value = await con.fetchval("SELECT $1::int + 0 FROM pg_sleep(0.001)", i)
            except transient:
                await asyncio.sleep(0)
                continue
            assert value == i  # never someone else's answer
            done += 1
        results[i] = done

    async def killer():
        killed = 0
        while not stop.is_set():
            await asyncio.sleep(random.uniform(0.05, 0.2))
            killed += await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM ("
                " SELECT pid FROM pg_stat_activity WHERE application_name = $1"
                " ORDER BY random() LIMIT 1) AS victim",
                app,
            )
        return killed

    try:
        workers = [asyncio.ensure_future(worker(i)) for i in range(200)]
        kill_task = asyncio.ensure_future(killer())
        await asyncio.sleep(5)
        stop.set()
        killed = await kill_task
        await asyncio.wait_for(asyncio.gather(*workers), 30)

        assert sorted(results) == list(range(200))
        assert all(n >= 1 for n in results.values())
        assert killed > 0
        # The last kill may still be in flight: wait until the pool has seen every death.
        for _ in range(100):
            alive = await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app
            )
            if _live_pids(pool) <= {r["pid"] for r in alive}:
                break
            await asyncio.sleep(0.05)
        # Back to normal: every seat usable, floor restored, nothing left acquired.
        cons = [await pool.acquire(timeout=10) for _ in range(10)]
        assert [await c.fetchval("SELECT 1") for c in cons] == [1] * 10
        for con in cons:
            await pool.release(con)
        assert await _wait_for(lambda: pool.get_size() == 10, timeout=5)
        assert pool.get_idle_size() == 10
        live = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app
        )
        assert live == 10
        await asyncio.wait_for(pool.close(), 10)
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        pool.terminate()
        await admin.close()
