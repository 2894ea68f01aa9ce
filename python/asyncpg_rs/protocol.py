"""The asyncio protocol of a connection: the Rust core plus the bits asyncio calls by name."""

from __future__ import annotations

import asyncio
import struct

from . import _native

MODE_STATUS = _native.MODE_STATUS
MODE_ALL = _native.MODE_ALL
MODE_ROW = _native.MODE_ROW
MODE_VAL = _native.MODE_VAL
MODE_NONE = _native.MODE_NONE

#: CancelRequest code and SSLRequest code from the PostgreSQL protocol.
_CANCEL_REQUEST_CODE = 80877102
_SSL_REQUEST_CODE = 80877103


class Protocol(_native.BaseProtocol):
    """One PostgreSQL session; the parsing, codecs and futures live in Rust."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

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


class _OneByteProtocol(asyncio.Protocol):
    """Reads the single-byte answer to an SSLRequest, before the real protocol takes over."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.answer: asyncio.Future[bytes] = loop.create_future()
        self.extra = b""

    def data_received(self, data: bytes) -> None:
        if not self.answer.done():
            self.answer.set_result(data[:1])
            self.extra = data[1:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                ConnectionError("the server closed the connection during SSL negotiation")
                if exc is None
                else exc
            )


def ssl_request_bytes() -> bytes:
    return struct.pack("!ii", 8, _SSL_REQUEST_CODE)


def cancel_request_bytes(pid: int, secret: int) -> bytes:
    return struct.pack("!iiii", 16, _CANCEL_REQUEST_CODE, pid, secret)
