"""The pipeline, one stage a module or package, run by `poll.poll_once`:

    fetch ─▶ parse ─▶ normalize ─▶ dedupe ─▶ match ─▶ summarize ─▶ route (store outbox)

- `fetch/`: the SSRF-guarded HTTP client, conditional GET, the poll schedule,
  full-text fetching of teaser-only items.
- `parse/`: feed bytes to entries; HTML to plain text.
- `normalize`: entries to stories (canonical URLs, keys, times).
- `dedupe/`: repeats within a batch, known stories, near-duplicates across outlets.
- `match`: the rule book (rule index, topics, the LLM check) around `filters`.
- `summarize`: the sentences an alert shows.
- `feedlist`, `health`: the feeds files (YAML, OPML) and feed health reports.
"""

from bot.pipeline.poll import Pipeline, PollConfig, poll_once

__all__ = ["Pipeline", "PollConfig", "poll_once"]
