"""The asyncio protocol of a connection: the Rust core plus the bits asyncio calls by name."""

from __future__ import annotations

import asyncio

from . import _native

MODE_STATUS = _native.MODE_STATUS
MODE_ALL = _native.MODE_ALL
MODE_ROW = _native.MODE_ROW
MODE_VAL = _native.MODE_VAL
MODE_NONE = _native.MODE_NONE


class Protocol(_native.BaseProtocol):
    """One PostgreSQL session; the parsing, codecs and futures live in Rust."""

    #: Whether the session runs over TLS (set by ``connect_utils`` once the transport is up).
    is_ssl = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # Set by the connection while a CancelRequest is under way (see _is_cancelling).
        self._cancel_barrier: asyncio.Future[None] | None = None

    def _is_cancelling(self) -> bool:
        """asyncpg's name: a CancelRequest for this session is under way (sent or being sent,
        and the cancelled request not over yet)."""
        barrier = getattr(self, "_cancel_barrier", None)
        return barrier is not None and not barrier.done() and not self.is_closed()

    async def _drain_cancels(self) -> None:
        """asyncpg's name: wait until the CancelRequest under way (if any) is over. close()
        starts with it, inside its one deadline."""
        barrier = getattr(self, "_cancel_barrier", None)
        if barrier is not None and not barrier.done():
            await asyncio.shield(barrier)

    def abort(self) -> None:
        """Close the socket at once, without Terminate (asyncpg's ``Protocol.abort()``); the
        connection then goes through its usual loss handling."""
        self.abort_transport()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        if not self._write_paused:
            return
        loop = asyncio.get_running_loop()
        self._drain_waiter = loop.create_future()
        await self._drain_waiter
