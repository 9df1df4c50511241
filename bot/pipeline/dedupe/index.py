"""The near-duplicate index the poller keeps across polls: the window's stories, slim.

Cross-outlet near-duplicates are looked up among every story stored in the
last `near_duplicate_hours` (48 h). Reading that window from the store for
every batch was capped (5,000 rows, so a twin stored earlier was missed and
alerted again) and expensive (whole rows, summaries and content included,
indexed afresh each time). `NearDuplicateIndex` instead

* loads the window once, page by page, keeping per story only what matching
  reads (`bot.pipeline.dedupe.batch.IndexedStory`: key, publication time, SimHash, salient
  terms; no text);
* before each batch, tops itself up with the stories stored since its last
  look, by `stories.id`, so stories saved by other instances on the same
  PostgreSQL database count as well as this one's own (the batch's stories are
  not added after the batch: the next top-up reads them back, with their ids);
* evicts the stories that left the window.

Lookups give exactly what `group_near_duplicates` gives over the whole
window in `recent_stories` order (newest published first, then highest id).

Ids grow but commit in any order on PostgreSQL: a transaction can commit id 7
after another committed id 8 and we read it. So ids skipped between the rows
read are asked for again until SETTLE_SECONDS have passed (the longest a story
insert is expected to take); ids consumed by rolled-back or conflicting inserts
just expire. Gaps count from the window's first id on: the window's ids are a
nearly contiguous run, since a story is stored just after it is fetched.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime

from bot.core.model import Story
from bot.pipeline.dedupe.batch import IndexedStory, TwinIndex, group_batch
from bot.pipeline.dedupe.fingerprint import EventSignature, event_terms
from bot.store.base import NearDuplicateRow, Store

PAGE_SIZE = 1000
"""Rows per store read: bounds the text held at once while loading."""
SETTLE_SECONDS = 120.0
"""How long an id skipped by a top-up may still commit (and is asked for again)."""
MAX_GAPS = 5000
"""Skipped ids remembered at most (the newest): about one failed batch's inserts."""


def indexed_story(row: NearDuplicateRow) -> IndexedStory:
    """The index entry of a stored story. Its rank is minus its id, so among
    equally early twins the one stored last wins, as in `recent_stories` order."""
    signature = EventSignature(row.published, row.fingerprint, event_terms(row.title, row.summary))
    return IndexedStory(row.key, signature, -row.id)


class NearDuplicateIndex:
    """The stored stories of the near-duplicate window, kept up to date by id."""

    def __init__(
        self,
        *,
        page_size: int = PAGE_SIZE,
        settle_seconds: float = SETTLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._page_size = page_size
        self._settle_seconds = settle_seconds
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._reset(None)

    def __len__(self) -> int:
        return len(self._twins)

    def _reset(self, since: datetime | None) -> None:
        self._since = since
        self._twins = TwinIndex()
        self._expiry: list[tuple[datetime, int]] = []
        """(max(published, fetched_at), id) of every indexed story, a heap."""
        self._last_id = 0
        self._gaps: dict[int, float] = {}
        """Skipped ids still asked for → when they were first skipped (monotonic)."""

    async def refresh(self, store: Store, since: datetime) -> None:
        """Bring the index up to date with the store for the window from `since`.

        The first call (or a window reaching back further than the last one, as
        when a clock is set back) loads the whole window; later calls read only
        what was stored since, then evict what is older than `since`.
        """
        async with self._lock:
            if self._since is None or since < self._since:
                self._reset(since)
            await self._read(store, since)
            self._evict(since)

    def group(
        self, new: Sequence[Story], *, index_only: Collection[str] = frozenset()
    ) -> dict[str, str]:
        """`group_near_duplicates(new, <the window>)`: each new story's key → the key
        of the earliest stored (or earlier new) story reporting the same event."""
        return group_batch(new, self._twins, index_only=index_only)

    async def _read(self, store: Store, since: datetime) -> None:
        """Page through the stories above the last id seen (and the gaps)."""
        self._expire_gaps()
        also_ids: Collection[int] = list(self._gaps)
        while True:
            rows = await store.near_duplicate_candidates(
                since, after_id=self._last_id, also_ids=also_ids, limit=self._page_size
            )
            self._add_rows(rows)
            if len(rows) < self._page_size:
                return
            also_ids = ()

    def _add_rows(self, rows: Iterable[NearDuplicateRow]) -> None:
        """Index the rows not indexed yet, noting the ids skipped between them."""
        for row in rows:
            if row.id <= self._last_id:
                self._gaps.pop(row.id, None)
            else:
                if self._last_id:
                    self._note_gaps(self._last_id + 1, row.id)
                self._last_id = row.id
            if -row.id in self._twins:
                continue
            self._twins.add(indexed_story(row))
            heapq.heappush(self._expiry, (max(row.published, row.fetched_at), row.id))

    def _note_gaps(self, first: int, end: int) -> None:
        """Remember the ids in [first, end) (the newest MAX_GAPS) as not yet seen."""
        now = self._monotonic()
        for missing in range(max(first, end - MAX_GAPS), end):
            self._gaps[missing] = now
        if len(self._gaps) > MAX_GAPS:
            self._gaps = dict(sorted(self._gaps.items())[-MAX_GAPS:])

    def _expire_gaps(self) -> None:
        cutoff = self._monotonic() - self._settle_seconds
        self._gaps = {gap: seen for gap, seen in self._gaps.items() if seen >= cutoff}

    def _evict(self, since: datetime) -> None:
        """Drop the stories neither published nor fetched since `since` (as the
        window query leaves them out)."""
        self._since = since
        while self._expiry and self._expiry[0][0] < since:
            _, story_id = heapq.heappop(self._expiry)
            self._twins.remove(-story_id)
