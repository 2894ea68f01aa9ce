"""PreparedStatement: a statement prepared once on a connection and run many times."""

from __future__ import annotations

import asyncio
import json
import typing

from . import _native, exceptions, types
from . import cursor as cursor_mod
from ._typing import RecordT
from .protocol import MODE_ALL, MODE_NONE, MODE_ROW, MODE_VAL

if typing.TYPE_CHECKING:
    from .connection import Connection

__all__ = ("PreparedStatement",)


def _type_of(protocol: typing.Any, oid: int, name: str | None) -> types.Type:
    info = protocol.type_info(oid)
    if info is None:
        # A type with a user codec is not introspected; set_type_codec() noted what it is.
        info = getattr(protocol, "_codec_type_info", {}).get(oid)
    if info is not None:
        return types.Type(oid, info[0], info[1], info[2])
    if name is None:
        return types.Type(oid, "unknown", "scalar", "")
    if name.startswith("_"):
        # asyncpg names array types after their element: int4[] rather than _int4.
        return types.Type(oid, name[1:] + "[]", "array", "pg_catalog")
    if name.endswith("multirange"):
        kind = "multirange"
    elif name.endswith("range"):
        kind = "range"
    elif name == "record":
        kind = "composite"
    else:
        kind = "scalar"
    return types.Type(oid, name, kind, "pg_catalog")


class PreparedStatement(typing.Generic[RecordT]):
    """A prepared statement (see :meth:`Connection.prepare`)."""

    __slots__ = ("_con", "_last_status", "_query", "_record_class", "_release_ctr", "_state")

    def __init__(
        self,
        connection: Connection[typing.Any],
        query: str,
        state: typing.Any,
        record_class: type[RecordT] | None,
    ) -> None:
        self._con = connection
        self._query = query
        self._state = state
        self._record_class = record_class
        self._last_status: str | None = None
        self._release_ctr = getattr(connection, "_pool_release_ctr", 0)
        state.attach()  # a statement in use is not closed when it leaves the cache

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            state.detach()

    def _check_released(self, meth: str) -> None:
        if getattr(self._con, "_pool_release_ctr", 0) != self._release_ctr:
            raise exceptions.InterfaceError(
                f"cannot call PreparedStatement.{meth}(): the underlying connection has been "
                "released back to the pool"
            )

    def _check(self, meth: str) -> None:
        con = self._con
        self._check_released(meth)
        if con.is_closed() or self._state.closed:
            raise exceptions.InterfaceError(
                f"cannot call PreparedStmt.{meth}(): the prepared statement is closed"
            )

    def get_name(self) -> str:
        """The name of the statement on the server."""
        self._check_released("get_name")
        return self._state.name

    def get_query(self) -> str:
        """The text of the query."""
        self._check_released("get_query")
        return self._query

    def get_statusmsg(self) -> str | None:
        """The status of the last execution (e.g. ``'SELECT 2'``), or None before any."""
        self._check_released("get_statusmsg")
        return self._last_status

    def get_parameters(self) -> tuple[types.Type, ...]:
        """The types of the statement's parameters."""
        self._check_released("get_parameters")
        return tuple(
            _type_of(self._con._protocol, oid, name) for oid, name in self._state.parameters()
        )

    def get_attributes(self) -> tuple[types.Attribute, ...]:
        """The names and types of the result columns."""
        self._check_released("get_attributes")
        return tuple(
            types.Attribute(name, _type_of(self._con._protocol, oid, tname))
            for name, oid, tname in self._state.attributes()
        )

    async def _run(
        self, args: typing.Any, mode: int, column: int, timeout: float | None, meth: str
    ) -> typing.Any:
        self._check(meth)
        con = self._con
        if con._cancel_barrier is not None:
            timeout = await con._barrier(timeout)
        # fetchval takes its value from a Record in Rust, whatever row_format says.
        record_class = _native.Record if meth == "fetchval" else self._record_class
        fut = con._protocol.execute_statement(self._state, args, mode, column, record_class)
        try:
            if timeout is None and con._command_timeout is None:
                # NOTE: Connection.fetch*'s fast path: no _wait() coroutine without a timeout.
                try:
                    result = await fut
                except asyncio.CancelledError:
                    con._cancel_request(fut)
                    raise
            else:
                result = await con._wait(fut, timeout)
        except exceptions.OutdatedSchemaCacheError:
            # Its codecs describe types that changed: it cannot be used again (as asyncpg).
            self._state.mark_closed()
            raise
        self._last_status = con._protocol.last_status
        return result

    # The public methods check the statement when called (not when awaited), as asyncpg's do:
    # a statement from a connection released to a pool refuses at once.

    def fetch(
        self, *args: typing.Any, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, list[RecordT]]:
        """Run the statement and return all rows."""
        self._check("fetch")
        return self._run(args, MODE_ALL, 0, timeout, "fetch")

    def fetchrow(
        self, *args: typing.Any, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, RecordT | None]:
        """Run the statement and return the first row, or None."""
        self._check("fetchrow")
        return self._run(args, MODE_ROW, 0, timeout, "fetchrow")

    def fetchval(
        self, *args: typing.Any, column: int = 0, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, typing.Any]:
        """Run the statement and return a value of the first row, or None."""
        self._check("fetchval")
        if not isinstance(column, int):
            return self._fetchval_by_name(args, column, timeout)
        return self._run(args, MODE_VAL, column, timeout, "fetchval")

    async def _fetchval_by_name(
        self, args: typing.Any, column: typing.Any, timeout: float | None
    ) -> typing.Any:
        # A column name (asyncpg indexes the first Record with it): fetch the row.
        row = await self._run(args, MODE_ROW, 0, timeout, "fetchval")
        return None if row is None else row[column]

    async def _run_many(
        self, args: typing.Iterable[typing.Any], mode: int, timeout: float | None, meth: str
    ) -> typing.Any:
        self._check(meth)
        con = self._con
        if con._cancel_barrier is not None:
            timeout = await con._barrier(timeout)
        args_list = list(args)
        if not args_list:
            return [] if mode == MODE_ALL else None
        fut = con._protocol.execute_statement_many(self._state, args_list, mode, self._record_class)
        result = await con._wait(fut, timeout)
        self._last_status = con._protocol.last_status
        return result

    def fetchmany(
        self, args: typing.Iterable[typing.Any], *, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, list[RecordT]]:
        """Run the statement for each argument sequence and return all rows."""
        self._check("fetchmany")
        return self._run_many(args, MODE_ALL, timeout, "fetchmany")

    def executemany(
        self, args: typing.Iterable[typing.Any], *, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, None]:
        """Run the statement for each argument sequence, atomically."""
        self._check("executemany")
        return self._run_many(args, MODE_NONE, timeout, "executemany")

    def cursor(
        self, *args: typing.Any, prefetch: int | None = None, timeout: float | None = None
    ) -> cursor_mod.CursorFactory[RecordT]:
        """A cursor factory over this statement."""
        self._check("cursor")
        return cursor_mod.CursorFactory(
            self._con, self._query, self._state, args, prefetch, timeout, self._record_class
        )

    def explain(
        self, *args: typing.Any, analyze: bool = False
    ) -> typing.Coroutine[typing.Any, typing.Any, typing.Any]:
        """The server's plan for this statement, as parsed JSON."""
        self._check("explain")
        return self._explain(args, analyze)

    async def _explain(self, args: typing.Any, analyze: bool) -> typing.Any:
        query = "EXPLAIN (FORMAT JSON, VERBOSE"
        if analyze:
            query += ", ANALYZE) "
        else:
            query += ") "
        query += self._query
        if analyze:
            tr = self._con.transaction()
            await tr.start()
            try:
                data = await self._con.fetchval(query, *args)
            finally:
                await tr.rollback()
        else:
            data = await self._con.fetchval(query, *args)
        # With json_objects=True the plan arrives parsed already.
        return json.loads(data) if isinstance(data, str) else data

    def __repr__(self) -> str:
        return f"<asyncpg.PreparedStatement {self._query!r} 0x{id(self):x}>"
