"""close(), cancellation and pool release under faults, as asyncpg 0.32 behaves.

Ports of asyncpg 0.32's own tests (named after them) to public API, run through both drivers
(the ``driver`` fixture) with asyncpg's outcome as the expectation. Where asyncpg's tests mock
its internals to stall a CancelRequest, these stall the network instead with the outage proxy
(``tests/fixtures/proxy.py``): the cancel connection goes through the same proxy and hangs.
Every test also fails on "Future exception was never retrieved", "Task was destroyed but it is
pending" and other errors reported to the loop's exception handler.
"""

from __future__ import annotations

import asyncio
import gc
import time
import types

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90), pytest.mark.differential]

#: Generous bound for "returns promptly" on a loaded 2-core machine.
PROMPT = 3.0


class _LoopErrors(list):
    """Contexts reported to the loop's exception handler; ``allowed`` lists messages a test
    tolerates (asyncpg's own known reports, never asyncpg_rs's)."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed: set[str] = set()


@pytest.fixture(autouse=True)
async def loop_errors():
    """Errors reported to the loop's exception handler during the test; must stay empty."""
    loop = asyncio.get_running_loop()
    errors = _LoopErrors()
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    try:
        yield errors
        for _ in range(3):
            await asyncio.sleep(0.01)
        gc.collect()  # "Task was destroyed but it is pending" shows when the task is freed
        await asyncio.sleep(0)
        assert [c.get("message") for c in errors if c.get("message") not in errors.allowed] == []
    finally:
        loop.set_exception_handler(old)


class _Elapsed:
    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.start


async def _wait_for(predicate, timeout: float = PROMPT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def _stalled_after_timeout(driver: types.ModuleType, outage_proxy, **connect_kwargs):
    """A connection through the proxy whose query timed out while the network was down, so
    that its CancelRequest hangs (asyncpg's ``pending_cancel(cancel_sent=False)``)."""
    con = await driver.connect(**outage_proxy.connect_kwargs(**connect_kwargs))
    task = asyncio.ensure_future(con.execute("SELECT pg_sleep(10)", timeout=0.5))
    await asyncio.sleep(0.2)
    outage_proxy.trigger_connectivity_loss()
    with pytest.raises(asyncio.TimeoutError):
        await task
    return con


# -- close: asyncpg's TestCloseTimeoutPendingCancel -------------------------------------------


async def test_close_has_one_timeout_budget(driver, outage_proxy):
    con = await _stalled_after_timeout(driver, outage_proxy)
    try:
        with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
            await con.close(timeout=0.5)
        assert t.seconds < 0.5 + 1.0, f"close(timeout=0.5) took {t.seconds:.2f} s"
        assert con.is_closed()
        assert con._transport.is_closing()
    finally:
        con.terminate()


async def test_connection_close_timeout(driver, outage_proxy):
    """asyncpg's test_adversity.test_connection_close_timeout: no answer to Terminate."""
    con = await driver.connect(**outage_proxy.connect_kwargs())
    outage_proxy.trigger_connectivity_loss()
    with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
        await con.close(timeout=0.5)
    assert t.seconds < 0.5 + 1.0
    assert con.is_closed()


async def test_close_uses_command_timeout(driver, outage_proxy):
    con = await _stalled_after_timeout(driver, outage_proxy, command_timeout=0.5)
    try:
        with _Elapsed() as t:
            try:
                await con.close()
            except asyncio.TimeoutError:
                pass  # the close and background cancel deadlines can race (as in asyncpg)
        assert t.seconds < 0.5 + PROMPT, f"close() took {t.seconds:.2f} s"
        assert con.is_closed()
    finally:
        con.terminate()


async def test_close_timeout_resolves_running_query(driver, outage_proxy):
    con = await driver.connect(**outage_proxy.connect_kwargs())
    task = asyncio.ensure_future(con.execute("SELECT pg_sleep(10)"))
    try:
        await asyncio.sleep(0.2)
        outage_proxy.trigger_connectivity_loss()
        with pytest.raises(asyncio.TimeoutError):
            await con.close(timeout=0.3)
        with pytest.raises(driver.exceptions.ConnectionDoesNotExistError):
            await asyncio.wait_for(task, PROMPT)
        assert con.is_closed()
    finally:
        con.terminate()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_cancel_attempt_expires_during_close(driver, outage_proxy):
    con = await _stalled_after_timeout(driver, outage_proxy, command_timeout=0.3)
    try:
        with _Elapsed() as t:
            try:
                await con.close(timeout=0.2)
            except asyncio.TimeoutError:
                pass
        assert t.seconds < 0.2 + 1.0, f"close(timeout=0.2) took {t.seconds:.2f} s"
        assert con.is_closed()
    finally:
        con.terminate()


async def test_failed_cancel_during_close_without_timeout(driver, outage_proxy, loop_errors):
    """The CancelRequest cannot be delivered (the proxy cuts every connection): close() still
    finishes and the running query fails."""
    if driver.__name__ == "asyncpg":
        # asyncpg 0.32 itself leaves its failed cancel's future unretrieved about half the time
        # (a race in its own cancel path); that is asyncpg's report, not what this test checks.
        loop_errors.allowed.add("Future exception was never retrieved")
    con = await driver.connect(**outage_proxy.connect_kwargs())
    query = asyncio.ensure_future(con.execute("SELECT pg_sleep(5)"))
    try:
        await asyncio.sleep(0.1)
        assert not query.done()
        outage_proxy.close_all_connections()
        await asyncio.wait_for(con.close(), PROMPT)
        assert con.is_closed()
        await asyncio.wait_for(asyncio.gather(query, return_exceptions=True), PROMPT)
    finally:
        con.terminate()
        query.cancel()
        await asyncio.gather(query, return_exceptions=True)


@pytest.mark.parametrize("method", ["execute", "fetchval"])
async def test_next_command_timeout_includes_pending_cancel(driver, outage_proxy, method):
    con = await _stalled_after_timeout(driver, outage_proxy)
    try:
        with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
            await getattr(con, method)("SELECT 1", timeout=0.3)
        assert t.seconds < 0.3 + 1.0, f"{method}(timeout=0.3) took {t.seconds:.2f} s"
        assert con.is_closed()
    finally:
        con.terminate()


async def test_execute_script_interrupted_close(driver, pg_connect_kwargs):
    con = await driver.connect(**pg_connect_kwargs)
    fut = asyncio.ensure_future(con.execute("SELECT pg_sleep(10)"))
    await asyncio.sleep(0.2)
    assert not con.is_closed()
    with _Elapsed() as t:
        await con.close()
    assert con.is_closed()
    assert t.seconds < PROMPT
    with pytest.raises(driver.exceptions.QueryCanceledError):
        await fut


async def test_prepare_06_interrupted_close(driver, pg_connect_kwargs):
    con = await driver.connect(**pg_connect_kwargs)
    stmt = await con.prepare("SELECT pg_sleep(10)")
    fut = asyncio.ensure_future(stmt.fetch())
    await asyncio.sleep(0.2)
    assert not con.is_closed()
    await con.close()
    assert con.is_closed()
    with pytest.raises(driver.exceptions.QueryCanceledError):
        await fut
    await con.close()  # closing again is fine


async def test_connection_use_after_close(driver, pg_connect_kwargs):
    con = await driver.connect(**pg_connect_kwargs)
    await con.close()

    def closed():
        return pytest.raises(driver.exceptions.InterfaceError, match="connection is closed")

    with closed():
        await con.add_listener("aaa", lambda *a: None)
    with closed():
        con.transaction()
    with closed():
        await con.executemany("SELECT 1", [])
    with closed():
        await con.executemany("SELECT $1::int", [(1,)])
    with closed():
        await con.set_type_codec("aaa", encoder=None, decoder=None)
    with closed():
        await con.set_builtin_type_codec("aaa", codec_name="aaa")
    for meth in ("execute", "fetch", "fetchval", "fetchrow", "prepare", "cursor"):
        with closed():
            await getattr(con, meth)("SELECT 1")
    with closed():
        await con.execute("SELECT $1::int", 1)
    with closed():
        await con.reset()


# -- timeouts ------------------------------------------------------------------------------


async def test_timeout_covers_prepare_01(driver, outage_proxy):
    """The time spent before the statement runs (here: a stalled network while it is being
    prepared) counts against command_timeout."""
    loop = asyncio.get_running_loop()
    for method in ("fetch", "fetchrow", "fetchval", "execute"):
        con = await driver.connect(**outage_proxy.connect_kwargs(command_timeout=0.5))
        try:
            outage_proxy.trigger_connectivity_loss()
            restore = loop.call_later(0.8, outage_proxy.restore_connectivity)
            with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
                await getattr(con, method)(f"SELECT pg_sleep($1) /* {method} */", 0)
            assert t.seconds < 0.5 + 1.0, f"{method} took {t.seconds:.2f} s"
        finally:
            restore.cancel()
            outage_proxy.restore_connectivity()
            con.terminate()


async def _exmany_table(driver, pg_connect_kwargs):
    con = await driver.connect(**pg_connect_kwargs)
    await con.execute("DROP TABLE IF EXISTS exmany_t; CREATE TABLE exmany_t (a text, b int)")
    return con


async def test_executemany_timeout(driver, pg_connect_kwargs):
    con = await _exmany_table(driver, pg_connect_kwargs)
    try:
        with pytest.raises(asyncio.TimeoutError):
            await con.executemany(
                "INSERT INTO exmany_t VALUES(pg_sleep(0.1) || $1, $2)",
                [("a" * 32768, x) for x in range(128)],
                timeout=0.5,
            )
        assert await con.fetch("SELECT * FROM exmany_t") == []
    finally:
        await con.execute("DROP TABLE exmany_t")
        await con.close()


async def test_executemany_timeout_flow_control(driver, pg_connect_kwargs):
    con = await _exmany_table(driver, pg_connect_kwargs)
    event = asyncio.Event()

    async def locker():
        other = await driver.connect(**pg_connect_kwargs)
        try:
            tx = other.transaction()
            await tx.start()
            await other.execute("UPDATE exmany_t SET a = '1' WHERE b = 10")
            event.set()
            await asyncio.sleep(1)
            await tx.rollback()
        finally:
            event.set()
            await other.close()

    try:
        await con.executemany("INSERT INTO exmany_t VALUES(NULL, $1)", [(x,) for x in range(128)])
        fut = asyncio.ensure_future(locker())
        await event.wait()
        with pytest.raises(asyncio.TimeoutError):
            await con.executemany(
                "UPDATE exmany_t SET a = $1 WHERE b = $2",
                [("a" * 32768, x) for x in range(128)],
                timeout=0.5,
            )
        await fut
        assert await con.fetch("SELECT * FROM exmany_t WHERE a IS NOT NULL") == []
    finally:
        await con.execute("DROP TABLE exmany_t")
        await con.close()


async def test_cancellation_04(driver, pg_connect_kwargs):
    """A cancellation that arrives when nothing runs any more leaves the connection usable."""
    con = await driver.connect(**pg_connect_kwargs)
    try:
        await con.fetchval("SELECT pg_sleep(0)")
        task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(0)"))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await con.fetchval("SELECT 42") == 42
        task = asyncio.ensure_future(con.fetchval("SELECT pg_sleep(10)"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.wait_for(con.fetchval("SELECT 42"), PROMPT) == 42
    finally:
        await con.close()


# -- pool: asyncpg's test_pool and test_adversity ------------------------------------------


async def test_pool_handles_task_cancel_in_acquire_with_timeout(driver, pg_connect_kwargs):
    pool = await driver.create_pool(**pg_connect_kwargs, min_size=1, max_size=1)
    try:

        async def worker():
            async with pool.acquire(timeout=100):
                pass

        task = asyncio.ensure_future(worker())
        await asyncio.sleep(0.00000000001)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await _wait_for(lambda: pool.get_idle_size() == 1)
        async with pool.acquire(timeout=1) as con:
            assert await con.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(pool.close(), PROMPT)


async def test_pool_handles_task_cancel_in_release(driver, pg_connect_kwargs):
    class SlowResetConnection(driver.connection.Connection):
        async def reset(self, *, timeout=None):
            await asyncio.sleep(0.2)
            return await super().reset(timeout=timeout)

    pool = await driver.create_pool(
        **pg_connect_kwargs, min_size=1, max_size=1, connection_class=SlowResetConnection
    )
    try:

        async def worker():
            async with pool.acquire():
                pass

        task = asyncio.ensure_future(worker())
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await _wait_for(lambda: pool.get_idle_size() == 1)
        async with pool.acquire(timeout=1) as con:
            assert await con.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(pool.close(), PROMPT)


async def test_pool_handles_query_cancel_in_release(driver, pg_connect_kwargs):
    pool = await driver.create_pool(**pg_connect_kwargs, min_size=1, max_size=1)
    try:

        async def worker():
            async with pool.acquire() as con:
                await con.execute("SELECT pg_sleep(10)")

        task = asyncio.ensure_future(worker())
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await _wait_for(lambda: pool.get_idle_size() == 1)
        async with pool.acquire(timeout=PROMPT) as con:
            assert await con.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(pool.close(), PROMPT)


async def test_pool_release_timeout_during_cancellation(driver, outage_proxy):
    pool = await driver.create_pool(**outage_proxy.connect_kwargs(), min_size=1, max_size=1)
    try:
        con = await pool.acquire()
        task = asyncio.ensure_future(con.execute("SELECT pg_sleep(10)", timeout=0.5))
        await asyncio.sleep(0.2)
        outage_proxy.trigger_connectivity_loss()
        with pytest.raises(asyncio.TimeoutError):
            await task
        with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
            await pool.release(con, timeout=0.2)
        assert t.seconds < 0.2 + 1.0, f"release(timeout=0.2) took {t.seconds:.2f} s"
        outage_proxy.restore_connectivity()
        async with pool.acquire(timeout=PROMPT) as replacement:
            assert await replacement.fetchval("SELECT 1") == 1
    finally:
        outage_proxy.restore_connectivity()
        await asyncio.wait_for(pool.close(), PROMPT)


async def test_pool_release_after_background_cancel_timeout(driver, outage_proxy):
    pool = await driver.create_pool(
        **outage_proxy.connect_kwargs(), min_size=1, max_size=1, command_timeout=0.3
    )
    try:
        con = await pool.acquire()
        task = asyncio.ensure_future(con.execute("SELECT pg_sleep(10)", timeout=0.5))
        await asyncio.sleep(0.2)
        outage_proxy.trigger_connectivity_loss()
        with pytest.raises(asyncio.TimeoutError):
            await task
        try:
            await asyncio.wait_for(pool.release(con), PROMPT)
        except asyncio.TimeoutError:
            pass  # release may report its own (command_timeout) deadline; it must not hang
        outage_proxy.restore_connectivity()
        async with pool.acquire(timeout=PROMPT) as replacement:
            assert await replacement.fetchval("SELECT 1") == 1
    finally:
        outage_proxy.restore_connectivity()
        await asyncio.wait_for(pool.close(), PROMPT)


async def test_pool_release_after_protocol_abort(driver, pg_connect_kwargs):
    pool = await driver.create_pool(**pg_connect_kwargs, min_size=0, max_size=1)
    try:
        con = await pool.acquire()
        terminated = asyncio.Event()
        con.add_termination_listener(lambda _: terminated.set())
        assert await con.fetchval("SELECT 1") == 1
        # The protocol drops the socket under the pool's feet (asyncpg: Protocol.abort()).
        protocol = con._con._protocol
        (protocol.abort if driver.__name__ == "asyncpg" else protocol.abort_transport)()
        await pool.release(con)
        await asyncio.wait_for(terminated.wait(), PROMPT)
        assert pool.get_idle_size() <= 1
        async with pool.acquire(timeout=PROMPT) as con2:
            assert await con2.fetchval("SELECT 1") == 1
        assert pool.get_size() == 1
    finally:
        await asyncio.wait_for(pool.close(), PROMPT)


async def test_pool_acquire_timeout(driver, outage_proxy):
    pool = await driver.create_pool(**outage_proxy.connect_kwargs(), min_size=0, max_size=2)
    try:
        outage_proxy.trigger_connectivity_loss()
        for _ in range(2):
            with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
                async with pool.acquire(timeout=0.5):
                    pass
            assert t.seconds < 0.5 + 1.0, f"acquire(timeout=0.5) took {t.seconds:.2f} s"
        outage_proxy.restore_connectivity()
        async with pool.acquire(timeout=PROMPT) as con:
            assert await con.fetchval("SELECT 1") == 1
    finally:
        outage_proxy.restore_connectivity()
        pool.terminate()


async def test_pool_release_timeout(driver, outage_proxy):
    pool = await driver.create_pool(**outage_proxy.connect_kwargs(), min_size=0, max_size=2)
    try:
        with _Elapsed() as t, pytest.raises(asyncio.TimeoutError):
            async with pool.acquire(timeout=0.5):
                outage_proxy.trigger_connectivity_loss()
        assert t.seconds < 0.5 + 1.0, f"release took {t.seconds:.2f} s"
    finally:
        outage_proxy.restore_connectivity()
        pool.terminate()


# -- asyncpg's TestConnectionGC --------------------------------------------------------------


async def _drop_without_close(driver, pg_connect_kwargs):
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        con = await driver.connect(**pg_connect_kwargs)
        assert await con.fetchval("SELECT 123") == 123
        transport = con._transport
        import weakref

        conref = weakref.ref(con)
        del con
        assert conref() is None  # freed by reference counting alone
        await asyncio.sleep(0)  # the transport closes itself on the next loop iteration
        await asyncio.sleep(0)
        assert transport.is_closing()
        assert transport.get_extra_info("socket") is None or transport._sock is None
    finally:
        if gc_was_enabled:
            gc.enable()


async def test_no_explicit_close_no_debug(driver, pg_connect_kwargs):
    loop = asyncio.get_running_loop()
    old = loop.get_debug()
    loop.set_debug(False)
    try:
        with pytest.warns(ResourceWarning, match=r"unclosed connection.*run in asyncio debug"):
            await _drop_without_close(driver, pg_connect_kwargs)
    finally:
        loop.set_debug(old)


async def test_no_explicit_close_with_debug(driver, pg_connect_kwargs):
    loop = asyncio.get_running_loop()
    old = loop.get_debug()
    loop.set_debug(True)
    try:
        with pytest.warns(ResourceWarning, match="unclosed connection") as record:
            await _drop_without_close(driver, pg_connect_kwargs)
        msg = " ".join(str(a) for w in record for a in w.message.args)
        assert " created at:\n" in msg
        assert "in _drop_without_close" in msg
    finally:
        loop.set_debug(old)
