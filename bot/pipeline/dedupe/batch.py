"""Dedup stage: one story per article within a poll, one alert per event across outlets.

`dedupe_batch` removes exact duplicates inside one poll batch (the same article
in two feeds, a feed listing an item twice, a re-titled item under a new URL
from the same publisher). `group_near_duplicates` then finds which new stories
report an event already seen recently, so the poller records them as extra
sources of the original instead of alerting again. All are pure; the index
the poller keeps across polls (`bot.pipeline.dedupe.index`) is a `TwinIndex` of stored
stories passed to `group_batch`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bot.core.model import Story
from bot.pipeline.dedupe.fingerprint import (
    MIN_TITLE_TERMS,
    EventSignature,
    event_signature,
    fingerprint_bands,
    signatures_match,
)

K = TypeVar("K")


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
    it is a near-duplicate of (among equally early ones, the first in `recent`,
    then the first in `new`); chains resolve to the root, so five outlets on one
    event all point at the first one. Stories with no earlier twin are absent.
    Only stories sharing salient terms or a fingerprint band are compared, so
    this stays near-linear in the number of stories.

    New stories whose key is in `index_only` (a new feed's backlog, which never
    alerts) are candidates for the others but are not looked up themselves:
    they are absent from the result, and a story whose twin is one of them maps
    to that story rather than to its root.
    """
    stored = TwinIndex()
    for position, story in enumerate(recent):
        stored.add(IndexedStory(story.key, event_signature(story), position - len(recent)))
    return group_batch(new, stored, index_only=index_only)


def group_batch(
    new: Sequence[Story], stored: TwinIndex, *, index_only: Collection[str] = frozenset()
) -> dict[str, str]:
    """`group_near_duplicates` with the recent stories already indexed in `stored`
    (whose ranks must be negative); `stored` is left unchanged.

    The batch's own stories go into a second, throw-away index, so an index
    kept across polls (`bot.pipeline.dedupe.index`) only ever holds stories the store has.
    """
    groups: dict[str, str] = {}
    batch = TwinIndex()
    for rank, story in enumerate(sorted(new, key=lambda story: story.published)):
        item = IndexedStory(story.key, event_signature(story), rank)
        original = None if story.key in index_only else first_twin(item, (stored, batch))
        if original is not None:
            groups[story.key] = groups.get(original.key, original.key)
        batch.add(item)
    return groups


@dataclass(frozen=True, slots=True)
class IndexedStory:
    """A story as the twin index holds it: its key and signature, no text.

    `rank` decides between equally early twins (the lower wins) and identifies
    the story in its index. Recent (stored) stories have negative ranks and a
    batch's new stories count up from 0, so a stored twin beats an equally
    early one from the batch.
    """

    key: str
    signature: EventSignature
    rank: int


def first_twin(story: IndexedStory, indexes: Sequence[TwinIndex]) -> IndexedStory | None:
    """The earliest published candidate in `indexes` (other than the story itself)
    that reports the same event; among equally early ones, the lowest rank.

    Candidates are tried earliest first, so the search stops at the first twin
    instead of comparing the story with every candidate.
    """
    found = candidates(indexes, story.signature)
    found.sort(key=lambda candidate: (candidate.signature.published, candidate.rank))
    return next(
        (c for c in found if c.key != story.key and signatures_match(c.signature, story.signature)),
        None,
    )


class Postings(Generic[K]):
    """Ranks of the stories indexed under each key (a term or a fingerprint band).

    A key of one story holds its bare rank rather than a one-item list (88
    bytes): most fingerprint bands and many rare terms belong to one story.
    """

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[K, int | list[int]] = {}

    def add(self, keys: Iterable[K], rank: int) -> None:
        """Post `rank` under each of `keys` (one call per story: this runs for
        every term of every story indexed)."""
        by_key = self._by_key
        for key in keys:
            found = by_key.get(key)
            if found is None:
                by_key[key] = rank
            elif isinstance(found, int):
                by_key[key] = [found, rank]
            else:
                found.append(rank)

    def ranks(self, keys: Iterable[K]) -> list[int]:
        """The ranks under each of `keys`, one entry per key a rank is under
        (removed stories' ranks included until compacted)."""
        by_key = self._by_key
        found: list[int] = []
        for key in keys:
            posted = by_key.get(key)
            if posted is None:
                continue
            if isinstance(posted, int):
                found.append(posted)
            else:
                found.extend(posted)
        return found

    def __iter__(self) -> Iterator[K]:
        return iter(self._by_key)

    def clear(self) -> None:
        self._by_key.clear()


@dataclass
class TwinIndex:
    """Stories indexed by salient term and fingerprint band, to find near-duplicates.

    `remove` leaves the story's postings behind (skipped by `candidates`) and
    compacts them once they are half of all postings, so evicting a story is
    cheap and the postings do not grow without bound.
    """

    stories: dict[int, IndexedStory] = field(default_factory=dict)
    by_term: Postings[str] = field(default_factory=Postings)
    by_band: Postings[int] = field(default_factory=Postings)
    postings: int = 0
    stale: int = 0

    def __len__(self) -> int:
        return len(self.stories)

    def __contains__(self, rank: object) -> bool:
        return rank in self.stories

    def add(self, story: IndexedStory) -> None:
        """Index a story (its rank must not be in the index already)."""
        self.stories[story.rank] = story
        self._post(story)

    def remove(self, rank: int) -> None:
        """Forget the story of that rank, if indexed."""
        story = self.stories.pop(rank, None)
        if story is None:
            return
        self.stale += _posting_count(story.signature)
        if 2 * self.stale > self.postings:
            self._compact()

    def candidates(self, signature: EventSignature) -> list[IndexedStory]:
        """Stories that could be near-duplicates: enough shared terms or a shared band."""
        return candidates((self,), signature)

    def _post(self, story: IndexedStory) -> None:
        signature = story.signature
        self.by_term.add(signature.terms.text if signature.terms else (), story.rank)
        if signature.fingerprint:
            self.by_band.add(fingerprint_bands(signature.fingerprint), story.rank)
        self.postings += _posting_count(signature)

    def _compact(self) -> None:
        """Rebuild the postings from the stories still indexed."""
        self.by_term.clear()
        self.by_band.clear()
        self.postings = self.stale = 0
        for story in self.stories.values():
            self._post(story)


def candidates(indexes: Sequence[TwinIndex], signature: EventSignature) -> list[IndexedStory]:
    """Stories of `indexes` that could be near-duplicates of `signature`: sharing
    MIN_TITLE_TERMS salient terms, or a fingerprint band.

    One pass over all the indexes (their ranks never collide): a batch's lookup
    asks the stored index and the batch's own, and this runs for every story.
    """
    terms = signature.terms.text if signature.terms else ()
    posted: list[int] = []
    for index in indexes:
        posted += index.by_term.ranks(terms)
    ranks = {rank for rank, count in Counter(posted).items() if count >= MIN_TITLE_TERMS}
    if signature.fingerprint:
        bands = fingerprint_bands(signature.fingerprint)
        for index in indexes:
            ranks.update(index.by_band.ranks(bands))
    return [index.stories[r] for index in indexes for r in ranks if r in index.stories]


def _posting_count(signature: EventSignature) -> int:
    """How many postings `TwinIndex` keeps for a story of this signature."""
    terms = len(signature.terms.text) if signature.terms else 0
    return terms + (4 if signature.fingerprint else 0)
