"""The Notifier contract: how the delivery loop talks to a chat platform.

The delivery loop holds a registry `dict[str, Notifier]` keyed by platform
name and never imports a platform library. Each notifier renders the alert
for its platform, waits for its rate limiter, sends, and maps the platform's
errors to `bot.core.errors` where they enter:

    429                                   → RateLimitedError(retry_after=…)
    5xx, network errors, timeouts         → RetryableDeliveryError
    bot blocked/kicked, chat not found,
    channel_not_found/is_archived/…       → DestinationGoneError
    Telegram group upgraded (new id)      → ChatMigratedError(new_chat_id=…)
    anything else the platform refuses    → PermanentDeliveryError

Retrying is the caller's job; a notifier makes exactly one attempt per call
(after a 429 it also tells its limiter to hold back, so the retry waits).

Three kinds of message go out: an alert (`send`, with its buttons), the
follow-up edit of a posted alert (`update`: more outlets, urgency; the buttons
as they stand, or the answer of the button that replaced them), and a digest
of alerts that waited (`send_digest`, one part per call, split within the
platform's limits by the one splitter in `bot.platforms.render`).
"""

from __future__ import annotations

from typing import Protocol

from bot.core.model import Alert, Destination, Digest, DigestPart, FollowUp


class Notifier(Protocol):
    """Posts alerts and digests to one platform and edits alerts as more outlets report."""

    platform: str
    """`telegram`, `slack` or `console`: the `Destination.platform` it serves."""

    async def send(self, destination: Destination, alert: Alert) -> str:
        """Post the alert (its sources and urgency shown as they stand); return the
        platform's message id (opaque to callers)."""
        ...

    async def update(self, destination: Destination, message_id: str, follow_up: FollowUp) -> None:
        """Edit the posted alert: "also reported by …" with the outlet count, the
        urgent mark, and the buttons or the answer that replaced them. Where the
        platform has threads (Slack) the new sources are also posted in the
        alert's thread. An edit that changes nothing is not an error."""
        ...

    async def send_digest(self, destination: Destination, digest: Digest, part: int) -> DigestPart:
        """Post part `part` (from 0) of the digest; returns its message id and how
        many parts the digest has here. A `part` past the last posts nothing and
        returns an empty id."""
        ...

    async def close(self) -> None:
        """Release connections; the notifier is not used afterwards."""
        ...
