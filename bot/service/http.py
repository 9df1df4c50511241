"""The one HTTP server of a running newswatch.

It carries `/healthz`, `/metrics`, the WebSub callbacks `/websub/<id>` and
whatever the chat platforms attach: Slack's HTTP mode at `/slack/events` and
the Telegram webhook at `/telegram/webhook`.

- `/metrics` is prometheus-client's text exposition of `bot.core.metrics.REGISTRY`;
  the current-state gauges are read from the store just before.
- `/healthz` answers 200 with a small JSON when the database answers and every
  scheduler job has ticked recently (`bot.service.heartbeat`), otherwise 503
  with the reasons, one line each.
- `/websub/<id>` (`bot.pipeline.subscribe.Subscriber`): a hub's GET verifies our
  intent (the challenge echoed, or 404 for what we did not ask for); its POST
  brings content, read up to NEWSWATCH_MAX_FEED_BYTES and answered 2xx for any
  known id (bad signatures are counted and ignored), 404 for an unknown one.
  Without NEWSWATCH_PUBLIC_URL every callback is 404.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.core import metrics
from bot.core.errors import ConfigError
from bot.pipeline.health import collect_status
from bot.platforms.frontend import Handler
from bot.service.app import App
from bot.service.heartbeat import Heartbeat

DATABASE_TIMEOUT_SECONDS = 5.0


class HttpServer:
    """An aiohttp server bound to the configured host and port."""

    def __init__(self, app: App, heartbeat: Heartbeat | None = None) -> None:
        self._app = app
        self._heartbeat = heartbeat
        self.web = web.Application()
        self.web.router.add_get("/healthz", self._healthz)
        self.web.router.add_get("/metrics", self._metrics)
        self.web.router.add_get("/websub/{callback_id}", self._websub_verify)
        self.web.router.add_post("/websub/{callback_id}", self._websub_content)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Attach a platform endpoint (before `start`)."""
        self.web.router.add_route(method, path, handler)

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as err:
            await self._runner.cleanup()
            reason = (err.strerror or str(err)).lower()
            raise ConfigError(
                f"cannot listen on {host}:{port}: {reason} — set NEWSWATCH_HTTP_HOST and"
                " NEWSWATCH_HTTP_PORT to an address of this machine and a free port"
            ) from None
        self.port = int(self._runner.addresses[0][1])  # the bound port, also when `port` is 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok"}
        problems: list[str] = []
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
                body["last_poll"] = await self._app.store.get_meta("last_poll_at")
        except Exception as err:  # any failure to answer is the finding, not a crash
            problems.append(f"database: {_one_line(err)}")
        if self._heartbeat is not None:
            body["ticks_ago_seconds"] = self._heartbeat.ages()
            problems += self._heartbeat.problems()
        body["rules"] = len(self._app.rulebook.rules)
        if problems:
            body.update(status="unhealthy", problems=problems)
            return web.json_response(body, status=503)
        return web.json_response(body)

    async def _metrics(self, request: web.Request) -> web.Response:
        status = await collect_status(self._app.store)
        metrics.set_current(
            feeds=len(status.feeds),
            failing=len(status.failing),
            outbox=status.queue_length,
            rules=len(self._app.rulebook.rules),
            invalid_rules=len(self._app.rulebook.errors),
        )
        return web.Response(
            body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _websub_verify(self, request: web.Request) -> web.Response:
        subscriber = self._app.subscriber
        callback_id = request.match_info["callback_id"]
        answer = None
        if subscriber is not None:
            answer = await subscriber.verify(callback_id, dict(request.query))
        if answer is None:
            return web.Response(status=404, text="no such subscription")
        return web.Response(text=answer, content_type="text/plain")

    async def _websub_content(self, request: web.Request) -> web.Response:
        subscriber = self._app.subscriber
        if subscriber is None:
            return web.Response(status=404, text="no such subscription")
        body, oversized = await _read_capped(request, subscriber.max_body_bytes)
        known = await subscriber.receive(
            request.match_info["callback_id"],
            signature=request.headers.get("X-Hub-Signature"),
            body=body,
            content_type=request.headers.get("Content-Type"),
            oversized=oversized,
        )
        if not known:
            return web.Response(status=404, text="no such subscription")
        return web.Response(status=202)


async def _read_capped(request: web.Request, limit: int) -> tuple[bytes, bool]:
    """The request body if it is at most `limit` bytes, else (b"", True): the rest is not
    read (nor kept in memory)."""
    if request.content_length is not None and request.content_length > limit:
        return b"", True
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def _one_line(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return f"no answer within {DATABASE_TIMEOUT_SECONDS:g} s"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
