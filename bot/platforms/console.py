"""The console notifier: prints alerts as plain text, e.g. for the demo.

Message ids are a per-notifier counter ("1", "2", …); an update prints the
re-rendered alert with the "also reported by" note under the same id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from bot.core.model import Alert, Destination, Story
from bot.platforms.render import (
    clean_text,
    fit_text,
    published_label,
    render_sources_note,
    rule_lines,
    safe_url,
)


def render_console(alert: Alert, extra_sources: Sequence[Story] = ()) -> str:
    """The alert as plain text for a terminal: what a person would read in chat."""
    story = alert.story
    lines = [
        fit_text(clean_text(story.title) or "Untitled", 300),
        f"{fit_text(clean_text(story.publisher), 120)} · {published_label(story.published)}",
    ]
    link = safe_url(story.url)
    if link:
        lines.append(link)
    summary = fit_text(clean_text(alert.summary), 2000)
    if summary:
        lines += ["", summary]
    rules = rule_lines(alert.matches)
    if rules:
        lines.append("")
    for rule, reason in rules:
        lines.append(f"Matched {rule}: {fit_text(reason, 300)}" if reason else f"Matched {rule}")
    note = render_sources_note(extra_sources)
    if note:
        lines += ["", note]
    return "\n".join(lines)


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
