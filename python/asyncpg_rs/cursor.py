"""Cursors: server-side portals read in batches, inside a transaction."""

from __future__ import annotations

import itertools
import typing

from . import exceptions
from ._typing import RecordT

if typing.TYPE_CHECKING:
    from .connection import Connection

__all__ = ("Cursor", "CursorFactory", "CursorIterator")

_portal_ids = itertools.count(1)


def _check_released(con: typing.Any, release_ctr: int, cls: str, meth: str) -> None:
    if getattr(con, "_pool_release_ctr", 0) != release_ctr:
        raise exceptions.InterfaceError(
            f"cannot call {cls}.{meth}(): the underlying connection has been released back to the pool"
        )


#: Default of Cursor.fetch's `n`, so that a released cursor refuses before the missing argument.
_NO_COUNT: typing.Any = object()


class CursorFactory(typing.Generic[RecordT]):
    """What :meth:`Connection.cursor` returns: iterate it, or await it for a :class:`Cursor`."""

    __slots__ = (
        "_args",
        "_con",
        "_prefetch",
        "_query",
        "_record_class",
        "_release_ctr",
        "_state",
        "_timeout",
    )

    def __init__(
        self,
        connection: Connection[typing.Any],
        query: str,
        state: typing.Any,
        args: tuple[typing.Any, ...],
        prefetch: int | None,
        timeout: float | None,
        record_class: type[RecordT] | None,
    ) -> None:
        self._con = connection
        self._query = query
        self._state = state
        self._args = args
        self._prefetch = prefetch
        self._timeout = timeout
        self._record_class = record_class
        self._release_ctr = getattr(connection, "_pool_release_ctr", 0)

    def __aiter__(self) -> CursorIterator[RecordT]:
        _check_released(self._con, self._release_ctr, "CursorFactory", "__aiter__")
        prefetch = 50 if self._prefetch is None else self._prefetch
        if prefetch <= 0:
            raise exceptions.InterfaceError("prefetch argument must be greater than zero")
        return CursorIterator(
            self._con,
            self._query,
            self._state,
            self._args,
            self._record_class,
            prefetch,
            self._timeout,
        )

    def __await__(self) -> typing.Generator[typing.Any, None, Cursor[RecordT]]:
        _check_released(self._con, self._release_ctr, "CursorFactory", "__await__")
        if self._prefetch is not None:
            raise exceptions.InterfaceError(
                "prefetch argument can only be specified for iterable cursor"
            )
        cursor: Cursor[RecordT] = Cursor(
            self._con, self._query, self._state, self._args, self._record_class
        )
        return cursor._init(self._timeout).__await__()


class _BaseCursor(typing.Generic[RecordT]):
    def __init__(
        self,
        connection: Connection[typing.Any],
        query: str,
        state: typing.Any,
        args: tuple[typing.Any, ...],
        record_class: type[RecordT] | None,
    ) -> None:
        self._con = connection
        self._query = query
        self._state = state
        self._args = args
        self._record_class = record_class
        self._portal_name: str | None = None
        self._exhausted = False
        self._release_ctr = getattr(connection, "_pool_release_ctr", 0)

    def _check_ready(self) -> None:
        if self._state is None:
            raise exceptions.InterfaceError("cursor: no associated prepared statement")

    async def _bind(self, timeout: float | None) -> None:
        con = self._con
        con._check_open()
        if self._state is not None and self._state.closed:
            raise exceptions.InterfaceError(
                "cannot open a cursor: the prepared statement is closed"
            )
        if not con.is_in_transaction():
            raise exceptions.NoActiveSQLTransactionError(
                "cursor cannot be created outside of a transaction"
            )
        if self._state is None:
            self._state = await con._wait(con._protocol.prepare(self._query, None), timeout)
        name = f"__asyncpg_portal_{next(_portal_ids):x}__"
        await con._wait(con._protocol.bind_portal(self._state, self._args, name), timeout)
        self._portal_name = name

    async def _exec(self, n: int, timeout: float | None) -> list[RecordT]:
        con = self._con
        rows, more = await con._wait(
            con._protocol.execute_portal(
                self._state, self._portal_name or "", n, self._record_class
            ),
            timeout,
        )
        if not more:
            self._exhausted = True
        return rows

    async def _close_portal(self, timeout: float | None) -> None:
        con = self._con
        if self._portal_name is not None and not con.is_closed():
            await con._wait(con._protocol.close_object("P", self._portal_name), timeout)
        self._portal_name = None

    def __repr__(self) -> str:
        attrs = []
        if self._exhausted:
            attrs.append("exhausted")
        attrs.append("")
        return '<{}.{} "{!s:.30}" {}{:#x}>'.format(
            "asyncpg", type(self).__name__, self._query, " ".join(attrs), id(self)
        )


class CursorIterator(_BaseCursor[RecordT]):
    """``async for`` over a cursor, fetching `prefetch` rows per round trip."""

    def __init__(
        self,
        connection: Connection[typing.Any],
        query: str,
        state: typing.Any,
        args: tuple[typing.Any, ...],
        record_class: type[RecordT] | None,
        prefetch: int,
        timeout: float | None,
    ) -> None:
        super().__init__(connection, query, state, args, record_class)
        self._prefetch = prefetch
        self._timeout = timeout
        self._buffer: list[RecordT] = []
        self._pos = 0

    def __aiter__(self) -> CursorIterator[RecordT]:
        return self

    async def __anext__(self) -> RecordT:
        _check_released(self._con, self._release_ctr, "CursorIterator", "__anext__")
        if self._portal_name is None and not self._exhausted:
            await self._bind(self._timeout)
        if self._pos >= len(self._buffer):
            if self._exhausted:
                raise StopAsyncIteration
            self._buffer = await self._exec(self._prefetch, self._timeout)
            self._pos = 0
            if self._exhausted:
                await self._close_portal(self._timeout)
            if not self._buffer:
                raise StopAsyncIteration
        row = self._buffer[self._pos]
        self._pos += 1
        return row


class Cursor(_BaseCursor[RecordT]):
    """An open cursor (``await con.cursor(...)`` inside a transaction)."""

    async def _init(self, timeout: float | None) -> Cursor[RecordT]:
        await self._bind(timeout)
        return self

    def fetch(
        self, n: int = typing.cast(int, _NO_COUNT), *, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, list[RecordT]]:
        """Return the next `n` rows (fewer at the end)."""
        # Released first, then the arguments, as asyncpg's guarded methods do.
        _check_released(self._con, self._release_ctr, "Cursor", "fetch")
        if n is _NO_COUNT:
            raise TypeError("Cursor.fetch() missing 1 required positional argument: 'n'")
        return self._fetch(n, timeout=timeout)

    async def _fetch(self, n: int, *, timeout: float | None = None) -> list[RecordT]:
        self._check_ready()
        if n <= 0:
            raise exceptions.InterfaceError("n must be greater than zero")
        if self._exhausted:
            return []
        return await self._exec(n, timeout)

    def fetchrow(
        self, *, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, RecordT | None]:
        """Return the next row, or None at the end."""
        _check_released(self._con, self._release_ctr, "Cursor", "fetchrow")
        return self._fetchrow(timeout=timeout)

    async def _fetchrow(self, *, timeout: float | None = None) -> RecordT | None:
        self._check_ready()
        if self._exhausted:
            return None
        rows = await self._exec(1, timeout)
        return rows[0] if rows else None

    def forward(
        self, n: int, *, timeout: float | None = None
    ) -> typing.Coroutine[typing.Any, typing.Any, int]:
        """Skip `n` rows; return how many were skipped."""
        _check_released(self._con, self._release_ctr, "Cursor", "forward")
        return self._forward(n, timeout=timeout)

    async def _forward(self, n: int, *, timeout: float | None = None) -> int:
        self._check_ready()
        if n <= 0:
            raise exceptions.InterfaceError("n must be greater than zero")
        status = await self._con.execute(
            f'MOVE FORWARD {int(n)} "{self._portal_name}"', timeout=timeout
        )
        advanced = int(status.split()[-1])
        if advanced < n:
            self._exhausted = True
        return advanced
