"""The fetcher's connection pool: httpcore's, without its per-request overheads.

A profile of one poll of 1,000 feeds (benchmarks/poll_cycle.md) spent more
time in httpcore's pool bookkeeping than in fetching. Three causes, each fixed
here without changing what goes over the wire:

1. `AsyncConnectionPool._assign_requests_to_connections` runs on every request
   start and response close, and its clean-up loop asks, for each idle
   connection, `len([c.is_idle() for c in self._connections])`: O(connections²)
   per pass. Upstream knows (encode/httpcore#1035, open; fixed in the
   pydantic/httpx2 fork, #974). `LinearConnectionPool` counts instead.
2. The same pass hands one idle HTTP/1.1 connection to every queued request;
   all but one then fail with ConnectionNotAvailable and go round again (about
   five passes per request under load; pydantic/httpx2#1075). Here a connection
   already handed to a waiting request is not handed out again, and is not
   probed or closed under it (encode/httpcore#1110).
3. Each pass probes every idle connection for a server-side close, and the
   anyio stream answers `get_extra_info("is_readable")` by building a dict of
   all its attributes (a getpeername() call among them). `ProbeCachingBackend`
   wraps the streams so the probe is one poll() on a socket looked up once.

`LinearConnectionPool` relies on httpcore internals (the
`_assign_requests_to_connections` hook, `_connections`, `_requests`,
`AsyncPoolRequest`), kept because it halves a cold 1,000-feed poll. So
httpcore is a declared dependency pinned to the tested range
(`TESTED_HTTPCORE`, the same as in pyproject.toml), `pool_class` hands the
linear pool out only inside that range, and tests/test_pool.py fails loudly
when upstream renames or stops calling what it overrides. It is
HTTP/1.1-only, like the fetcher's client. The stream and backend wrappers use
httpcore's public network-backend interface only.

A fourth cost is avoided by a dependency rather than code: without the
optional `sniffio` package, httpcore re-runs a failing `import sniffio` (a walk
of sys.path) each time it sets up a lock or an event, several times per
request, so newswatch depends on sniffio.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

TESTED_HTTPCORE = ((1, 0, 9), (1, 1))
"""httpcore versions `LinearConnectionPool` is tested with: at least the first, below the second."""
Connection = httpcore.AsyncConnectionInterface
log = logging.getLogger(__name__)


class LinearConnectionPool(httpcore.AsyncConnectionPool):
    """`httpcore.AsyncConnectionPool` with a linear bookkeeping pass that never
    hands one connection to two requests."""

    def _assign_requests_to_connections(self) -> list[Connection]:
        """Drop closed, expired and surplus idle connections, then give each
        queued request a connection: a free one to its origin, a new one while
        under the limit, or a new one in place of a free idle one.

        Returns the connections to close (httpcore closes them outside its lock).
        """
        reserved = {r.connection for r in self._requests if r.connection is not None}
        closing = self._drop_unusable_connections(reserved)
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            free = [c for c in self._connections if c not in reserved]
            connection = next(
                (c for c in free if c.can_handle_request(origin) and c.is_available()), None
            )
            if connection is None and len(self._connections) >= self._max_connections:
                idle = next((c for c in free if c.is_idle()), None)
                if idle is None:
                    continue  # stays queued until a connection frees up
                self._connections.remove(idle)
                closing.append(idle)
            if connection is None:
                connection = self.create_connection(origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
            reserved.add(connection)
        return closing

    def _drop_unusable_connections(self, reserved: set[Connection]) -> list[Connection]:
        """Forget closed connections; remove and return expired ones and idle ones
        beyond the keep-alive limit (counted, as httpcore does, against all that
        remain). Connections reserved for a request are kept as they are."""
        closing: list[Connection] = []
        kept: list[Connection] = []
        remaining = len(self._connections)
        for connection in self._connections:
            if connection.is_closed():
                remaining -= 1
            elif connection not in reserved and (
                connection.has_expired()
                or (connection.is_idle() and remaining > self._max_keepalive_connections)
            ):
                remaining -= 1
                closing.append(connection)
            else:
                kept.append(connection)
        self._connections = kept
        return closing


def pool_class(version: str = httpcore.__version__) -> type[httpcore.AsyncConnectionPool]:
    """`LinearConnectionPool` on the httpcore versions it is tested with, else
    httpcore's own pool (slower, but correct), with a warning."""
    if httpcore_tested(version):
        return LinearConnectionPool
    log.warning(
        "httpcore %s is outside the tested range %s; using its own (slower) connection pool",
        version,
        TESTED_HTTPCORE,
    )
    return httpcore.AsyncConnectionPool


def httpcore_tested(version: str) -> bool:
    """Whether `version` (e.g. "1.0.9") lies in `TESTED_HTTPCORE`."""
    try:
        parts = tuple(int(part) for part in version.split(".")[:3])
    except ValueError:
        return False
    low, high = TESTED_HTTPCORE
    return low <= parts < high


class ProbeCachingStream(httpcore.AsyncNetworkStream):
    """A network stream that answers the pool's "is_readable" probe with one poll()."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's stream interface)
    ) -> httpcore.AsyncNetworkStream:
        return ProbeCachingStream(
            await self._inner.start_tls(ssl_context, server_hostname, timeout)
        )

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


def socket_readable(sock: socket.socket) -> bool:
    """Whether a read would return at once (data, or b"" after the peer closed).
    A closed socket counts as readable, i.e. unusable, as in httpcore."""
    fd = sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class ProbeCachingBackend(httpcore.AsyncNetworkBackend):
    """Wraps another backend's TCP streams in `ProbeCachingStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return ProbeCachingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
