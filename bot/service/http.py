"""The one HTTP server of a running newswatch.

It carries `/healthz` and `/metrics` (Prometheus text format) and whatever the
chat platforms attach: Slack's HTTP mode at `/slack/events` and the Telegram
webhook at `/telegram/webhook`.
"""

from __future__ import annotations

from aiohttp import web

from bot.pipeline.health import collect_status
from bot.platforms.frontend import Handler
from bot.service.app import App


class HttpServer:
    """An aiohttp server bound to the configured host and port."""

    def __init__(self, app: App) -> None:
        self._app = app
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
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "rules": len(self._app.rulebook.rules)})

    async def _metrics(self, request: web.Request) -> web.Response:
        status = await collect_status(self._app.store)
        lines = [
            "# TYPE newswatch_feeds gauge",
            f"newswatch_feeds {len(status.feeds)}",
            "# TYPE newswatch_feeds_failing gauge",
            f"newswatch_feeds_failing {len(status.failing)}",
            "# TYPE newswatch_outbox_pending gauge",
            f"newswatch_outbox_pending {status.queue_length}",
            "# TYPE newswatch_rules gauge",
            f"newswatch_rules {len(self._app.rulebook.rules)}",
            "# TYPE newswatch_rules_invalid gauge",
            f"newswatch_rules_invalid {len(self._app.rulebook.errors)}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
