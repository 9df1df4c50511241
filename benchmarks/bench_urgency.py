"""Measurement: how many near-duplicate clusters of the replay corpus would be urgent.

A story is urgent when at least K distinct publishers report it within M
minutes of its first report (its near-duplicate cluster, as the poller groups
it). This replays the bundled corpus (`bot/cli/corpus`, eight outlets,
snapshots of 2021-09-17 to 09-20) through the pipeline's own parse,
normalize, dedupe and near-duplicate grouping, then counts, for each K and M,
the clusters that reach K publishers within M minutes, and lists the largest
clusters so the choice can be checked by eye.

    python benchmarks/bench_urgency.py [--corpus DIR] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli.replay import BUNDLED_CORPUS, discover_channels
from bot.core.errors import FeedParseError
from bot.core.model import Feed, Story
from bot.pipeline import dedupe, normalize, parse

KS = (2, 3, 4, 5)
MINUTES = (30, 60, 120, 180, 240, 720)
_CAPTURED = re.compile(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2})(\d{2}))?")


@dataclass(frozen=True)
class Cluster:
    """One near-duplicate cluster: its stories, first report first."""

    stories: tuple[Story, ...]

    def publishers_within(self, minutes: float) -> int:
        """Distinct publishers whose first report came within `minutes` of the first."""
        first = self.stories[0].published
        window = first + timedelta(minutes=minutes)
        return len({s.publisher for s in self.stories if s.published <= window})


def captured_at(path: Path) -> datetime:
    """The capture time in a snapshot's file name (midnight when it has no time)."""
    found = _CAPTURED.search(path.stem)
    if found is None:
        raise ValueError(f"{path.name}: no capture date in the name")
    day, hour, minute = found.groups()
    stamp = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return stamp + timedelta(hours=int(hour or 0), minutes=int(minute or 0))


def corpus_stories(corpus: Path) -> list[Story]:
    """Every distinct story of the corpus at its first sighting, fingerprinted."""
    seen: set[str] = set()
    stories: list[Story] = []
    channels = discover_channels(corpus)
    snapshots = sorted(
        (
            (captured_at(path), feed_id, channel.name, path)
            for feed_id, channel in enumerate(channels, 1)
            for path in channel.snapshots
        ),
    )
    for fetched_at, feed_id, name, path in snapshots:
        try:
            parsed = parse.parse_feed(
                path.read_bytes(),
                url=f"http://corpus/{name}",
                content_type=None,
                fetched_at=fetched_at,
            )
        except FeedParseError:
            continue
        feed = Feed(id=feed_id, url=f"http://corpus/{name}", name=name)
        for entry in parsed.entries:
            story = normalize.story_from_entry(
                entry, feed=feed, publisher=name, fetched_at=fetched_at
            )
            if story.key not in seen:
                seen.add(story.key)
                stories.append(story)
    return stories


def clusters_of(stories: Sequence[Story]) -> list[Cluster]:
    """The near-duplicate clusters (roots with their twins), as the poller groups them."""
    roots = dedupe.group_near_duplicates(stories, [])
    members: dict[str, list[Story]] = {}
    for story in stories:
        members.setdefault(roots.get(story.key, story.key), []).append(story)
    return [Cluster(tuple(sorted(group, key=lambda s: s.published))) for group in members.values()]


def report(stories: Sequence[Story], clusters: Sequence[Cluster]) -> str:
    """The figures as Markdown."""
    multi = [c for c in clusters if len({s.publisher for s in c.stories}) > 1]
    lines = [
        f"{len(stories)} distinct stories from "
        f"{len({s.publisher for s in stories})} outlets, {len(clusters)} clusters, "
        f"{len(multi)} of them carried by more than one outlet.",
        "",
        "Clusters reaching K distinct publishers within M minutes of the first report:",
        "",
        "| K \\ M | " + " | ".join(f"{m} min" for m in MINUTES) + " |",
        "|---|" + "---|" * len(MINUTES),
    ]
    for k in KS:
        counts = [sum(1 for c in clusters if c.publishers_within(m) >= k) for m in MINUTES]
        shares = [f"{n} ({100 * n / len(clusters):.2f} %)" for n in counts]
        lines.append(f"| {k} | " + " | ".join(shares) + " |")
    lines += ["", "The largest clusters (distinct publishers, span, first title):", ""]
    biggest = sorted(multi, key=lambda c: -len({s.publisher for s in c.stories}))[:12]
    for cluster in biggest:
        span = cluster.stories[-1].published - cluster.stories[0].published
        outlets = sorted({s.publisher for s in cluster.stories})
        lines.append(
            f"- {len(outlets)} ({', '.join(outlets)}), span {span}: {cluster.stories[0].title[:90]}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=BUNDLED_CORPUS)
    parser.add_argument("--markdown", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    stories = corpus_stories(args.corpus)
    text = report(stories, clusters_of(stories))
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
