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

A digest is posted part by part, each part recorded as it goes, so a retry
goes on from the first part not posted. A follow-up edit that fails is
retried with backoff (after `retry_after` for a 429); when it cannot be done
(the message is gone, too old to edit, the chat left) it is given up and the
alert stays as it was: an edit never dead-letters or pauses anything.

A crash mid-send leaves the row leased; when the lease expires it is sent
again, so delivery is at-least-once and rows are never lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
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
    StoreError,
)
from bot.core.model import Alert, Destination, FollowUp, OutboxItem, OutboxJob
from bot.core.waiting import first_of
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
    edit_gap_seconds: float = 60.0
    """At least this long between two follow-up edits of one alert."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    paused: int = 0
    edited: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.dead + other.dead,
            self.paused + other.paused,
            self.edited + other.edited,
        )


@dataclass
class Deliverer:
    """Sends outbox rows through a registry of notifiers keyed by platform."""

    store: Store
    notifiers: Mapping[str, Notifier]
    policy: DeliveryPolicy
    clock: Callable[[], datetime]
    rng: random.Random = field(default_factory=random.Random)
    queued: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by `wake` when the poller queued rows; `run` then delivers at once."""

    def wake(self) -> None:
        """New rows are in the outbox: deliver now rather than at the next tick."""
        self.queued.set()

    async def run(
        self,
        stop: asyncio.Event,
        *,
        tick_seconds: float,
        after_pass: Callable[[], Awaitable[object]] | None = None,
        beat: Callable[[], None] | None = None,
    ) -> None:
        """Deliver until `stop` is set: a pass every `tick_seconds`, and at once when
        woken. A pass that fails is logged (a StoreError, such as a database out of
        reach, in one line) and the next one runs as usual."""
        while not stop.is_set():
            if beat is not None:
                beat()
            self.queued.clear()
            try:
                await self.deliver_once()
                if after_pass is not None:
                    await after_pass()
            except StoreError as err:  # e.g. the database is away: one line, no traceback
                log.error(
                    "a delivery pass failed: %s; the next one runs in %.0f s", err, tick_seconds
                )
            except Exception:
                log.exception("a delivery pass failed; the next one runs in %.0f s", tick_seconds)
            await first_of(stop, self.queued, seconds=tick_seconds)

    async def deliver_once(self) -> DeliveryReport:
        """Claim one batch of due rows and try each once.

        When an outcome cannot be recorded (the store failed: the database is out
        of reach), the rest of the pass is cancelled rather than posting alerts
        that would be posted again when their leases expire."""
        now = self.clock()
        items = await self.store.claim_outbox(
            now,
            limit=self.policy.batch_size,
            owner=self.policy.owner,
            lease_seconds=self.policy.lease_seconds,
            edit_gap_seconds=self.policy.edit_gap_seconds,
        )
        gate = asyncio.Semaphore(self.policy.concurrency)

        async def send(item: OutboxItem) -> str:
            async with gate:
                return await self.deliver_item(item)

        tasks = [asyncio.create_task(send(item)) for item in items]
        try:
            outcomes = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return DeliveryReport(
            sent=outcomes.count("sent"),
            retried=outcomes.count("retried"),
            dead=outcomes.count("dead"),
            paused=outcomes.count("paused"),
            edited=outcomes.count("edited"),
        )

    async def deliver_pending(self, *, max_passes: int = 10_000) -> DeliveryReport:
        """Run passes until nothing is due now (used by the demo and tests)."""
        total = DeliveryReport()
        for _ in range(max_passes):
            report = await self.deliver_once()
            total += report
            if report == DeliveryReport():
                break
        return total

    async def deliver_item(self, item: OutboxItem) -> str:
        """Send (or edit) one row and record the outcome; returns
        sent/edited/retried/dead/paused."""
        platform = item.destination.platform
        notifier = self.notifiers.get(platform)
        if notifier is None:
            error = f"no notifier configured for platform {platform!r}"
            if item.job is OutboxJob.EDIT:
                await self._retry_edit(item, error, self.policy.no_notifier_retry_seconds)
            else:
                await self._retry(item, error, self.policy.no_notifier_retry_seconds)
            metrics.DELIVERIES.labels(platform, "no_notifier").inc()
            return "retried"
        if item.job is OutboxJob.EDIT:
            return await self.edit_item(notifier, item)
        try:
            with metrics.DELIVERY_SECONDS.time():
                message_id = await self._post(notifier, item)
        except (RateLimitedError, RetryableDeliveryError, PermanentDeliveryError) as err:
            failure: DeliveryError = err
        except Exception as err:  # a notifier bug must not stop the loop
            log.exception("notifier %s crashed on outbox row %s", notifier.platform, item.id)
            failure = RetryableDeliveryError(repr(err))
        else:
            shown = len(item.alert.sources) if item.alert else 0
            sent_at = self.clock()
            await self.store.mark_sent(
                item.id, message_id=message_id, at=sent_at, shown_sources=shown
            )
            if item.alert is not None and item.job is OutboxJob.SEND:
                observe_latency(item.alert, sent_at)
            metrics.DELIVERIES.labels(platform, "sent").inc()
            return "sent"
        outcome = await self._record_failure(item, failure)
        metrics.DELIVERIES.labels(platform, metric_outcome(failure, outcome)).inc()
        return outcome

    async def _post(self, notifier: Notifier, item: OutboxItem) -> str | None:
        """Post an alert, or the digest's parts not posted yet (each recorded as it
        goes); the message id (a digest's first part's, when this call posted it)."""
        if item.job is not OutboxJob.DIGEST:
            assert item.alert is not None, "an alert row carries its alert"
            return await notifier.send(item.destination, item.alert)
        assert item.digest is not None, "a digest row carries its digest"
        part, first = item.parts_sent, None
        while True:
            posted = await notifier.send_digest(item.destination, item.digest, part)
            if part >= posted.parts:
                return first
            part += 1
            first = first or posted.message_id
            await self.store.mark_digest_part(
                item.id, parts_sent=part, message_id=posted.message_id, at=self.clock()
            )
            if part >= posted.parts:
                return first

    async def edit_item(self, notifier: Notifier, item: OutboxItem) -> str:
        """Make one follow-up edit and record it; a failure never touches the alert."""
        outcome = await self._edit(notifier, item)
        label = outcome.replace(" ", "_")
        metrics.FOLLOW_UPS.labels(platform=item.destination.platform, outcome=label).inc()
        return outcome

    async def _edit(self, notifier: Notifier, item: OutboxItem) -> str:
        assert item.alert is not None and item.message_id is not None
        follow_up = FollowUp(item.alert, item.new_sources, item.outcome)
        try:
            await notifier.update(item.destination, item.message_id, follow_up)
        except RateLimitedError as err:
            await self._retry_edit(item, str(err), err.retry_after or 1.0)
            return "retried"
        except RetryableDeliveryError as err:
            if item.attempts + 1 >= self.policy.max_attempts:
                return await self._give_up_edit(item, f"gave up editing: {err}")
            await self._retry_edit(
                item, str(err), err.retry_after or self.backoff_seconds(item.attempts)
            )
            return "retried"
        except PermanentDeliveryError as err:
            return await self._give_up_edit(item, str(err))
        except Exception as err:  # a notifier bug must not stop the loop
            log.exception("notifier %s crashed editing outbox row %s", notifier.platform, item.id)
            await self._retry_edit(item, repr(err), self.backoff_seconds(item.attempts))
            return "retried"
        await self.store.mark_edited(
            item.id, shown_sources=len(item.alert.sources), at=self.clock()
        )
        return "edited"

    async def _retry_edit(self, item: OutboxItem, error: str, delay_seconds: float) -> None:
        now = self.clock()
        retry_at = now + timedelta(seconds=delay_seconds)
        await self.store.mark_edit_failed(item.id, error=error, retry_at=retry_at, at=now)

    async def _give_up_edit(self, item: OutboxItem, error: str) -> str:
        log.warning(
            "follow-up of outbox row %s to %s given up: %s", item.id, item.destination, error
        )
        await self.store.mark_edit_failed(item.id, error=error, retry_at=None, at=self.clock())
        return "given up"

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


def observe_latency(alert: Alert, sent_at: datetime) -> None:
    """Record how long an alert sent at once took: from first sighting and from publication."""
    story = alert.story
    for since, start in (("first_seen", story.fetched_at), ("published", story.published)):
        seconds = (sent_at - start).total_seconds()
        metrics.ALERT_LATENCY_SECONDS.labels(since=since).observe(max(0.0, seconds))
