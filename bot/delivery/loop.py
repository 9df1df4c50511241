"""The delivery loop: outbox rows → platform notifiers, within limits, retried.

Each pass claims due rows (at most one per destination, so order is kept per
chat), sends them concurrently through the notifier registered for their
platform, and records the outcome:

| outcome                      | what happens to the row                          |
|------------------------------|--------------------------------------------------|
| sent                         | marked sent with the platform's message id       |
| RateLimitedError (429)       | retried after `retry_after`; never dead-lettered |
| RetryableDeliveryError       | retried with backoff and jitter; dead after `max_attempts` |
| ChatMigratedError            | subscriptions and rows move to the new chat id; retried at once |
| DestinationGoneError         | the destination's subscriptions paused with the reason; row waits |
| PermanentDeliveryError       | dead-lettered (shown by `status`)                 |
| no notifier for the platform | retried later (the platform may be configured on restart) |

A crash mid-send leaves the row leased; when the lease expires it is sent
again, so delivery is at-least-once and rows are never lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core import metrics
from bot.core.errors import (
    ChatMigratedError,
    DeliveryError,
    DestinationGoneError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
)
from bot.core.model import Destination, OutboxItem
from bot.delivery.notifier import Notifier
from bot.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard the loop tries."""

    owner: str = "newswatch"
    batch_size: int = 200
    lease_seconds: float = 120.0
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 900.0
    no_notifier_retry_seconds: float = 300.0
    concurrency: int = 100


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    paused: int = 0


@dataclass
class Deliverer:
    """Sends outbox rows through a registry of notifiers keyed by platform."""

    store: Store
    notifiers: Mapping[str, Notifier]
    policy: DeliveryPolicy
    clock: Callable[[], datetime]
    rng: random.Random = field(default_factory=random.Random)

    async def deliver_once(self) -> DeliveryReport:
        """Claim one batch of due rows and try each once."""
        now = self.clock()
        items = await self.store.claim_outbox(
            now,
            limit=self.policy.batch_size,
            owner=self.policy.owner,
            lease_seconds=self.policy.lease_seconds,
        )
        gate = asyncio.Semaphore(self.policy.concurrency)

        async def send(item: OutboxItem) -> str:
            async with gate:
                return await self.deliver_item(item)

        outcomes = await asyncio.gather(*(send(item) for item in items))
        return DeliveryReport(
            sent=outcomes.count("sent"),
            retried=outcomes.count("retried"),
            dead=outcomes.count("dead"),
            paused=outcomes.count("paused"),
        )

    async def deliver_pending(self, *, max_passes: int = 10_000) -> DeliveryReport:
        """Run passes until nothing is due now (used by the demo and tests)."""
        total = DeliveryReport()
        for _ in range(max_passes):
            report = await self.deliver_once()
            total = DeliveryReport(
                total.sent + report.sent,
                total.retried + report.retried,
                total.dead + report.dead,
                total.paused + report.paused,
            )
            if report == DeliveryReport():
                break
        return total

    async def deliver_item(self, item: OutboxItem) -> str:
        """Send one row and record the outcome; returns sent/retried/dead/paused."""
        platform = item.destination.platform
        notifier = self.notifiers.get(platform)
        if notifier is None:
            error = f"no notifier configured for platform {platform!r}"
            await self._retry(item, error, self.policy.no_notifier_retry_seconds)
            metrics.DELIVERIES.labels(platform, "no_notifier").inc()
            return "retried"
        try:
            with metrics.DELIVERY_SECONDS.time():
                message_id = await notifier.send(item.destination, item.alert)
        except (RateLimitedError, RetryableDeliveryError, PermanentDeliveryError) as err:
            failure: DeliveryError = err
        except Exception as err:  # a notifier bug must not stop the loop
            log.exception("notifier %s crashed on outbox row %s", notifier.platform, item.id)
            failure = RetryableDeliveryError(repr(err))
        else:
            await self.store.mark_sent(item.id, message_id=message_id, at=self.clock())
            metrics.DELIVERIES.labels(platform, "sent").inc()
            return "sent"
        outcome = await self._record_failure(item, failure)
        metrics.DELIVERIES.labels(platform, metric_outcome(failure, outcome)).inc()
        return outcome

    async def _record_failure(self, item: OutboxItem, err: DeliveryError) -> str:
        dest = item.destination
        if isinstance(err, RateLimitedError):
            await self._retry(item, str(err), err.retry_after or 1.0)
            return "retried"
        if isinstance(err, RetryableDeliveryError):
            if item.attempts + 1 >= self.policy.max_attempts:
                return await self._dead(item, f"gave up after {item.attempts + 1} attempts: {err}")
            delay = err.retry_after or self.backoff_seconds(item.attempts)
            await self._retry(item, str(err), delay)
            return "retried"
        if isinstance(err, ChatMigratedError):
            new = Destination(dest.platform, err.new_chat_id)
            log.info("chat %s migrated to %s", dest, new)
            await self.store.migrate_destination(dest, new)
            await self._retry(item, str(err), 0.0)
            return "retried"
        if isinstance(err, DestinationGoneError):
            log.warning("pausing %s: %s", dest, err)
            await self.store.pause_destination(dest, str(err))
            await self._retry(item, str(err), 0.0)
            return "paused"
        return await self._dead(item, str(err))

    async def _retry(self, item: OutboxItem, error: str, delay_seconds: float) -> None:
        now = self.clock()
        await self.store.mark_retry(
            item.id, error=error, next_attempt_at=now + timedelta(seconds=delay_seconds), at=now
        )

    async def _dead(self, item: OutboxItem, error: str) -> str:
        log.error("dead letter: outbox row %s to %s: %s", item.id, item.destination, error)
        await self.store.mark_dead(item.id, error=error, at=self.clock())
        return "dead"

    def backoff_seconds(self, attempts: int) -> float:
        """Exponential backoff with full jitter, capped."""
        ceiling = min(
            self.policy.backoff_cap_seconds, self.policy.backoff_base_seconds * 2**attempts
        )
        return self.rng.uniform(ceiling / 2, ceiling)


def metric_outcome(error: DeliveryError, outcome: str) -> str:
    """The `newswatch_deliveries_total` outcome of a failed send."""
    if outcome == "dead":
        return "failed"
    if isinstance(error, RateLimitedError):
        return "rate_limited"
    if isinstance(error, DestinationGoneError):
        return "gone"
    return "retry"
