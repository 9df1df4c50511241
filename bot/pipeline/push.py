"""A WebSub push: one pushed feed body through the same stages as a poll.

    verify signature ─▶ parse (safe) ─▶ normalize ─▶ `poll.queue_stories` (dedupe
    ─▶ full text ─▶ match ─▶ route ─▶ save stories + outbox rows, one transaction)

A body whose signature is missing or wrong is ignored (the callback still
answers 2xx, as §8 of the WebSub Recommendation asks), counted and logged.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.core import metrics
from bot.core.errors import FeedParseError
from bot.core.model import Feed, FeedState, PollReport
from bot.pipeline import parse
from bot.pipeline.fetch import websub
from bot.pipeline.poll import Pipeline, normalize_entries, queue_stories

log = logging.getLogger(__name__)

_PRIMED = FeedState(primed=True)
"""A pushed body carries new items only, so none is treated as a cold-start backlog."""


async def ingest_push(
    pipeline: Pipeline,
    feed: Feed,
    *,
    secret: str,
    signature: str | None,
    body: bytes,
    content_type: str | None,
    now: datetime | None = None,
) -> PollReport:
    """Queue the alerts of one pushed body for `feed`; returns what happened.
    Never raises for a bad body or signature: both are counted and logged."""
    now = now or pipeline.clock()
    if not websub.signature_ok(secret, signature, body):
        metrics.PUSHES.labels("bad_signature").inc()
        reason = "missing" if not signature else "wrong"
        log.warning("websub push for %s ignored: %s X-Hub-Signature", feed.url, reason)
        return PollReport(errors=(f"{feed.name}: {reason} signature",))
    try:
        parsed = parse.parse_feed(body, url=feed.url, content_type=content_type, fetched_at=now)
    except FeedParseError as err:
        metrics.PUSHES.labels("unparsable").inc()
        log.warning("websub push for %s ignored: %s", feed.url, err)
        return PollReport(errors=(f"{feed.name}: {err}",))
    metrics.PUSHES.labels("accepted").inc()
    stories, _ = normalize_entries(feed, _PRIMED, parsed, now)
    queued = await queue_stories(pipeline, stories, (), now)
    metrics.STORIES.inc(queued.new_stories)
    metrics.ALERTS.inc(queued.alerts)
    return PollReport(
        entries_seen=len(stories),
        new_stories=queued.new_stories,
        alerts=queued.alerts,
        outbox_rows=queued.outbox_rows,
    )
