"""Dedupe: one story once, however many times and outlets carry it.

- `batch`: repeats within one batch (same GUID, URL or title key) and the
  near-duplicate grouping over a twin index;
- `fingerprint`: SimHash and salient-term signatures that say "same event";
- `index`: the stored stories of the near-duplicate window, kept across polls.
"""

from bot.pipeline.dedupe.batch import dedupe_batch, group_near_duplicates
from bot.pipeline.dedupe.index import NearDuplicateIndex

__all__ = ["NearDuplicateIndex", "dedupe_batch", "group_near_duplicates"]
