"""The console notifier: prints alerts as plain text, e.g. for the demo.

Message ids are a per-notifier counter ("1", "2", …); an update prints the
re-rendered alert with the "also reported by" note under the same id, and a
digest prints as one message (a terminal has no length limit).
"""

from __future__ import annotations

from typing import TextIO

from bot.core.model import Alert, Destination, Digest, DigestPart, FollowUp
from bot.platforms.render import (
    DIGEST_SUMMARY,
    clean_text,
    digest_heading,
    fit_text,
    published_label,
    render_sources_note,
    rule_lines,
    safe_url,
    urgent_label,
)


def render_console(alert: Alert, *, outcome: str | None = None) -> str:
    """The alert as plain text for a terminal: what a person would read in chat."""
    story = alert.story
    urgent = urgent_label(alert)
    lines = [f"[{urgent}]"] if urgent else []
    lines += [
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
    note = render_sources_note(alert)
    if note:
        lines += ["", note]
    if outcome and clean_text(outcome):
        lines += ["", fit_text(clean_text(outcome), 300)]
    return "\n".join(lines)


def render_console_digest(digest: Digest) -> str:
    """The digest as plain text: the heading, then each story with its link and summary."""
    lines = [digest_heading(digest)]
    for number, alert in enumerate(digest.alerts, 1):
        story = alert.story
        mark = f"[{urgent_label(alert)}] " if alert.urgent else ""
        lines += ["", f"{number}. {mark}{fit_text(clean_text(story.title) or 'Untitled', 300)}"]
        lines.append(
            f"{fit_text(clean_text(story.publisher), 120)} · {published_label(story.published)}"
        )
        link = safe_url(story.url)
        if link:
            lines.append(link)
        summary = fit_text(clean_text(alert.summary), DIGEST_SUMMARY)
        if summary:
            lines.append(summary)
        note = render_sources_note(alert)
        if note:
            lines.append(note)
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

    async def update(self, destination: Destination, message_id: str, follow_up: FollowUp) -> None:
        """Print the alert again with the later sources, marked as an update."""
        header = f"── alert #{message_id} updated → {destination.chat_id}"
        self._write(header, render_console(follow_up.alert, outcome=follow_up.outcome))

    async def send_digest(self, destination: Destination, digest: Digest, part: int) -> DigestPart:
        """Print the digest as one message."""
        if part >= 1:
            return DigestPart("", 1)
        self._count += 1
        message_id = str(self._count)
        self._write(
            f"── digest #{message_id} → {destination.chat_id}", render_console_digest(digest)
        )
        return DigestPart(message_id, 1)

    async def close(self) -> None:
        """Flush the stream; it belongs to the caller, so it stays open."""
        self._stream.flush()

    def _write(self, header: str, body: str) -> None:
        self._stream.write(f"{header}\n{body}\n\n")
        self._stream.flush()
