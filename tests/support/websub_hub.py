"""A loopback WebSub hub (aiohttp.web on 127.0.0.1) that behaves like a real one.

    async with LoopbackHub(lease_seconds=3600) as hub:
        ...                                   # a feed names hub.url as rel="hub"
        await hub.settle()                    # its intent verifications are done
        await hub.publish(topic, body)        # signed content to every subscriber
        await hub.publish(topic, body, forge=True)   # a wrong X-Hub-Signature

Like a real hub (W3C WebSub §5–§8):

- `POST /` takes `hub.mode=subscribe|unsubscribe`, `hub.topic`, `hub.callback`,
  `hub.secret`, `hub.lease_seconds`; a bad request is 400; otherwise it answers
  `202 Accepted` and later verifies the intent: a GET to the callback with
  `hub.mode`, `hub.topic`, a random `hub.challenge` (and `hub.lease_seconds`
  for a subscribe). Only a 2xx whose body is exactly the challenge counts: then
  the subscription is recorded (or, for an unsubscribe, dropped).
- `publish` POSTs content to each verified subscriber of the topic, signed
  `X-Hub-Signature: sha256=<HMAC of the body under its secret>` (any of sha1,
  sha256, sha384, sha512; `forge=True` signs with another secret,
  `unsigned=True` sends no signature) and returns each callback's status.
- `deny` sends a `hub.mode=denied` GET.

Misbehaviour for bad-input tests: `refuse_with` (an HTTP status for every
request), `verify=False` (accepts but never verifies).

Observation: `requests` (every form received), `verifications` (mode,
callback, status, echoed correctly), `subscribers` (verified, by (topic,
callback): secret and lease).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp import web

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256,
               "sha384": hashlib.sha384, "sha512": hashlib.sha512}  # fmt: skip


@dataclass(frozen=True)
class Verification:
    """One intent verification the hub made."""

    mode: str
    callback: str
    status: int
    echoed: bool


@dataclass(frozen=True)
class HubSubscriber:
    """A verified subscription, as the hub keeps it."""

    secret: str | None
    lease_seconds: int


class LoopbackHub:
    """A WebSub hub on 127.0.0.1:<random port>; use as `async with LoopbackHub() as hub`."""

    def __init__(self, *, lease_seconds: int = 3600, verify: bool = True) -> None:
        self.lease_seconds = lease_seconds
        self.verify = verify
        self.refuse_with: int | None = None
        self.requests: list[dict[str, str]] = []
        self.verifications: list[Verification] = []
        self.subscribers: dict[tuple[str, str], HubSubscriber] = {}
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def __aenter__(self) -> LoopbackHub:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.settle()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def settle(self) -> None:
        """Wait until every verification started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def requests_of(self, mode: str) -> list[dict[str, str]]:
        return [form for form in self.requests if form.get("hub.mode") == mode]

    async def _handle(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(form)
        if self.refuse_with is not None:
            return web.Response(status=self.refuse_with, text="this hub refuses today")
        mode, topic, callback = (form.get(f"hub.{k}", "") for k in ("mode", "topic", "callback"))
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return web.Response(status=400, text="hub.mode, hub.topic and hub.callback needed")
        if self.verify:
            task = asyncio.get_running_loop().create_task(self._verify(form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(self.lease_seconds)
        assert self._client is not None
        async with self._client.get(callback, params=params) as response:
            body = await response.text()
            echoed = 200 <= response.status < 300 and body == challenge
            self.verifications.append(Verification(mode, callback, response.status, echoed))
        if not echoed:
            return
        if mode == "subscribe":
            secret = form.get("hub.secret")
            self.subscribers[(topic, callback)] = HubSubscriber(secret, self.lease_seconds)
        else:
            self.subscribers.pop((topic, callback), None)

    async def deny(self, topic: str, callback: str, reason: str) -> int:
        """Tell a subscriber its subscription was denied (§5.2); returns the status."""
        params = {"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason}
        assert self._client is not None
        async with self._client.get(callback, params=params) as response:
            return response.status

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        content_type: str = "application/rss+xml",
        algorithm: str = "sha256",
        forge: bool = False,
        unsigned: bool = False,
    ) -> list[int]:
        """Distribute `body` to every verified subscriber of `topic` (§7, §8); returns
        the status each callback answered."""
        statuses = []
        assert self._client is not None
        for (subscribed, callback), subscriber in list(self.subscribers.items()):
            if subscribed != topic:
                continue
            headers = {"Content-Type": content_type, "Link": f'<{self.url}>; rel="hub"'}
            if not unsigned and subscriber.secret is not None:
                key = b"not the secret" if forge else subscriber.secret.encode()
                digest = hmac.new(key, body, _ALGORITHMS[algorithm]).hexdigest()
                headers["X-Hub-Signature"] = f"{algorithm}={digest}"
            async with self._client.post(callback, data=body, headers=headers) as response:
                statuses.append(response.status)
        return statuses
