"""The WebSub subscriber: feeds' hubs push new items; polling stays as a safety net.

    a successful poll ─▶ `notice` ─▶ discover hub/self ─▶ subscribe     (in the background)
    hub GET  /websub/<id> ─▶ `verify`  ─▶ echo hub.challenge, or None (404)
    hub POST /websub/<id> ─▶ `receive` ─▶ `push.ingest_push` (verify → parse → … → outbox)
    every minute ─▶ `maintain` ─▶ renew, retry, give up, unsubscribe removed feeds

A subscription's life (`bot.core.model.PushState`), kept in the store so any
instance on PostgreSQL can answer the hub:

    subscribing ──hub verifies──▶ active ──less than RENEW_FRACTION of the lease left──▶
        renewal (stays active; the hub verifies again and the lease is extended)
    subscribing ──hub refuses (4xx/5xx, unreachable, SSRF guard), denies, or does not
        verify within VERIFY_TIMEOUT_SECONDS; active ──lease ends──▶ failed
    failed ──backoff (RETRY_FIRST_SECONDS doubling up to RETRY_MAX_SECONDS)──▶ subscribing

Removing a feed (`feeds remove`, chat `feed rm`) only sets the row's feed to
None (the foreign key's ON DELETE SET NULL), so removal works without the
service running; `maintain` then sends the hub an unsubscribe request
(UNSUBSCRIBE_ATTEMPTS at most) and forgets the row when the hub verifies it or
after the last attempt (the hub's lease then lapses on its own; pushes for
the forgotten id are answered 404).

A feed with a live subscription is still polled, at least every
`bot.pipeline.fetch.websub.SAFETY_NET_SECONDS` (15 min); failures here never
touch its polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import httpx

from bot.core import metrics
from bot.core.errors import FetchError
from bot.core.model import DueFeed, Feed, FeedResponse, PushState, PushSubscription
from bot.pipeline.fetch import websub
from bot.pipeline.poll import Pipeline
from bot.pipeline.push import ingest_push

log = logging.getLogger(__name__)

MAINTAIN_TICK_SECONDS = 60.0
"""How often `maintain` runs (the scheduler's `websub` job)."""
MAINTAIN_LEASE = "websub-maintain"
"""The named lease: one instance renews and unsubscribes at a time."""
VERIFY_TIMEOUT_SECONDS = 600.0
"""A hub that has not verified a request within this long has failed it."""
RETRY_FIRST_SECONDS = 300.0
RETRY_MAX_SECONDS = 6 * 3600.0
DEFAULT_LEASE_SECONDS = 86400
"""Assumed when a hub's verification names no `hub.lease_seconds` (§5.3 says it must)."""
RENEW_FRACTION = 0.1
RENEW_MARGIN_SECONDS = 3600.0
"""Renew when less than max(RENEW_FRACTION of the lease, 1 h) remains (half a lease
shorter than 2 h)."""
UNSUBSCRIBE_ATTEMPTS = 5


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next try after `attempts` failures in a row."""
    return timedelta(
        seconds=min(RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)
    )


def renewal_due(sub: PushSubscription, now: datetime) -> bool:
    """True when an active subscription's lease is close enough to its end to renew."""
    if sub.lease_expires_at is None:
        return True
    lease = float(sub.lease_seconds or DEFAULT_LEASE_SECONDS)
    margin = max(RENEW_FRACTION * lease, min(RENEW_MARGIN_SECONDS, lease / 2))
    return sub.lease_expires_at - now <= timedelta(seconds=margin)


@dataclass
class Subscriber:
    """Subscriptions of polled feeds to their hubs (see the module docstring).

    `client` is the feed fetcher's SSRF-guarded client, so a hub on a private
    address is refused unless private networks are allowed."""

    pipeline: Pipeline
    client: httpx.AsyncClient
    public_url: str
    """NEWSWATCH_PUBLIC_URL: callbacks are `<public_url>/websub/<callback id>`."""
    max_body_bytes: int
    """The cap on a pushed body (NEWSWATCH_MAX_FEED_BYTES, as for a fetched one)."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _busy: set[int] = field(default_factory=set)
    """Feeds being looked at now."""
    _known: set[int] = field(default_factory=set)
    """Feeds known to have a subscription row (it lasts as long as the feed), so a feed
    whose hub fails is not parsed for discovery again on every poll."""

    def callback_url(self, callback_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/websub/{callback_id}"

    # ── after a poll ──────────────────────────────────────────────────────

    def notice(self, due: DueFeed, response: FeedResponse) -> None:
        """The poll's hook after a feed was fetched and parsed: when the feed may name a
        hub and has no live subscription, look and subscribe in the background (the
        poll never waits for a hub)."""
        feed_id = due.feed.id
        if due.pushed or feed_id in self._busy or feed_id in self._known:
            return
        if not _may_name_hub(response):
            return
        self._busy.add(feed_id)
        task = asyncio.get_running_loop().create_task(self._consider(due.feed, response))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the background subscribe requests started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.settle()

    async def _consider(self, feed: Feed, response: FeedResponse) -> None:
        try:
            if await self.pipeline.store.feed_push_subscription(feed.id) is not None:
                self._known.add(feed.id)
                return
            links = await asyncio.to_thread(
                websub.discover, response.body, response.link, response.final_url
            )
            if links is None:
                return
            now = self.pipeline.clock()
            sub = PushSubscription(
                callback_id=websub.new_callback_id(),
                feed=feed,
                hub=links.hub,
                topic=links.topic,
                secret=websub.new_secret(),
                state=PushState.SUBSCRIBING,
                requested_at=now,
            )
            if await self.pipeline.store.add_push_subscription(sub):
                self._known.add(feed.id)
                log.info("websub: subscribing feed %s (%s) at hub %s", feed.name, feed.url, sub.hub)
                await self._request(sub, now)
        except Exception:  # a hub or store hiccup must never disturb polling
            log.exception("websub: subscribing feed %s (%s) failed", feed.name, feed.url)
        finally:
            self._busy.discard(feed.id)

    # ── the callback ──────────────────────────────────────────────────────

    async def verify(self, callback_id: str, params: Mapping[str, str]) -> str | None:
        """The body to answer a hub's GET with (its `hub.challenge`, or "" for a denial
        we recorded), or None for 404: an unknown id, or a mode or topic we did not ask for."""
        store, now = self.pipeline.store, self.pipeline.clock()
        sub = await store.push_subscription(callback_id)
        mode = params.get("hub.mode", "")
        if sub is None:
            log.warning(
                "websub: %s verification for unknown callback id %s: 404", mode, callback_id
            )
            return None
        if mode == "denied" and params.get("hub.topic") == sub.topic and sub.feed is not None:
            reason = params.get("hub.reason") or "no reason given"
            await self._fail(sub, f"the hub denied the subscription: {reason}", now)
            return ""
        wanted = _expected_mode(sub)
        challenge = websub.verification_answer(websub.PendingIntent(sub.topic, wanted), params)
        if challenge is None:
            log.warning(
                "websub: refused a %s verification of %s (we asked to %s %s)",
                mode or "modeless", params.get("hub.topic"), wanted, sub.topic,
            )  # fmt: skip
            return None
        if wanted == "unsubscribe":
            await store.delete_push_subscription(callback_id)
            log.info("websub: unsubscribed from %s at %s", sub.topic, sub.hub)
            return challenge
        lease = websub.lease_seconds_of(params) or DEFAULT_LEASE_SECONDS
        active = replace(
            sub,
            state=PushState.ACTIVE,
            lease_seconds=lease,
            lease_expires_at=now + timedelta(seconds=lease),
            last_error=None,
            attempts=0,
            retry_at=None,
        )
        await store.update_push_subscription(active)
        log.info("websub: feed %s pushed by %s for %d s", _name(sub), sub.hub, lease)
        return challenge

    async def receive(
        self,
        callback_id: str,
        *,
        signature: str | None,
        body: bytes,
        content_type: str | None,
        oversized: bool = False,
    ) -> bool:
        """Take a hub's POST of new content; False for an unknown id (404). A known id is
        always answered 2xx (§8): a bad signature, a body over the cap or a removed
        feed is counted, logged and ignored."""
        sub = await self.pipeline.store.push_subscription(callback_id)
        if sub is None:
            metrics.PUSHES.labels("unknown").inc()
            log.warning("websub: content for unknown callback id %s: 404", callback_id)
            return False
        if sub.feed is None:
            log.info("websub: content for removed feed %s ignored", sub.topic)
            return True
        if oversized:
            metrics.PUSHES.labels("too_large").inc()
            log.warning(
                "websub push for %s ignored: body over %d bytes (NEWSWATCH_MAX_FEED_BYTES)",
                sub.feed.url,
                self.max_body_bytes,
            )
            return True
        report = await ingest_push(
            self.pipeline,
            sub.feed,
            secret=sub.secret,
            signature=signature,
            body=body,
            content_type=content_type,
        )
        if report.new_stories:
            log.info(
                "websub push for %s: %d new, %d alerts",
                _name(sub),
                report.new_stories,
                report.alerts,
            )
        return True

    # ── renewals, retries, unsubscribes ───────────────────────────────────

    async def maintain(self, now: datetime | None = None) -> None:
        """One pass over every subscription (the scheduler's `websub` job), by one
        instance at a time: time out unverified requests, retry failed ones when their
        backoff ends, renew leases near their end, unsubscribe removed feeds."""
        store, now = self.pipeline.store, now or self.pipeline.clock()
        lease_seconds = 5 * MAINTAIN_TICK_SECONDS
        if not await store.acquire_lease(
            MAINTAIN_LEASE, self.pipeline.config.owner, now, lease_seconds
        ):
            return
        for sub in await store.push_subscriptions():
            try:
                await self._maintain_one(sub, now)
            except Exception:  # one bad row or hub never stops the others
                log.exception("websub: maintaining the subscription to %s failed", sub.topic)

    async def _maintain_one(self, sub: PushSubscription, now: datetime) -> None:
        store = self.pipeline.store
        waited = now - sub.requested_at >= timedelta(seconds=VERIFY_TIMEOUT_SECONDS)
        if sub.feed is None:
            if sub.state is PushState.UNSUBSCRIBING and not waited:
                return
            if sub.state is PushState.UNSUBSCRIBING and sub.attempts >= UNSUBSCRIBE_ATTEMPTS:
                await store.delete_push_subscription(sub.callback_id)
                log.warning(
                    "websub: %s never confirmed unsubscribing %s; forgotten (its lease lapses)",
                    sub.hub, sub.topic,
                )  # fmt: skip
                return
            await self._unsubscribe(sub, now)
        elif sub.state is PushState.SUBSCRIBING and waited:
            minutes = VERIFY_TIMEOUT_SECONDS / 60
            await self._fail(sub, f"the hub did not verify within {minutes:g} min", now)
        elif sub.state is PushState.FAILED and (sub.retry_at is None or sub.retry_at <= now):
            retry = replace(sub, state=PushState.SUBSCRIBING, requested_at=now)
            if await store.update_push_subscription(retry):
                await self._request(retry, now)
        elif sub.state is PushState.ACTIVE:
            if sub.lease_expires_at is not None and sub.lease_expires_at <= now:
                await self._fail(sub, "the lease ended before the hub verified a renewal", now)
            elif renewal_due(sub, now) and waited:
                renewal = replace(sub, requested_at=now)
                if await store.update_push_subscription(renewal):
                    await self._request(renewal, now)

    async def _request(self, sub: PushSubscription, now: datetime) -> None:
        """Send a subscribe (or renewal) request; the row is already saved, since a hub
        may verify before it answers. A refused first request marks it failed; a refused
        renewal keeps the running lease and is retried after VERIFY_TIMEOUT_SECONDS."""
        try:
            await websub.request(
                self.client,
                sub.hub,
                topic=sub.topic,
                callback=self.callback_url(sub.callback_id),
                secret=sub.secret,
            )
        except FetchError as err:
            if sub.state is PushState.ACTIVE:
                log.warning("websub: renewing feed %s failed: %s", _name(sub), err)
                await self.pipeline.store.update_push_subscription(
                    replace(sub, last_error=str(err))
                )
            else:
                await self._fail(sub, str(err), now)

    async def _unsubscribe(self, sub: PushSubscription, now: datetime) -> None:
        attempt = replace(
            sub, state=PushState.UNSUBSCRIBING, requested_at=now, attempts=sub.attempts + 1
        )
        if not await self.pipeline.store.update_push_subscription(attempt):
            return
        try:
            await websub.request(
                self.client,
                sub.hub,
                topic=sub.topic,
                callback=self.callback_url(sub.callback_id),
                mode="unsubscribe",
            )
        except FetchError as err:
            log.warning(
                "websub: unsubscribing %s (attempt %d of %d): %s",
                sub.topic, attempt.attempts, UNSUBSCRIBE_ATTEMPTS, err,
            )  # fmt: skip
            await self.pipeline.store.update_push_subscription(
                replace(attempt, last_error=str(err))
            )

    async def _fail(self, sub: PushSubscription, reason: str, now: datetime) -> None:
        attempts = sub.attempts + 1
        retry_at = now + retry_delay(attempts)
        failed = replace(
            sub, state=PushState.FAILED, last_error=reason, attempts=attempts, retry_at=retry_at
        )
        await self.pipeline.store.update_push_subscription(failed)
        log.warning(
            "websub: feed %s not pushed: %s; it is polled as before, retry at %s",
            _name(sub), reason, f"{retry_at:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip


def _expected_mode(sub: PushSubscription) -> str:
    """What a verification of `sub` may confirm: unsubscribe once its feed is gone."""
    if sub.feed is None or sub.state is PushState.UNSUBSCRIBING:
        return "unsubscribe"
    return "subscribe"


def _may_name_hub(response: FeedResponse) -> bool:
    """A cheap pre-check before discovery parses the body: a hub link says "hub"."""
    return b"hub" in response.body or "hub" in (response.link or "").lower()


def _name(sub: PushSubscription) -> str:
    return sub.feed.name if sub.feed is not None else sub.topic
