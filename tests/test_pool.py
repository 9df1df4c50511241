"""The fetcher's connection pool and stream wrappers (bot.pipeline.fetch.transport)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import pytest
from httpcore._async.connection_pool import AsyncPoolRequest
from httpcore._async.interfaces import AsyncConnectionInterface

from bot.pipeline.fetch.transport import (
    LinearConnectionPool,
    ProbeCachingStream,
    pool_class,
)

A = httpcore.URL("http://a.test/feed").origin
B = httpcore.URL("http://b.test/feed").origin


@dataclass(eq=False)
class FakeConnection(AsyncConnectionInterface):
    """Just the state the pool's bookkeeping asks about."""

    origin: httpcore.Origin
    state: str = "idle"  # idle, active, new or closed
    expired: bool = False
    probes: int = 0

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.state == "idle"

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_closed(self) -> bool:
        return self.state == "closed"

    def has_expired(self) -> bool:
        self.probes += 1
        return self.expired


def make_pool(connections: list[FakeConnection], *, limit: int = 2) -> LinearConnectionPool:
    pool = LinearConnectionPool(max_connections=limit, max_keepalive_connections=limit)
    pool._connections = list(connections)
    pool.create_connection = lambda origin: FakeConnection(origin, "new")  # type: ignore[method-assign]
    return pool


def queue(pool: LinearConnectionPool, *urls: str) -> list[AsyncPoolRequest]:
    requests = [AsyncPoolRequest(httpcore.Request("GET", url)) for url in urls]
    pool._requests.extend(requests)
    return requests


async def test_an_idle_connection_goes_to_one_queued_request_only() -> None:
    idle = FakeConnection(A)
    pool = make_pool([idle], limit=1)
    first, second = queue(pool, "http://a.test/1", "http://a.test/2")
    assert pool._assign_requests_to_connections() == []
    assert first.connection is idle
    assert second.is_queued()


async def test_new_connections_up_to_the_limit_then_requests_wait() -> None:
    pool = make_pool([], limit=2)
    requests = queue(pool, "http://a.test/1", "http://a.test/2", "http://a.test/3")
    pool._assign_requests_to_connections()
    assert [r.connection is not None for r in requests] == [True, True, False]
    assert requests[0].connection is not requests[1].connection
    assert len(pool.connections) == 2


async def test_closed_are_forgotten_expired_are_closed_reserved_are_left_alone() -> None:
    closed = FakeConnection(A, "closed")
    expired = FakeConnection(A, expired=True)
    reserved = FakeConnection(B, expired=True)
    pool = make_pool([closed, expired, reserved], limit=3)
    (waiting,) = queue(pool, "http://b.test/1")
    waiting.assign_to_connection(reserved)  # handed over, request not sent yet
    assert pool._assign_requests_to_connections() == [expired]
    assert pool.connections == [reserved]
    assert reserved.probes == 0


async def test_at_the_limit_an_idle_connection_to_another_host_makes_room() -> None:
    other = FakeConnection(B)
    busy = FakeConnection(A, "active")
    pool = make_pool([busy, other], limit=2)
    (request,) = queue(pool, "http://a.test/1")
    assert pool._assign_requests_to_connections() == [other]
    assert request.connection not in (busy, other)
    assert request.connection is not None and request.connection.can_handle_request(A)


async def test_surplus_idle_connections_are_closed() -> None:
    connections = [FakeConnection(A) for _ in range(3)]
    pool = LinearConnectionPool(max_connections=3, max_keepalive_connections=1)
    pool._connections = list(connections)
    assert pool._assign_requests_to_connections() == connections[:2]
    assert pool.connections == connections[2:]


def test_pool_class_is_the_linear_pool_on_httpcore_1() -> None:
    assert httpcore.__version__.startswith("1.")
    assert pool_class() is LinearConnectionPool


@dataclass
class SocketStream(httpcore.AsyncNetworkStream):
    """A stream that only answers get_extra_info, like the tests' fake backends."""

    sock: socket.socket | None

    def get_extra_info(self, info: str) -> Any:
        return {"socket": self.sock, "is_readable": "inner answer"}.get(info)


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_probe_is_readable_after_data_or_peer_close(
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = socket_pair
    stream = ProbeCachingStream(SocketStream(ours))
    assert stream.get_extra_info("is_readable") is False
    theirs.close()
    assert stream.get_extra_info("is_readable") is True
    ours.close()
    assert stream.get_extra_info("is_readable") is True


def test_probe_asks_the_inner_stream_when_it_has_no_socket() -> None:
    stream = ProbeCachingStream(SocketStream(None))
    assert stream.get_extra_info("is_readable") == "inner answer"
    assert stream.get_extra_info("socket") is None
