"""A TCP proxy for tests that simulates losing the network between client and server.

``TCPFuzzingProxy`` runs its own event loop in a thread. Each accepted client gets a fresh
connection to the backend and a ``Connection`` (or ``proxy.connection_factory``) object that
relays bytes both ways. ``trigger_connectivity_loss()`` freezes every relay: sockets stay open
but nothing moves (bytes already read are held back) until ``restore_connectivity()``.

The names follow ``asyncpg._testbase.fuzzer`` so tests that subclass ``Connection`` (to inject
faults in ``prepare()``) keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any, Optional

from asyncpg_rs import cluster

__all__ = ("Connection", "StopServer", "TCPFuzzingProxy")

_CHUNK = 4096


class StopServer(Exception):
    """Raised inside the proxy loop when stop() was asked for."""


async def _race(awaitable, event: asyncio.Event):
    """Await ``awaitable`` unless ``event`` gets set first.

    Returns ``(True, result)`` when the awaitable finished, ``(False, None)`` when the event
    won (the awaitable is then cancelled).
    """
    work = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((work, stopper), return_when=asyncio.FIRST_COMPLETED)
        if event.is_set():
            return False, None
        return True, work.result()
    finally:
        for task in (work, stopper):
            if not task.done():
                task.cancel()
        await asyncio.gather(work, stopper, return_exceptions=True)


class TCPFuzzingProxy:
    def __init__(
        self,
        *,
        listening_addr: str = "127.0.0.1",
        listening_port: Optional[int] = None,
        backend_host: str,
        backend_port: int,
        settings: Optional[dict] = None,
    ) -> None:
        self.listening_addr = listening_addr
        self.listening_port = listening_port
        self.backend_host = backend_host
        self.backend_port = backend_port
        self.settings = settings or {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.connectivity: Optional[asyncio.Event] = None  # set while the network works
        self.connectivity_loss: Optional[asyncio.Event] = None  # set while it does not
        self.stop_event: Optional[asyncio.Event] = None
        self.connections: dict[Any, asyncio.Task] = {}
        self.sock: Optional[socket.socket] = None
        self.listen_task: Optional[asyncio.Task] = None
        self.thread: Optional[threading.Thread] = None
        self.connection_factory = Connection

    # -- lifecycle (called from the test's thread) --

    def start(self) -> None:
        ready = threading.Event()
        self.thread = threading.Thread(target=self._thread_main, args=(ready,), daemon=True)
        self.thread.start()
        if not ready.wait(timeout=5):
            raise RuntimeError("fuzzer proxy failed to start")

    def stop(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stop)
        if self.thread is not None:
            self.thread.join()

    def trigger_connectivity_loss(self) -> None:
        self.loop.call_soon_threadsafe(self._trigger_connectivity_loss)

    def restore_connectivity(self) -> None:
        self.loop.call_soon_threadsafe(self._restore_connectivity)

    def reset(self) -> None:
        self.restore_connectivity()

    def close_all_connections(self) -> None:
        for conn in list(self.connections):
            self.loop.call_soon_threadsafe(conn.close)

    # -- inside the proxy thread --

    def _stop(self) -> None:
        self.stop_event.set()

    def _trigger_connectivity_loss(self) -> None:
        self.connectivity.clear()
        self.connectivity_loss.set()

    def _restore_connectivity(self) -> None:
        self.connectivity_loss.clear()
        self.connectivity.set()

    def _close_connection(self, connection: Any) -> None:
        task = self.connections.get(connection)
        if task is not None:
            task.cancel()

    def _thread_main(self, ready: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.connectivity = asyncio.Event()
        self.connectivity.set()
        self.connectivity_loss = asyncio.Event()
        self.stop_event = asyncio.Event()
        if self.listening_port is None:
            self.listening_port = cluster.find_available_port(self.listening_addr)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.listening_addr, self.listening_port))
        self.sock.listen(50)
        self.sock.setblocking(False)
        try:
            self.loop.run_until_complete(self._serve(ready))
        finally:
            self.loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self.listen_task = asyncio.ensure_future(self.listen())
        ready.set()
        try:
            await self.listen_task
        finally:
            tasks = list(self.connections.values())
            for conn in list(self.connections):
                conn.close()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(NotImplementedError, ValueError):
                self.loop.remove_reader(self.sock.fileno())
            self.sock.close()

    async def _unless_stopped(self, awaitable):
        finished, result = await _race(awaitable, self.stop_event)
        if not finished:
            raise StopServer()
        return result

    async def listen(self) -> None:
        while True:
            try:
                client_sock, _ = await self._unless_stopped(self.loop.sock_accept(self.sock))
                backend_sock = socket.socket()
                backend_sock.setblocking(False)
                try:
                    await self._unless_stopped(
                        self.loop.sock_connect(backend_sock, (self.backend_host, self.backend_port))
                    )
                except BaseException:
                    backend_sock.close()
                    client_sock.close()
                    raise
            except StopServer:
                return
            except OSError:
                continue  # the backend refused: drop this client, keep serving
            conn = self.connection_factory(client_sock, backend_sock, self)
            self.connections[conn] = self.loop.create_task(conn.handle())


class Connection:
    """One client relayed to the backend; subclasses may override ``prepare()``."""

    def __init__(self, client_sock: socket.socket, backend_sock: socket.socket, proxy) -> None:
        self.client_sock = client_sock
        self.backend_sock = backend_sock
        self.proxy = proxy
        self.loop = proxy.loop
        self.connectivity = proxy.connectivity
        self.connectivity_loss = proxy.connectivity_loss
        self.proxy_to_backend_task: Optional[asyncio.Task] = None
        self.proxy_from_backend_task: Optional[asyncio.Task] = None
        self.is_closed = False
        self.client_reader: Optional[asyncio.StreamReader] = None
        self.client_writer: Optional[asyncio.StreamWriter] = None

    async def prepare(self) -> bool:
        """Runs before relaying starts; return False to drop the client instead."""
        return True

    async def use_client_stream(self, ssl_context=None) -> None:
        """Talk to the client through a StreamReader/StreamWriter (TLS from the start if given)."""
        reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(reader)
        transport, _ = await self.loop.connect_accepted_socket(
            lambda: protocol, self.client_sock, ssl=ssl_context
        )
        self.client_reader = reader
        self.client_writer = asyncio.StreamWriter(transport, protocol, reader, self.loop)

    async def start_tls(self, ssl_context) -> None:
        """Upgrade the client stream to TLS (server side)."""
        writer = self.client_writer
        writer._transport = await self.loop.start_tls(
            writer.transport, writer._protocol, ssl_context, server_side=True
        )
        writer._protocol._over_ssl = True

    def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        for task in (self.proxy_to_backend_task, self.proxy_from_backend_task):
            if task is not None:
                task.cancel()
        self.proxy._close_connection(self)

    async def handle(self) -> None:
        try:
            if not await self.prepare():
                return
            self.proxy_to_backend_task = asyncio.ensure_future(self.proxy_to_backend())
            self.proxy_from_backend_task = asyncio.ensure_future(self.proxy_from_backend())
            await asyncio.wait(
                (self.proxy_to_backend_task, self.proxy_from_backend_task),
                return_when=asyncio.FIRST_COMPLETED,
            )
        except ConnectionError:
            pass
        finally:
            # From here on a close() scheduled by a relay must not cancel this cleanup.
            self.is_closed = True
            relays = [t for t in (self.proxy_to_backend_task, self.proxy_from_backend_task) if t]
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            await self._close_sockets()
            self.proxy.connections.pop(self, None)

    async def _close_sockets(self) -> None:
        socks = [self.backend_sock]
        if self.client_writer is not None:
            self.client_writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.client_writer.wait_closed()
        else:
            socks.append(self.client_sock)
        for sock in socks:
            if sock.fileno() < 0:
                continue
            # A cancelled sock_recv()/sock_sendall() may leave its callback registered.
            with contextlib.suppress(NotImplementedError, ValueError):
                self.loop.remove_reader(sock.fileno())
                self.loop.remove_writer(sock.fileno())
            sock.close()

    async def _read(self, sock: socket.socket, n: int) -> Optional[bytes]:
        """Up to ``n`` bytes from ``sock``; None if connectivity got lost meanwhile."""
        if sock is self.client_sock and self.client_reader is not None:
            pending = self.client_reader.read(n)
        else:
            pending = self.loop.sock_recv(sock, n)
        finished, data = await _race(pending, self.connectivity_loss)
        return data if finished else None

    async def _write(self, sock: socket.socket, data: bytes) -> None:
        if sock is self.client_sock and self.client_writer is not None:
            self.client_writer.write(data)
            pending = self.client_writer.drain()
        else:
            pending = self.loop.sock_sendall(sock, data)
        await _race(pending, self.connectivity_loss)

    async def _relay(self, source: socket.socket, target: socket.socket) -> None:
        held: Optional[bytes] = None  # read before the outage, delivered after it
        try:
            while True:
                await self.connectivity.wait()
                if held is not None:
                    data, held = held, None
                else:
                    data = await self._read(source, _CHUNK)
                if data == b"":
                    return  # EOF
                if self.connectivity_loss.is_set() or data is None:
                    if data:
                        held = data
                    continue
                await self._write(target, data)
        except (ConnectionError, OSError):
            pass
        finally:
            if not self.loop.is_closed():
                self.loop.call_soon(self.close)

    async def proxy_to_backend(self) -> None:
        await self._relay(self.client_sock, self.backend_sock)

    async def proxy_from_backend(self) -> None:
        await self._relay(self.backend_sock, self.client_sock)
