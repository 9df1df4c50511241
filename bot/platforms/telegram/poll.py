"""Long polling by one instance at a time: the `telegram-poll` lease.

Telegram serves getUpdates to one client per bot; a second poller makes the
two terminate each other's requests (409 Conflict). Several instances on one
PostgreSQL database therefore take turns: `PollLease` keeps long polling
running only while this instance holds the store lease `telegram-poll`.

- `start()` tries once, so a lone instance polls at once, then a background
  task renews the lease every `seconds / 3`.
- Gained: polling starts. Lost (another instance holds it, or the store has
  been unreachable so long that the lease may have expired): polling stops.
  Each change is logged.
- `close()` stops the task and polling, then releases the lease, so a standby
  instance takes over within one renewal interval rather than at expiry.

Only receiving updates takes turns. A standby instance still delivers
alerts (the notifier does not poll) and answers webhooks; in webhook mode
there is no lease at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.core.errors import StoreError
from bot.store.base import Store

log = logging.getLogger(__name__)

POLL_LEASE = "telegram-poll"
POLL_LEASE_SECONDS = 30.0
"""How long a holder that stops renewing (it died) keeps the others waiting."""

Switch = Callable[[], Awaitable[None]]


class PollLease:
    """Polling while this instance holds the lease (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        owner: str,
        clock: Callable[[], datetime],
        *,
        start_polling: Switch,
        stop_polling: Switch,
        seconds: float = POLL_LEASE_SECONDS,
    ) -> None:
        self._store, self._owner, self._clock, self._seconds = store, owner, clock, seconds
        self._start_polling, self._stop_polling = start_polling, stop_polling
        self._held = False
        self._surely_ours_until = 0.0  # time.monotonic() at which our last renewal may lapse
        self._task: asyncio.Task[None] | None = None
        self._fields = {"platform": "telegram", "lease": POLL_LEASE, "owner": owner}

    @property
    def held(self) -> bool:
        """Whether this instance holds the lease (and so polls) as of the last check."""
        return self._held

    @property
    def interval(self) -> float:
        """Seconds between renewals: a third of the lease, so two may fail in a row."""
        return self._seconds / 3

    async def start(self) -> None:
        """Take the lease if it is free (polling at once), then keep checking in the
        background. Errors from this first attempt propagate, as a failed start."""
        await self.check()
        if not self._held:
            log.info("telegram long poll: another instance polls; standing by", extra=self._fields)
        self._task = asyncio.create_task(self._keep(), name=f"lease {POLL_LEASE}")

    async def check(self) -> None:
        """Renew or take the lease; start or stop polling when that changes."""
        ours = await self._renew()
        if ours and not self._held:
            await self._start_polling()
            self._held = True
            log.info("telegram long poll: lease taken, polling", extra=self._fields)
        elif not ours and self._held:
            self._held = False
            log.warning("telegram long poll: lease lost, stopping polling", extra=self._fields)
            await self._stop_polling()

    async def close(self) -> None:
        """Stop checking and polling, and release the lease for a standby instance."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_polling()
        was_held, self._held = self._held, False
        try:
            await self._store.release_lease(POLL_LEASE, self._owner)
        except StoreError as error:
            log.warning("telegram long poll: lease not released: %s", error, extra=self._fields)
            return
        if was_held:
            log.info("telegram long poll: stopped and lease released", extra=self._fields)

    async def _renew(self) -> bool:
        """Whether the lease is ours now. While the store cannot be reached we keep
        polling only as long as our last renewal surely has not lapsed."""
        asked = time.monotonic()
        try:
            ours = await self._store.acquire_lease(
                POLL_LEASE, self._owner, self._clock(), self._seconds
            )
        except StoreError as error:
            log.warning("telegram long poll: lease not renewed: %s", error, extra=self._fields)
            return self._held and time.monotonic() + self.interval < self._surely_ours_until
        if ours:
            self._surely_ours_until = asked + self._seconds
        return ours

    async def _keep(self) -> None:
        """Check every `interval` seconds until cancelled; a failed check is logged."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception:  # e.g. starting to poll failed: try again next time
                log.exception("telegram long poll: lease check failed", extra=self._fields)
