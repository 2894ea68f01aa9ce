"""A fake server on 127.0.0.1 sends crafted replies: every malformed message is a clear ProtocolError.

The server speaks just enough of the protocol to let a client connect (no SSL, no password), then
answers each Sync with what the scenario says: by default ParseComplete, a ParameterDescription
and a RowDescription for the prepare, and for the execution BindComplete, the scenario's DataRow
bodies, CommandComplete and ReadyForQuery. A test replaces any of these with broken bytes.
Whether the stream can still be trusted decides the outcome: a bad DataRow inside a well-framed
message fails the query and the connection goes on; a bad header closes it at once (no wait).
"""

from __future__ import annotations

import asyncio
import struct
import typing

import pytest

import asyncpg_rs

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

INT4, BOOL, NUMERIC, TEXT = 23, 16, 1700, 25


def msg(tag: bytes, body: bytes = b"") -> bytes:
    return tag + struct.pack("!i", len(body) + 4) + body


def row_description(*cols: tuple[str, int, int]) -> bytes:
    body = struct.pack("!h", len(cols))
    for name, oid, fmt in cols:
        body += name.encode() + b"\0" + struct.pack("!ihihih", 0, 0, oid, -1, -1, fmt)
    return msg(b"T", body)


def data_row(*values: bytes | None, count: int | None = None, trailer: bytes = b"") -> bytes:
    body = struct.pack("!h", len(values) if count is None else count)
    for v in values:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    return msg(b"D", body + trailer)


def raw_column(length: int, data: bytes = b"") -> bytes:
    """A DataRow of one column whose length word is `length` (any value) followed by `data`."""
    return msg(b"D", struct.pack("!hi", 1, length) + data)


READY = msg(b"Z", b"I")


class FakeServer:
    """Answers one scripted reply per Sync (after the startup exchange)."""

    def __init__(self, replies: list[bytes], auth: typing.Callable | None = None) -> None:
        self.replies = list(replies)
        self.auth = auth
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.received: list[bytes] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> typing.Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!i", await reader.readexactly(4))
                body = await reader.readexactly(length - 4)
                code = struct.unpack("!i", body[:4])[0]
                if code == 80877103:  # SSLRequest
                    writer.write(b"N")
                    continue
                if code == 80877104:  # GSSENCRequest
                    writer.write(b"N")
                    continue
                break
            if self.auth is not None:
                await self.auth(reader, writer)
            else:
                writer.write(msg(b"R", struct.pack("!i", 0)))
            writer.write(msg(b"S", b"server_version\x0015.0\0"))
            writer.write(msg(b"S", b"client_encoding\0UTF8\0"))
            writer.write(msg(b"S", b"integer_datetimes\0on\0"))
            writer.write(msg(b"K", struct.pack("!ii", 1234, 5678)))
            writer.write(READY)
            while True:
                tag = await reader.readexactly(1)
                (length,) = struct.unpack("!i", await reader.readexactly(4))
                await reader.readexactly(length - 4)
                self.received.append(tag)
                if tag == b"X":
                    break
                if tag == b"S" or tag == b"Q":
                    writer.write(self.replies.pop(0) if self.replies else READY)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the test is over
        finally:
            writer.close()


def prepared(*cols: tuple[str, int, int], params: bytes = struct.pack("!h", 0)) -> bytes:
    return msg(b"1") + msg(b"t", params) + row_description(*cols) + READY


def executed(*rows: bytes, tag: bytes = b"SELECT 1") -> bytes:
    return msg(b"2") + b"".join(rows) + msg(b"C", tag + b"\0") + READY


async def connect(port: int) -> typing.Any:
    return await asyncpg_rs.connect(
        host="127.0.0.1", port=port, user="u", database="d", ssl=False, timeout=10
    )


async def fetch_one(replies: list[bytes]) -> tuple[BaseException | None, typing.Any, typing.Any]:
    """Run one fetchval over the scripted replies; then one more query to see if the connection lives."""
    async with FakeServer(
        replies + [prepared(("x", INT4, 1)), executed(data_row(struct.pack("!i", 7)))]
    ) as srv:
        con = await connect(srv.port)
        try:
            err: BaseException | None = None
            value = None
            try:
                value = await asyncio.wait_for(con.fetchval("SELECT broken"), 10)
            except Exception as e:
                err = e
            after: typing.Any
            if con.is_closed():
                after = "closed"
            else:
                after = await asyncio.wait_for(con.fetchval("SELECT 7"), 10)
            return err, value, after
        finally:
            con.terminate()


INT_COL = ("x", INT4, 1)


async def test_well_formed_reply_works() -> None:
    err, value, after = await fetch_one(
        [prepared(INT_COL), executed(data_row(struct.pack("!i", 5)))]
    )
    assert (err, value, after) == (None, 5, 7)


@pytest.mark.parametrize("length", [-2, -1000, -(2**31)])
async def test_datarow_negative_length_below_minus_one(length: int) -> None:
    err, _, after = await fetch_one([prepared(INT_COL), executed(raw_column(length))])
    assert type(err).__name__ == "ProtocolError"
    assert "DataRow" in str(err) and str(length) in str(err)
    assert after == 7  # the framing was intact: the connection goes on


async def test_datarow_trailing_bytes() -> None:
    err, _, after = await fetch_one(
        [prepared(INT_COL), executed(data_row(struct.pack("!i", 5), trailer=b"xyz"))]
    )
    assert type(err).__name__ == "ProtocolError"
    assert "3 bytes after the last column" in str(err)
    assert after == 7


async def test_datarow_column_count_mismatch() -> None:
    err, _, after = await fetch_one(
        [prepared(INT_COL), executed(data_row(b"\0\0\0\1", b"\0\0\0\2"))]
    )
    assert type(err).__name__ == "ProtocolError"
    assert "2 columns, RowDescription announced 1" in str(err)
    assert after == 7


async def test_int4_wrong_width() -> None:
    err, _, after = await fetch_one([prepared(INT_COL), executed(data_row(b"\0\0\0\0\1"))])
    assert err is not None and "expected 4 bytes, got 5" in str(err)
    assert after == 7


async def test_bool_byte_other_than_0_or_1() -> None:
    err, _, after = await fetch_one([prepared(("b", BOOL, 1)), executed(data_row(b"\x07"))])
    assert err is not None and "invalid bool value" in str(err)
    assert after == 7


async def test_numeric_nan_with_digits() -> None:
    # ndigits=1, weight=0, sign=NaN (0xC000), dscale=0, one digit.
    nan_with_digit = struct.pack("!hhHhh", 1, 0, 0xC000, 0, 5)
    err, _, after = await fetch_one(
        [prepared(("n", NUMERIC, 1)), executed(data_row(nan_with_digit))]
    )
    assert err is not None and "carries digits" in str(err)
    assert after == 7


@pytest.mark.parametrize("length", [-5, 0x7FFFFFFF, 0x50000000])
async def test_absurd_message_length_is_an_error_at_once(length: int) -> None:
    bad = msg(b"1") + msg(b"t", b"\0\0") + b"T" + struct.pack("!i", length)
    loop = asyncio.get_running_loop()
    started = loop.time()
    err, _, after = await fetch_one([bad])
    assert type(err).__name__ == "ProtocolError"
    assert "RowDescription" in str(err) and "out of range" in str(err)
    assert after == "closed"
    assert loop.time() - started < 5  # no wait for bytes that will never come


async def test_fixed_size_message_with_wrong_length() -> None:
    err, _, after = await fetch_one([msg(b"1", b"junk") + READY])
    assert type(err).__name__ == "ProtocolError"
    assert "ParseComplete" in str(err)
    assert after == "closed"


async def test_parameter_description_count_disagrees_with_body() -> None:
    bad = msg(b"1") + msg(b"t", struct.pack("!hi", 3, INT4)) + row_description(INT_COL) + READY
    err, _, after = await fetch_one([bad])
    assert type(err).__name__ == "ProtocolError"
    assert "ParameterDescription" in str(err)
    assert after == "closed"


async def test_every_pending_request_fails_with_the_cause() -> None:
    bad = b"D" + struct.pack("!i", -7)
    async with FakeServer([bad]) as srv:
        con = await connect(srv.port)
        try:
            first = asyncio.ensure_future(con.fetchval("SELECT 1"))
            await asyncio.sleep(0)
            second = asyncio.ensure_future(con._protocol.sync())
            results = await asyncio.wait_for(
                asyncio.gather(first, second, return_exceptions=True), 10
            )
            protocol_error, lost = results
            assert type(protocol_error).__name__ == "ProtocolError"
            assert type(lost).__name__ == "ConnectionDoesNotExistError"
            assert lost.__cause__ is protocol_error
            assert "DataRow" in str(lost)
            assert con.is_closed()
        finally:
            con.terminate()


# ----- SCRAM: the server-first-message is checked before any key is derived from it -----


def scram_auth(server_first: typing.Callable[[str], str]) -> typing.Callable:
    async def auth(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(msg(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0"))
        await reader.readexactly(1)
        (length,) = struct.unpack("!i", await reader.readexactly(4))
        body = await reader.readexactly(length - 4)
        client_first = body.split(b"\0", 1)[1][4:].decode()
        client_nonce = client_first.rsplit("r=", 1)[1]
        writer.write(msg(b"R", struct.pack("!i", 11) + server_first(client_nonce).encode()))
        await writer.drain()
        await reader.read(1)  # the client gives up: nothing more is read

    return auth


@pytest.mark.parametrize(
    ("first", "fault"),
    [
        (lambda n: f"r={n}abc,s=c2FsdA==,i=0", "iteration count"),
        (lambda n: f"r=other{n},s=c2FsdA==,i=4096", "nonce"),
        (lambda n: f"r={n},s=c2FsdA==,i=4096", "nonce"),
        (lambda n: f"r={n}abc,s=,i=4096", "salt"),
        (lambda n: f"r={n}abc,s=not*base64,i=4096", "salt"),
    ],
)
async def test_scram_server_first_is_checked(
    first: typing.Callable[[str], str], fault: str
) -> None:
    async with FakeServer([], auth=scram_auth(first)) as srv:
        with pytest.raises(asyncpg_rs.exceptions.ProtocolError) as info:
            await asyncpg_rs.connect(
                host="127.0.0.1",
                port=srv.port,
                user="u",
                database="d",
                password="pw",
                ssl=False,
                timeout=10,
            )
    assert "SCRAM" in str(info.value) and fault in str(info.value)
