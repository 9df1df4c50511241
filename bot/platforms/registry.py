"""Which chat platforms run: chosen from the settings, started and stopped together.

The console notifier is always registered (it prints alerts for console
subscriptions, e.g. in the demo); Telegram and Slack join when their tokens
are configured. Each front-end module offers one `start_*(app, http)` that
registers its notifier in `app.notifiers`, attaches its HTTP routes (before
the server starts) or starts its long-poll / Socket Mode connection, and
returns the coroutine function that stops it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.app import App
from bot.http import HttpServer
from bot.platforms.console import ConsoleNotifier

Stopper = Callable[[], Awaitable[None]]


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
    if app.settings.telegram_enabled:
        from bot.platforms.telegram_bot import start_telegram

        running.stoppers.append(await start_telegram(app, http))
    if app.settings.slack_enabled:
        from bot.platforms.slack_app import start_slack

        running.stoppers.append(await start_slack(app, http))
    return running
