"""Admin notices (feed health) → each platform's `send_notice`, durably.

Notices are queued in the store in the same transaction that records the
condition they announce (`Store.set_feed_alarm`), then claimed under a lease
and sent here, one attempt per pass:

| outcome                 | the notice                                       |
|-------------------------|--------------------------------------------------|
| sent                    | marked sent: never sent again                    |
| RateLimitedError (429)  | retried after `retry_after`, however many times  |
| RetryableDeliveryError  | retried with backoff; dead after `max_attempts`  |
| the chat is gone, or the platform refuses it | dead (logged)               |
| no notifier for it      | retried later (the platform may be configured on restart) |

A crash mid-send leaves the notice leased; it is sent after the lease expires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.errors import PermanentDeliveryError, RateLimitedError, RetryableDeliveryError
from bot.core.metrics import NOTICES
from bot.core.model import Notice
from bot.delivery.loop import DeliveryPolicy
from bot.delivery.notifier import Notifier
from bot.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class NoticeSender:
    """Sends queued notices through the notifier registry (see module docstring)."""

    store: Store
    notifiers: Mapping[str, Notifier]
    policy: DeliveryPolicy
    clock: Callable[[], datetime]

    async def send_once(self) -> int:
        """Claim the due notices and try each once; returns how many were sent."""
        notices = await self.store.claim_notices(
            self.clock(),
            limit=self.policy.batch_size,
            owner=self.policy.owner,
            lease_seconds=self.policy.lease_seconds,
        )
        sent = 0
        for notice in notices:
            sent += await self.send_notice(notice)
        return sent

    async def send_notice(self, notice: Notice) -> int:
        """One attempt at one notice; 1 if it was sent."""
        notifier = self.notifiers.get(notice.destination.platform)
        if notifier is None:
            error = f"no notifier configured for platform {notice.destination.platform!r}"
            await self._retry(notice, error, self.policy.no_notifier_retry_seconds)
            return 0
        try:
            await notifier.send_notice(notice.destination, notice.text)
        except RateLimitedError as err:
            await self._retry(notice, str(err), err.retry_after or 1.0)
            return 0
        except RetryableDeliveryError as err:
            if notice.attempts + 1 >= self.policy.max_attempts:
                await self._dead(notice, f"gave up after {notice.attempts + 1} attempts: {err}")
            else:
                await self._retry(notice, str(err), err.retry_after or self._backoff(notice))
            return 0
        except PermanentDeliveryError as err:  # DestinationGoneError too: the admin's chat
            await self._dead(notice, str(err))
            return 0
        except Exception as err:  # a notifier bug must not stop the others
            log.exception("notifier %s crashed on notice %s", notifier.platform, notice.id)
            await self._retry(notice, repr(err), self._backoff(notice))
            return 0
        await self.store.mark_notice_sent(notice.id, at=self.clock())
        NOTICES.labels(notice.destination.platform, "sent").inc()
        return 1

    def _backoff(self, notice: Notice) -> float:
        policy = self.policy
        return float(
            min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2.0**notice.attempts)
        )

    async def _retry(self, notice: Notice, error: str, delay: float) -> None:
        NOTICES.labels(notice.destination.platform, "retry").inc()
        when = self.clock() + timedelta(seconds=delay)
        await self.store.mark_notice_retry(notice.id, error=error, next_attempt_at=when)

    async def _dead(self, notice: Notice, error: str) -> None:
        log.error("admin notice %s to %s given up: %s", notice.id, notice.destination, error)
        NOTICES.labels(notice.destination.platform, "dead").inc()
        await self.store.mark_notice_dead(notice.id, error=error)
