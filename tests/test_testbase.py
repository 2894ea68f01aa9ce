"""asyncpg_rs._testbase: the unittest helpers asyncpg's users write their tests with.

The classes below are collected by pytest as unittest test cases; they start the default
temporary cluster (initdb + postgres, as the postgres user when running as root).
"""

from __future__ import annotations

import asyncio

import asyncpg_rs
from asyncpg_rs import _testbase as tb


class TestTestCase(tb.TestCase):
    async def test_runs_on_class_loop(self):
        self.assertIs(asyncio.get_running_loop(), self.loop)

    def test_assert_run_under(self):
        too_slow = self.assertRaisesRegex(AssertionError, "longer than the expected maximum")
        with too_slow, self.assertRunUnder(0.01):
            self.loop.run_until_complete(asyncio.sleep(0.05))

    def test_loop_error_handler_called(self):
        with self.assertLoopErrorHandlerCalled("b+"):
            self.loop.call_exception_handler({"message": "abbbc"})
        missing = self.assertRaisesRegex(AssertionError, "no message")
        with missing, self.assertLoopErrorHandlerCalled("zz"):
            self.loop.call_exception_handler({"message": "abbbc"})

    @tb.with_timeout(0.1)
    async def test_with_timeout(self):
        await asyncio.sleep(0)


class TestConnected(tb.ConnectedTestCase):
    async def test_con(self):
        self.assertIsInstance(self.con, asyncpg_rs.Connection)
        self.assertEqual(await self.con.fetchval("SELECT 1"), 1)
        self.assertEqual(self.server_version, self.con.get_server_version())

    @tb.with_connection_options(server_settings={"application_name": "tb_opts"})
    async def test_connection_options(self):
        self.assertEqual(await self.con.fetchval("SHOW application_name"), "tb_opts")

    async def test_pool(self):
        pool = await self.create_pool(database="postgres", min_size=1, max_size=2)
        async with pool.acquire() as con:
            self.assertEqual(await con.fetchval("SELECT 2"), 2)
        await pool.close()

    async def test_connect(self):
        con = await self.connect(user="postgres")
        try:
            self.assertEqual(await con.fetchval("SELECT current_user"), "postgres")
        finally:
            await con.close()


class TestProxied(tb.ProxiedClusterTestCase):
    async def test_connectivity_loss(self):
        con = await self.connect()
        try:
            self.assertEqual(await con.fetchval("SELECT 1"), 1)
            self.proxy.trigger_connectivity_loss()
            with self.assertRaises(asyncio.TimeoutError):
                await con.fetchval("SELECT 2", timeout=0.3)
            self.proxy.restore_connectivity()
        finally:
            con.terminate()
        con = await self.connect()
        try:
            self.assertEqual(await con.fetchval("SELECT 3"), 3)
        finally:
            await con.close()
