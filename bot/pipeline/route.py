"""Route: who gets an alert and when, and which near-duplicates follow up on which alert.

`plan_deliveries` decides, for each `Recipient` (a destination following some
of the alert's rules), whether the alert goes out at once, waits, or is
dropped:

| the destination…                                  | the alert…                          |
|---------------------------------------------------|-------------------------------------|
| muted every rule of the alert it follows (button) | waits for the first rule mute's end |
| is muted (`mute 2h`)                              | waits for the mute's end            |
| is muted with `mute 2h discard`                   | is dropped, on purpose              |
| follows those rules only as a digest              | waits for the next digest time      |
| is in its quiet hours                             | waits for their end                 |
| none of these                                     | goes out at once                    |

An urgent alert skips digests and quiet hours (not a mute: the chat asked for
silence). What waits is released by the scheduler as one digest per
destination (`bot.delivery.release`), which also re-checks quiet hours then.

`Clusters` resolves each near-duplicate to the first story of its cluster
(stored, or earlier in the batch) and counts the publishers: a cluster is
urgent when `publishers` distinct outlets reported it within `minutes` of the
first report.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core import metrics
from bot.core.model import ALL_RULES, Delivery, Destination, Hold, Recipient, Story
from bot.core.schedules import DigestSchedule, quiet_until
from bot.store.base import Store

log = logging.getLogger(__name__)

Report = tuple[str, datetime]
"""(publisher, published) of one story in a cluster."""


@dataclass(frozen=True, slots=True)
class Urgency:
    """When a cluster is urgent: `publishers` outlets within `minutes` of the first."""

    publishers: int = 3
    minutes: float = 180.0

    def reached(self, reports: Collection[Report]) -> bool:
        """Whether these reports make the story urgent."""
        if not reports:
            return False
        first = min(published for _, published in reports)
        window = first + timedelta(minutes=self.minutes)
        outlets = {publisher for publisher, published in reports if published <= window}
        return len(outlets) >= self.publishers


# ── when each destination gets an alert ────────────────────────────────────


def _followed(recipient: Recipient, rules: Sequence[str]) -> dict[str, str | None]:
    """The alert's rules the recipient follows → its digest schedule (None: at once).
    A rule followed both ways counts as at once."""
    followed: dict[str, str | None] = {}
    for subscribed, schedule in recipient.schedules:
        for rule in rules if subscribed == ALL_RULES else [subscribed]:
            if rule in rules and followed.get(rule, "") is not None:
                followed[rule] = schedule
    return followed


def _next_digest(schedules: Collection[str], now: datetime) -> datetime | None:
    """The earliest next digest time of these schedules (None if none parses)."""
    times = []
    for text in schedules:
        try:
            times.append(DigestSchedule.parse(text).next_after(now))
        except ValueError:
            log.warning("unreadable digest schedule %r: the alert goes out at once", text)
    return min(times, default=None)


def plan_delivery(
    recipient: Recipient, rules: Sequence[str], *, urgent: bool, now: datetime
) -> Delivery | None:
    """When `recipient` gets an alert matched by `rules` (table in the module
    docstring); None when it does not get it."""
    followed = _followed(recipient, rules)
    if not followed:
        return None
    rule_mutes = dict(recipient.rule_mutes)
    open_rules = {rule: s for rule, s in followed.items() if rule not in rule_mutes}
    release, hold = None, None
    if not open_rules:
        release, hold = min(rule_mutes[rule] for rule in followed), Hold.MUTE
    if recipient.muted_until is not None and recipient.muted_until > now:
        if recipient.mute_discards:
            return None
        release, hold = max(release or now, recipient.muted_until), Hold.MUTE
    candidates = open_rules or followed
    if not urgent and all(candidates.values()):
        digest_at = _next_digest([s for s in candidates.values() if s], now)
        if digest_at is not None and (release is None or digest_at > release):
            release, hold = digest_at, hold or Hold.DIGEST
    if release is None and not urgent:
        quiet_end = quiet_until(recipient.quiet_hours, now)
        if quiet_end is not None:
            release, hold = quiet_end, Hold.QUIET
    return Delivery(recipient.destination, release, hold)


def plan_deliveries(
    recipients: Sequence[Recipient], rules: Sequence[str], *, urgent: bool, now: datetime
) -> tuple[list[Destination], list[Delivery]]:
    """(destinations that get the alert at once, deliveries that wait)."""
    at_once: list[Destination] = []
    held: list[Delivery] = []
    for recipient in recipients:
        delivery = plan_delivery(recipient, rules, urgent=urgent, now=now)
        if delivery is None:
            continue
        if delivery.release_at is None:
            at_once.append(delivery.destination)
        else:
            held.append(delivery)
            metrics.HELD.labels(reason=(delivery.hold or Hold.MUTE).value).inc()
    return at_once, held


# ── near-duplicate clusters ────────────────────────────────────────────────


@dataclass
class Clusters:
    """The clusters of one batch: each near-duplicate's first story, and the reports."""

    roots: dict[str, str] = field(default_factory=dict)
    """Near-duplicate key → the key of the first story of its cluster."""
    reports: dict[str, list[Report]] = field(default_factory=dict)
    """Cluster (first story's key) → every report, stored and in this batch."""
    urgency: Urgency = field(default_factory=Urgency)

    def root_of(self, key: str) -> str | None:
        """The cluster a near-duplicate belongs to (None for a first report)."""
        return self.roots.get(key)

    def urgent(self, root: str) -> bool:
        """Whether the cluster is urgent with every report known so far."""
        return self.urgency.reached(self.reports.get(root, ()))


async def clusters_of(
    store: Store,
    stories: Sequence[Story],
    duplicates_of: Mapping[str, str],
    urgency: Urgency,
) -> Clusters:
    """Resolve the batch's near-duplicates to their clusters and gather the reports."""
    in_batch = {story.key: story for story in stories}
    stored = await store.story_clusters({t for t in duplicates_of.values() if t not in in_batch})
    clusters = Clusters(urgency=urgency)
    for key, twin in duplicates_of.items():
        clusters.roots[key] = stored[twin].root if twin in stored else twin
    for found in stored.values():
        clusters.reports.setdefault(found.root, list(found.reports))
    for story in stories:
        root = clusters.roots.get(story.key, story.key)
        clusters.reports.setdefault(root, []).append((story.publisher, story.published))
    return clusters
