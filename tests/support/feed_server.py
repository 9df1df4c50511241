"""A real, programmable HTTP server on 127.0.0.1 that stands in for news sites in tests.

`FeedServer(ssl_context=ctx)` serves HTTPS instead (for TLS-failure tests).

Usage (inside an async test; the server runs on the test's event loop):

    async with FeedServer() as server:
        server.serve_file("/npr.xml", CORPUS / "npr" / "npr-news-2024-04-12T0120Z.xml",
                          etag='"v1"')
        server.redirect("/old", "/npr.xml", status=301)
        server.fail("/down", status=503, headers={"Retry-After": "120"})
        url = server.url("/npr.xml")          # http://127.0.0.1:<port>/npr.xml
        ...                                   # fetch it with the real fetcher
        assert server.hits["/npr.xml"] == 1
        server.serve_bytes("/npr.xml", b"<rss>…</rss>", etag='"v2"')   # change between polls

Every route is a `Route` (a plain mutable dataclass); `server.route(path, Route(...))`
installs any combination directly. Behaviour per route:

- `body`, `status`, `headers`, `content_type`: what is sent.
- `etag` / `last_modified`: sent as headers; a request whose `If-None-Match`
  equals `etag` (or whose `If-Modified-Since` equals `last_modified`) gets 304.
- `gzip=True`: the body is gzip-encoded when the client sends `Accept-Encoding: gzip`.
- `redirect_to` (+ `status` 301/302/303/307/308): a redirect with that `Location`.
- `delay`: seconds to wait before answering (a slow host); `hold`: an
  `asyncio.Event` the answer waits for (deterministic "slow" without timing).
- `stream_bytes`: stream this many filler bytes (a huge body) instead of `body`.

Observation: `hits[path]` counts requests, `requests[path]` keeps each request's
headers, `in_flight[path]` / `max_in_flight[path]` show concurrency. Unknown
paths answer 404. `url(path, host=...)` builds a URL with another host name
(for tests whose resolver maps names to 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import gzip as gzip_codec
import ssl
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpcore
from aiohttp import web

_FILLER = b"<!-- filler -->\n" * 4096


@dataclass
class Route:
    """What one path answers; mutable so a test can change it between polls."""

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    redirect_to: str | None = None
    delay: float = 0.0
    hold: asyncio.Event | None = None
    stream_bytes: int = 0


class FeedServer:
    """An aiohttp server on 127.0.0.1:<random port>; use as `async with FeedServer() as s`."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if ssl_context is not None else "http"
        self._ssl_context = ssl_context
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: dict[str, list[Mapping[str, str]]] = {}
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for route in self.routes.values():
            if route.hold is not None:
                route.hold.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        """The full URL of `path` on this server, optionally under another host name."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, route: Route) -> Route:
        """Install (or replace) what `path` answers."""
        self.routes[path] = route
        return route

    def serve_bytes(self, path: str, body: bytes, **options: Any) -> Route:
        """Serve `body` at `path`; options are `Route` fields (status, etag, gzip, …)."""
        return self.route(path, Route(body=body, **options))

    def serve_file(self, path: str, file: Path | str, **options: Any) -> Route:
        """Serve a file's bytes at `path` (e.g. one of the demo corpus's feeds)."""
        return self.serve_bytes(path, Path(file).read_bytes(), **options)

    def redirect(self, path: str, to: str, *, status: int = 302) -> Route:
        """Answer `path` with a redirect to `to` (relative or absolute)."""
        return self.route(path, Route(status=status, redirect_to=to))

    def fail(
        self, path: str, *, status: int = 500, headers: Mapping[str, str] | None = None
    ) -> Route:
        """Answer `path` with an error status (and e.g. a Retry-After header)."""
        return self.route(path, Route(status=status, body=b"error", headers=headers or {}))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        self.requests.setdefault(path, []).append(dict(request.headers))
        route = self.routes.get(path)
        if route is None:
            return web.Response(status=404, text="no such route")
        self.in_flight[path] += 1
        self.max_in_flight[path] = max(self.max_in_flight[path], self.in_flight[path])
        try:
            if route.delay:
                await asyncio.sleep(route.delay)
            if route.hold is not None:
                await route.hold.wait()
            return await self._answer(request, route)
        finally:
            self.in_flight[path] -= 1

    async def _answer(self, request: web.Request, route: Route) -> web.StreamResponse:
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if route.redirect_to is not None:
            headers["Location"] = route.redirect_to
            return web.Response(status=route.status, headers=headers)
        if _not_modified(request, route):
            return web.Response(status=304, headers=headers)
        if route.content_type:
            headers["Content-Type"] = route.content_type
        if route.stream_bytes:
            return await _stream_filler(request, route, headers)
        body = route.body
        if route.gzip and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip_codec.compress(body)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=route.status, body=body, headers=headers)


def _not_modified(request: web.Request, route: Route) -> bool:
    if route.status != 200:
        return False
    if route.etag and request.headers.get("If-None-Match") == route.etag:
        return True
    since = request.headers.get("If-Modified-Since")
    return bool(route.last_modified and since == route.last_modified)


async def _stream_filler(
    request: web.Request, route: Route, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(status=route.status, headers=headers)
    await response.prepare(request)
    remaining = route.stream_bytes
    try:
        while remaining > 0:
            piece = _FILLER[: min(remaining, len(_FILLER))]
            await response.write(piece)
            remaining -= len(piece)
        await response.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass  # the client hung up after hitting its cap, which is the point of the test
    return response


# ── name resolution and dialling for SSRF tests ────────────────────────────


class StaticResolver:
    """A `Resolver` answering from a table: `StaticResolver({"evil.test": ["127.0.0.1"]})`.

    Unknown names fail like the system resolver does. `answers` can be changed
    at any time (imitating DNS rebinding); `calls` records every lookup.
    """

    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self.answers: dict[str, Sequence[str]] = dict(answers)
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        answer = self.answers.get(host)
        if not answer:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return answer


class LoopbackDialer(httpcore.AsyncNetworkBackend):
    """A real TCP dialler that connects to 127.0.0.1 whatever address it is given.

    Lets a test give a name a public-looking address (which the SSRF guard
    accepts) while the bytes still go to a `FeedServer` on loopback. `dialled`
    records the addresses the guard asked for.
    """

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.dialled: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.dialled.append(host)
        return await self._inner.connect_tcp(
            "127.0.0.1", port, timeout=timeout, local_address=local_address
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
