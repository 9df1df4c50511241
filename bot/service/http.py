"""The one HTTP server of a running newswatch.

It carries `/healthz` and `/metrics` and whatever the chat platforms attach:
Slack's HTTP mode at `/slack/events` and the Telegram webhook at
`/telegram/webhook`.

- `/metrics` is prometheus-client's text exposition of `bot.core.metrics.REGISTRY`;
  the current-state gauges are read from the store just before.
- `/healthz` answers 200 with a small JSON when the database answers and every
  scheduler job has ticked recently (`bot.service.heartbeat`), otherwise 503
  with the reasons, one line each.
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


def _one_line(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return f"no answer within {DATABASE_TIMEOUT_SECONDS:g} s"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
