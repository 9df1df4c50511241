"""Which chat platforms run: chosen from the settings, started and stopped together.

The console notifier is always registered (it prints alerts for console
subscriptions, e.g. in the demo); Telegram and Slack join when their tokens
are configured. Each front-end offers one `start_*(deps)` taking a
`FrontEndDeps` (never the App): it registers its notifier in `deps.notifiers`,
attaches its HTTP route to `deps.routes` (before the server starts) or starts
its long-poll / Socket Mode connection, and returns the coroutine function
that stops it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from bot.platforms.console import ConsoleNotifier
from bot.platforms.frontend import FrontEndDeps, Stopper
from bot.service.app import App
from bot.service.http import HttpServer


@dataclass
class RunningPlatforms:
    """Stop functions of the started platform front-ends."""

    stoppers: list[Stopper] = field(default_factory=list)

    async def stop(self) -> None:
        for stop in reversed(self.stoppers):
            await stop()


async def start_platforms(app: App, http: HttpServer) -> RunningPlatforms:
    """Register the notifiers and start the chat front-ends that are configured."""
    app.notifiers.setdefault("console", ConsoleNotifier(stream=sys.stdout))
    running = RunningPlatforms()
    deps = frontend_deps(app, http)
    if app.settings.telegram_enabled:
        from bot.platforms.telegram.app import start_telegram

        running.stoppers.append(await start_telegram(deps))
    if app.settings.slack_enabled:
        from bot.platforms.slack.app import start_slack

        running.stoppers.append(await start_slack(deps))
    return running


def frontend_deps(app: App, http: HttpServer) -> FrontEndDeps:
    """What the chat front-ends get of the running app."""
    return FrontEndDeps(
        settings=app.settings,
        store=app.store,
        rulebook=app.rulebook,
        clock=app.pipeline.clock,
        owner=app.pipeline.config.owner,
        notifiers=app.notifiers,
        routes=http,
    )
