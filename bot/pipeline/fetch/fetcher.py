"""Fetch one feed over HTTP: conditional, size-capped, deadline-bound and SSRF-guarded.

`make_http_client` builds the `httpx.AsyncClient` (SSRF guard in the transport,
redirects not auto-followed); `Fetcher.fetch` does one conditional GET, follows
redirects itself (each hop connects through the guard again), streams the body
under a byte cap and maps every httpx/network failure to `FetchError` with a
one-line reason. Concurrency is bounded per host and globally, per-host first,
so a slow host only queues its own feeds.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from bot.core import metrics
from bot.core.errors import FetchError, ResponseTooLargeError
from bot.core.model import FeedResponse, FeedState
from bot.pipeline.fetch.decode import BoundedDecoder, DecodeBudgetExceeded, UnsupportedEncoding
from bot.pipeline.fetch.ssrf import AddressRefusedError, Resolver, resolve_with_getaddrinfo
from bot.pipeline.fetch.transport import guarded_transport

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DRAIN_BYTES = 64 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How long, how much and how many at once the fetcher may fetch."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 20.0
    """Deadline for the whole fetch, redirects and body included."""
    max_bytes: int = 10 * 1024 * 1024
    """Cap on the body after decompression."""
    max_redirects: int = 5
    per_host_concurrency: int = 2
    per_host_spacing: float = 0.25
    """Seconds at least between the starts of two fetches from one host (host:port)."""
    global_concurrency: int = 50
    allow_private_networks: bool = False
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch)"

    def __post_init__(self) -> None:
        if not 0 < self.total_timeout <= 20:
            raise ValueError(f"total_timeout must be in (0, 20] s, got {self.total_timeout}")
        if self.per_host_concurrency < 1 or self.global_concurrency < 1:
            raise ValueError("per_host_concurrency and global_concurrency must be at least 1")
        if not 0 <= self.per_host_spacing <= 60:
            raise ValueError(f"per_host_spacing must be in [0, 60] s, got {self.per_host_spacing}")


def make_http_client(
    limits: FetchLimits,
    *,
    resolver: Resolver = resolve_with_getaddrinfo,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The client the fetcher needs: SSRF guard at connect time, no auto-redirects.

    `resolver` and `network_backend` (the dialler under the guard) are for tests;
    production passes neither. Environment proxies are ignored (trust_env=False)
    because a proxy would make the guard check the proxy instead of the target.
    The transport is `bot.pipeline.fetch.transport.GuardedTransport`.
    """
    transport = guarded_transport(
        connections=limits.global_concurrency,
        allow_private_networks=limits.allow_private_networks,
        resolver=resolver,
        dialler=network_backend,
    )
    timeout = httpx.Timeout(
        connect=limits.connect_timeout,
        read=limits.read_timeout,
        write=limits.read_timeout,
        pool=limits.total_timeout,
    )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        timeout=timeout,
        headers={"User-Agent": limits.user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,
    )


class Fetcher:
    """Fetches feeds with the injected client, within `limits`."""

    def __init__(self, client: httpx.AsyncClient, limits: FetchLimits | None = None) -> None:
        self._client = client
        self._limits = limits if limits is not None else FetchLimits()
        self._global = asyncio.Semaphore(self._limits.global_concurrency)
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}
        self._next_start: dict[str, float] = {}
        """host → the loop time before which no fetch from it may start."""

    async def fetch(self, url: str, state: FeedState, now: datetime) -> FeedResponse:
        """GET `url` conditionally (ETag/Last-Modified from `state`).

        Returns a 200 response with its body, or a 304 with an empty body.
        Raises `FetchError` (or its `BlockedAddressError`/`ResponseTooLargeError`)
        with a one-line reason, `status` and `retry_after` for anything else.
        """
        try:
            response = await self._get(url, state, now, metrics.FETCH_SECONDS.time())
        except FetchError:
            metrics.FETCHES.labels("failed").inc()
            raise
        metrics.FETCHES.labels("not_modified" if response.not_modified else "fetched").inc()
        return response

    async def fetch_page(self, url: str, now: datetime) -> FeedResponse:
        """GET a web page (not a feed: unconditional, not counted in the feed metrics),
        with the same guard, limits and errors as `fetch`."""
        return await self._get(url, FeedState(), now)

    async def _get(
        self,
        url: str,
        state: FeedState,
        now: datetime,
        timer: AbstractContextManager[object] | None = None,
    ) -> FeedResponse:
        """The fetch once a host and a global slot are free (`timer` runs from then)."""
        host = _checked_host(url)
        async with self._host_slot(host), self._global:
            try:
                with timer or nullcontext():
                    async with asyncio.timeout(self._limits.total_timeout):
                        return await self._follow(url, state, now)
            except TimeoutError:
                raise FetchError(f"timed out after {self._limits.total_timeout:g} s") from None

    @asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        semaphore, users = self._hosts.get(host, (None, 0))
        if semaphore is None:
            semaphore = asyncio.Semaphore(self._limits.per_host_concurrency)
        self._hosts[host] = (semaphore, users + 1)
        try:
            async with semaphore:
                await self._spaced(host)
                yield
        finally:
            semaphore, users = self._hosts[host]
            if users <= 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (semaphore, users - 1)

    async def _spaced(self, host: str) -> None:
        """Wait for this host's next start slot, reserving it (`per_host_spacing`)."""
        spacing = self._limits.per_host_spacing
        if spacing <= 0:
            return
        now = asyncio.get_running_loop().time()
        if len(self._next_start) > _SPACING_ENTRIES:  # forget hosts whose slot has passed
            self._next_start = {h: t for h, t in self._next_start.items() if t > now}
        start = max(now, self._next_start.get(host, now))
        self._next_start[host] = start + spacing
        if start > now:
            await asyncio.sleep(start - now)

    async def _follow(self, url: str, state: FeedState, now: datetime) -> FeedResponse:
        current = url
        for _hop in range(self._limits.max_redirects + 1):
            result = await self._get_once(url, current, state, now)
            if isinstance(result, FeedResponse):
                return result
            current = result
        raise FetchError(
            f"too many redirects (more than {self._limits.max_redirects}) starting at {url}"
        )

    async def _get_once(
        self, url: str, current: str, state: FeedState, now: datetime
    ) -> FeedResponse | str:
        """One request: a final response, or the next URL to go to after a redirect."""
        try:
            async with self._client.stream(
                "GET", current, headers=_conditional_headers(state)
            ) as response:
                return await self._interpret(url, current, response, now)
        except AddressRefusedError as exc:
            raise AddressRefusedError(current, exc.address, exc.reason) from None
        except httpx.HTTPError as exc:
            raise FetchError(self._describe(exc)) from exc

    async def _interpret(
        self, url: str, current: str, response: httpx.Response, now: datetime
    ) -> FeedResponse | str:
        status = response.status_code
        location = response.headers.get("location")
        if status in REDIRECT_STATUSES and location:
            await _drain_small_body(response)
            return _redirect_target(current, location)
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        if status == 304 or 200 <= status < 300:
            # A 304 has no body, but reading to its end is what lets httpcore
            # keep the connection: an unread response closes it.
            body = await self._read_capped(response, current)
            return _feed_response(url, current, response, body, now, retry_after)
        reason = response.reason_phrase or "error"
        raise FetchError(
            f"HTTP {status} {reason} from {current}", status=status, retry_after=retry_after
        )

    async def _read_capped(self, response: httpx.Response, current: str) -> bytes:
        cap = self._limits.max_bytes
        too_large = ResponseTooLargeError(
            f"response from {current} is larger than {cap} bytes after decompression; refused",
            status=response.status_code,
        )
        declared = response.headers.get("content-length", "")
        compressed = "content-encoding" in response.headers
        if not compressed and declared.isdigit() and int(declared) > cap:
            raise too_large
        chunks: list[bytes] = []
        # The raw stream through one budget for every Content-Encoding layer (decode.py):
        # no layer inflates past the cap, however the layers are stacked.
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding"), cap)
            async for chunk in response.aiter_raw():
                chunks.append(decoder.decode(chunk))
            chunks.append(decoder.flush())
        except DecodeBudgetExceeded:
            raise too_large from None
        except UnsupportedEncoding as err:
            raise FetchError(
                f"could not decompress the response from {current}: {err}",
                status=response.status_code,
            ) from None
        return b"".join(chunks)

    def _describe(self, exc: httpx.HTTPError) -> str:
        limits = self._limits
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timed out after {limits.connect_timeout:g} s"
        if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
            return f"read timed out after {limits.read_timeout:g} s"
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {limits.total_timeout:g} s"
        if isinstance(exc, httpx.DecodingError):
            return f"could not decompress the response: {exc}"
        return describe_network_error(exc)


def describe_network_error(exc: BaseException) -> str:
    """A one-line reason for a network failure, from the causes httpx wraps."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    for cause in seen:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {getattr(cause, 'reason', None) or cause}"
    text = str(exc).strip().splitlines()
    detail = text[0] if text else type(exc).__name__
    if "refused" in detail.lower():
        return "connection refused"
    if "SSL" in detail or "certificate" in detail:
        return f"TLS error: {detail}"
    return detail


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def parse_max_age(value: str | None) -> float | None:
    """`Cache-Control: max-age` in seconds, or None."""
    match = _MAX_AGE.search(value or "")
    return float(match.group(1)) if match else None


_SPACING_ENTRIES = 4096


def _checked_host(url: str) -> str:
    """The URL's host and, when not the scheme's default, port: what the per-host
    limits count (two servers on one address are two hosts)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid feed URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"refusing to fetch {url!r}: only http:// and https:// URLs are fetched")
    return parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"


async def _drain_small_body(response: httpx.Response) -> None:
    """Read a redirect's body when it is declared small, so the connection is
    reused for the next hop (usually the same host); others are just closed."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= _DRAIN_BYTES:
        await response.aread()


def _redirect_target(current: str, location: str) -> str:
    try:
        target = httpx.URL(current).join(location)
    except httpx.InvalidURL as exc:
        raise FetchError(f"bad redirect from {current} to {location!r}: {exc}") from None
    if target.scheme not in ("http", "https"):
        raise FetchError(f"refusing redirect from {current} to {location!r}: not http(s)")
    return str(target)


def _conditional_headers(state: FeedState) -> dict[str, str]:
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _feed_response(
    url: str,
    current: str,
    response: httpx.Response,
    body: bytes,
    now: datetime,
    retry_after: float | None,
) -> FeedResponse:
    headers = response.headers
    return FeedResponse(
        url=url,
        final_url=current,
        status=response.status_code,
        body=body,
        fetched_at=now,
        content_type=headers.get("content-type"),
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        max_age_seconds=parse_max_age(headers.get("cache-control")),
        retry_after_seconds=retry_after,
        link=", ".join(headers.get_list("link")) or None,
    )
