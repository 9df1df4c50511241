"""Dedup stage: one story per article within a poll, one alert per event across outlets.

`dedupe_batch` removes exact duplicates inside one poll batch (the same article
in two feeds, a feed listing an item twice, a re-titled item under a new URL
from the same publisher). `group_near_duplicates` then finds which new stories
report an event already seen recently, so the poller records them as extra
sources of the original instead of alerting again. Both are pure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterator, Sequence
from dataclasses import dataclass, field

from bot.model import Story
from filters.fingerprint import (
    MIN_TITLE_TERMS,
    event_text_terms,
    fingerprint_bands,
    is_near_duplicate,
)


def dedupe_batch(stories: Sequence[Story]) -> tuple[list[Story], list[Story]]:
    """Split a batch into (unique, dropped) stories, keeping the earliest of each duplicate set.

    Two stories are the same when they share a key, a canonical URL, a GUID
    within one feed, or a publisher and title key. "Earliest" is by published
    time, then by position in the batch, so the result does not depend on feed
    order when dates are known. Both lists keep the batch order.
    """
    order = sorted(range(len(stories)), key=lambda index: (stories[index].published, index))
    seen: set[Hashable] = set()
    kept: set[int] = set()
    for index in order:
        identities = set(_identities(stories[index]))
        if identities.isdisjoint(seen):
            kept.add(index)
        seen |= identities
    unique = [story for index, story in enumerate(stories) if index in kept]
    dropped = [story for index, story in enumerate(stories) if index not in kept]
    return unique, dropped


def _identities(story: Story) -> Iterator[Hashable]:
    """Every identity under which another story would be the same article."""
    yield ("key", story.key)
    if story.canonical_url:
        yield ("url", story.canonical_url)
    if story.guid:
        yield ("guid", story.feed_id, story.guid)
    if story.title_key:
        yield ("title", story.publisher.casefold(), story.title_key)


def group_near_duplicates(
    new: Sequence[Story], recent: Sequence[Story], *, index_only: Collection[str] = frozenset()
) -> dict[str, str]:
    """Map each new story's key to the key of an earlier story reporting the same event.

    Candidates are `recent` stories (already alerted or recorded) and new
    stories earlier in `new`. A story maps to the earliest published candidate
    it is a near-duplicate of; chains resolve to the root, so five outlets on one
    event all point at the first one. Stories with no earlier twin are absent.
    Only stories sharing salient terms or a fingerprint band are compared, so
    this stays near-linear in the number of stories.

    New stories whose key is in `index_only` (a new feed's backlog, which never
    alerts) are candidates for the others but are not looked up themselves:
    they are absent from the result, and a story whose twin is one of them maps
    to that story rather than to its root.
    """
    groups: dict[str, str] = {}
    twins = TwinIndex()
    for story in recent:
        twins.add(story)
    for story in sorted(new, key=lambda story: story.published):
        original = None if story.key in index_only else twins.first_twin(story)
        if original is not None:
            groups[story.key] = groups.get(original.key, original.key)
        twins.add(story)
    return groups


@dataclass
class TwinIndex:
    """Stories indexed by salient term and fingerprint band, to find near-duplicates."""

    stories: list[Story] = field(default_factory=list)
    by_term: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_band: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, story: Story) -> None:
        position = len(self.stories)
        self.stories.append(story)
        for term in event_text_terms(story) or ():
            self.by_term[term].append(position)
        if story.fingerprint:
            for band in fingerprint_bands(story.fingerprint):
                self.by_band[band].append(position)

    def candidates(self, story: Story) -> list[Story]:
        """Stories that could be near-duplicates: enough shared terms or a shared band."""
        shared: Counter[int] = Counter()
        for term in event_text_terms(story) or ():
            shared.update(self.by_term.get(term, ()))
        positions = {position for position, count in shared.items() if count >= MIN_TITLE_TERMS}
        if story.fingerprint:
            for band in fingerprint_bands(story.fingerprint):
                positions.update(self.by_band.get(band, ()))
        return [self.stories[position] for position in sorted(positions)]

    def first_twin(self, story: Story) -> Story | None:
        """The earliest candidate (other than the story itself) that reports the same
        event; among equally early ones, the first indexed.

        Candidates are tried earliest first, so the search stops at the first twin
        instead of comparing the story with every candidate.
        """
        by_time = sorted(self.candidates(story), key=lambda candidate: candidate.published)
        return next(
            (c for c in by_time if c.key != story.key and is_near_duplicate(c, story)), None
        )
