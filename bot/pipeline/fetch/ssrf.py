"""The SSRF guard: refuse to connect to private, loopback and other internal addresses.

A feed URL is untrusted input (anyone with the admin role, or an OPML import,
can add one), so the fetcher must never be steered into the operator's own
network: cloud metadata at 169.254.169.254, an admin panel on 127.0.0.1, a
database on 10.0.0.5.

Checking the URL's host before the request is not enough: DNS can answer
differently a moment later (rebinding) and a redirect can point anywhere. So
the check lives in `GuardedNetworkBackend`, an httpcore network backend that
resolves the name itself, checks every address it got, and then connects to
one of those checked addresses. Every new connection, including each redirect
hop, goes through it. TLS still verifies against the original host name,
because httpcore passes the URL's host as SNI, not the address we dialled.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpcore

from bot.core.errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves (host, port) to IP address strings; injectable so tests can fake DNS."""

ALLOW_HINT = "set NEWSWATCH_ALLOW_PRIVATE_NETWORKS=true to allow it"

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")


class AddressRefusedError(BlockedAddressError):
    """A connection the guard refused, with the address and why (for re-wording by URL)."""

    def __init__(self, target: str, address: str, reason: str) -> None:
        self.target = target
        self.address = address
        self.reason = reason
        super().__init__(refusal_message(target, address, reason))


def refusal_message(target: str, address: str, reason: str) -> str:
    """The one-line refusal: what we refused, which address, why, and how to allow it."""
    return f"refusing to fetch {target}: {address} is {reason}; {ALLOW_HINT}"


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` must not be fetched from (e.g. "a loopback address"), or None if public.

    IPv6 forms that embed an IPv4 address (mapped, compatible, 6to4, NAT64) are
    judged by the IPv4 address inside, so `::ffff:127.0.0.1` is loopback too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = blocked_reason(embedded)
            return f"{inner} (embedded in {address})" if inner else None
    return _own_reason(address)


def _own_reason(address: IPAddress) -> str | None:
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in _CGNAT, "a shared (CGNAT) address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed_tail = ipaddress.IPv4Address(address.packed[-4:])
    if address in _NAT64:
        return packed_tail
    # ::/96 minus :: and ::1 is the deprecated "IPv4-compatible" form.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return packed_tail
    return None


def literal_address(host: str) -> IPAddress | None:
    """`host` as an IP address if it is one, including the decimal, hex, octal and short
    IPv4 forms (`2130706433`, `0x7f000001`, `0177.1`, `127.1`) that resolvers accept."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and any(ch.isdigit() for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


async def resolve_with_getaddrinfo(host: str, port: int) -> Sequence[str]:
    """Resolve with the system resolver (the default `Resolver`)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore backend that resolves, checks every address, then dials a checked one.

    `inner` does the actual connecting (httpcore's default backend unless a test
    passes another); `resolver` turns names into addresses. With
    `allow_private_networks` the resolution still goes through `resolver` but
    nothing is refused.
    """

    def __init__(
        self,
        *,
        resolver: Resolver = resolve_with_getaddrinfo,
        inner: httpcore.AsyncNetworkBackend | None = None,
        allow_private_networks: bool = False,
    ) -> None:
        self._resolver = resolver
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()
        self._allow_private = allow_private_networks

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable checked address of `host`, or refuse."""
        addresses = await self._checked_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None  # _checked_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are local by definition, so they are always refused."""
        raise BlockedAddressError(f"refusing to connect to unix socket {path}; feeds use TCP")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def _checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        addresses = await self._resolve(host, port)
        if not self._allow_private:
            for address in addresses:
                reason = blocked_reason(address)
                if reason is not None:
                    raise AddressRefusedError(f"{host}:{port}", str(address), reason)
        return addresses

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        try:
            answers = await self._resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"DNS lookup failed for {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers]
        if not addresses:
            raise httpcore.ConnectError(f"DNS lookup failed for {host}: no addresses")
        return addresses
