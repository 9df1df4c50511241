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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.core.model import Alert, Destination, Story


class Notifier(Protocol):
    """Posts alerts to one platform and edits them when more sources appear."""

    platform: str
    """`telegram`, `slack` or `console`: the `Destination.platform` it serves."""

    async def send(self, destination: Destination, alert: Alert) -> str:
        """Post the alert; return the platform's message id (opaque to callers)."""
        ...

    async def update(
        self,
        destination: Destination,
        message_id: str,
        alert: Alert,
        extra_sources: Sequence[Story],
    ) -> None:
        """Edit the posted alert to add "also reported by …" for `extra_sources`."""
        ...

    async def close(self) -> None:
        """Release connections; the notifier is not used afterwards."""
        ...
