"""The console notifier: prints alerts as plain text, e.g. for the demo.

Message ids are a per-notifier counter ("1", "2", …); an update prints the
re-rendered alert with the "also reported by" note under the same id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from bot.model import Alert, Destination, Story
from bot.render import render_console


class ConsoleNotifier:
    """Writes each alert to a text stream (stdout in the service, a buffer in tests)."""

    platform = "console"

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._count = 0

    async def send(self, destination: Destination, alert: Alert) -> str:
        """Print the alert under a header naming the destination; return its number."""
        self._count += 1
        message_id = str(self._count)
        self._write(f"── alert #{message_id} → {destination.chat_id}", render_console(alert))
        return message_id

    async def update(
        self,
        destination: Destination,
        message_id: str,
        alert: Alert,
        extra_sources: Sequence[Story],
    ) -> None:
        """Print the alert again with the later sources, marked as an update."""
        header = f"── alert #{message_id} updated → {destination.chat_id}"
        self._write(header, render_console(alert, extra_sources))

    async def close(self) -> None:
        """Flush the stream; it belongs to the caller, so it stays open."""
        self._stream.flush()

    def _write(self, header: str, body: str) -> None:
        self._stream.write(f"{header}\n{body}\n\n")
        self._stream.flush()
