"""A loopback TCP proxy that can play a database server going away (tests only).

Point a client at `proxy.port` instead of the server's own port and every
byte is forwarded both ways to `target` (PostgreSQL on 127.0.0.1:5432 by
default). `outage(seconds)` is what a server restart looks like from the
client's side: every open connection is cut at once (the client sees a reset
connection), new connections are refused for `seconds` (nothing listens on
the port, so a connect fails with "connection refused"), then the proxy
listens on the same port again. The real server is never touched.

Usage (inside an async test; the proxy runs on the test's event loop):

    async with TcpProxy(("127.0.0.1", 5432)) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
        ...
        await proxy.outage(5.0)        # cut, refuse for 5 s, accept again
        proxy.cut()                    # or by hand: cut every connection…
        await proxy.refuse()           # …stop listening…
        await proxy.accept()           # …and listen again

Observation: `open_connections`, `accepted` (connections taken), `cut_connections`
(connections cut by the proxy) and `refusing` (not listening now).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from types import TracebackType

_CHUNK = 64 * 1024


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream connection."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`; see the module docstring. Use `async with`."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = 0
        self.accepted = 0
        self.cut_connections = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TcpProxy:
        await self.accept()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cut()
        await self.refuse()

    @property
    def open_connections(self) -> int:
        return len(self._links)

    @property
    def refusing(self) -> bool:
        return self._server is None

    async def accept(self) -> None:
        """Listen (again) on 127.0.0.1, on the same port after the first time."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def refuse(self) -> None:
        """Stop listening: new connections are refused until `accept`."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def cut(self) -> int:
        """Abort every open connection, both sides; returns how many were cut."""
        links, self._links = list(self._links), set()
        for link in links:
            link.abort()
        self.cut_connections += len(links)
        return len(links)

    async def outage(self, seconds: float) -> int:
        """Cut every connection, refuse new ones for `seconds`, then accept again;
        returns how many connections were cut."""
        await self.refuse()
        cut = self.cut()
        await asyncio.sleep(seconds)
        await self.accept()
        return cut

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just before refusing
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        link = _Link(writer, up_writer)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        try:
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._links.discard(link)
            link.abort()
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until either side ends."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
