"""The fetcher's connection pool and stream wrappers (bot.pipeline.fetch.pool).

The pool overrides httpcore internals; the `test_upstream_*` tests pin what it
relies on, so an httpcore upgrade that changes them fails here, loudly, and not
as a slow or broken poll in production.
"""

from __future__ import annotations

import inspect
import re
import socket
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpcore
import pytest
from httpcore._async.connection_pool import AsyncPoolRequest

from bot.pipeline.fetch.pool import (
    TESTED_HTTPCORE,
    LinearConnectionPool,
    ProbeCachingStream,
    httpcore_tested,
    pool_class,
)

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

A = httpcore.URL("http://a.test/feed").origin
B = httpcore.URL("http://b.test/feed").origin


@dataclass(eq=False)
class FakeConnection(httpcore.AsyncConnectionInterface):
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


def test_pool_class_is_the_linear_pool_inside_the_tested_range_only() -> None:
    assert httpcore_tested(httpcore.__version__), (
        f"httpcore {httpcore.__version__} is installed but LinearConnectionPool is tested with "
        f"{TESTED_HTTPCORE}: re-run benchmarks/bench_poll_cycle.py and these tests, then move "
        "TESTED_HTTPCORE and the pin in pyproject.toml together"
    )
    assert pool_class() is LinearConnectionPool
    assert pool_class("1.0.8") is httpcore.AsyncConnectionPool
    assert pool_class("1.1.0") is httpcore.AsyncConnectionPool
    assert pool_class("2.0.0.dev1") is httpcore.AsyncConnectionPool
    assert pool_class("1.0.10") is LinearConnectionPool


def test_the_pin_in_pyproject_is_the_tested_range() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (pin,) = [d for d in dependencies if re.match(r"httpcore\b", d)]
    low, high = (".".join(map(str, v)) for v in TESTED_HTTPCORE)
    assert pin == f"httpcore>={low},<{high}"
    assert version("httpcore") == httpcore.__version__


def test_upstream_pool_still_calls_the_hook_we_override() -> None:
    """httpcore's pool runs `_assign_requests_to_connections` when a request
    starts and when a response closes, and closes the connections it returns."""
    from httpcore._async.connection_pool import PoolByteStream

    upstream = httpcore.AsyncConnectionPool
    assert list(inspect.signature(upstream._assign_requests_to_connections).parameters) == ["self"]
    for caller in (upstream.handle_async_request, PoolByteStream.aclose):
        source = inspect.getsource(caller)
        assert "_assign_requests_to_connections()" in source, caller
        assert "_close_connections(closing)" in source, caller


async def test_upstream_pool_state_is_what_the_linear_pool_reads() -> None:
    pool = httpcore.AsyncConnectionPool(max_connections=3, max_keepalive_connections=2)
    assert pool._connections == [] and pool._requests == []
    assert (pool._max_connections, pool._max_keepalive_connections) == (3, 2)
    assert callable(pool.create_connection)
    request = AsyncPoolRequest(httpcore.Request("GET", "http://a.test/"))
    assert request.is_queued() and request.connection is None
    connection = FakeConnection(A)
    request.assign_to_connection(connection)
    assert request.connection is connection and not request.is_queued()
    for name in ("can_handle_request", "is_available", "is_idle", "is_closed", "has_expired"):
        assert callable(getattr(httpcore.AsyncConnectionInterface, name)), name


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
