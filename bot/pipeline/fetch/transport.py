"""The fetcher's transport: httpx's public transport seam around an SSRF-guarded pool.

httpx has no public way to give `AsyncHTTPTransport` another network backend,
so instead of replacing its private `_pool` we implement the documented
extension point, `httpx.AsyncBaseTransport.handle_async_request`, around an
httpcore pool of our own (the same thing `AsyncHTTPTransport` does inside):

    httpx.AsyncClient ─▶ GuardedTransport ─▶ pool (bot.pipeline.fetch.pool)
                       ─▶ GuardedNetworkBackend (SSRF check, bot.pipeline.fetch.ssrf)
                       ─▶ ProbeCachingBackend ─▶ httpcore's AnyIO backend

httpcore's exceptions are mapped to httpx's here, where they enter, so the
fetcher only ever sees `httpx.HTTPError` (and the guard's `BlockedAddressError`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from bot.pipeline.fetch.pool import ProbeCachingBackend, pool_class
from bot.pipeline.fetch.ssrf import GuardedNetworkBackend, Resolver

# Most specific first: the first match wins.
_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def httpcore_errors_as_httpx() -> Iterator[None]:
    """Re-raise an httpcore exception as the matching httpx one (cause kept)."""
    try:
        yield
    except Exception as exc:
        mapped = next((to for source, to in _HTTPCORE_ERRORS if isinstance(exc, source)), None)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


class _ResponseStream(httpx.AsyncByteStream):
    """An httpcore response body as an httpx stream, with errors mapped."""

    def __init__(self, inner: httpcore.Response) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpcore_errors_as_httpx():
            async for chunk in self._inner.aiter_stream():
                yield chunk

    async def aclose(self) -> None:
        with httpcore_errors_as_httpx():
            await self._inner.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends every request through `pool`."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with httpcore_errors_as_httpx():
            response = await self.pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


def guarded_transport(
    *,
    connections: int,
    allow_private_networks: bool,
    resolver: Resolver,
    dialler: httpcore.AsyncNetworkBackend | None = None,
) -> GuardedTransport:
    """A transport of `connections` HTTP/1.1 connections, each dialled through the
    SSRF guard (`dialler` under it: httpcore's AnyIO backend unless a test passes
    another), with streams that answer keep-alive probes cheaply."""
    guard = GuardedNetworkBackend(
        resolver=resolver,
        inner=ProbeCachingBackend(dialler or httpcore.AnyIOBackend()),
        allow_private_networks=allow_private_networks,
    )
    pool = pool_class()(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=5.0,
        network_backend=guard,
    )
    return GuardedTransport(pool)
