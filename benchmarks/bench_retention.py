"""Benchmark: database size for 1,000 feeds over 30 and 60 days, pruned and not.

    .venv/bin/python benchmarks/bench_retention.py [--feeds 1000] [--per-day 8]
        [--days 60] [--retention 30] [--markdown benchmarks/retention.md]

Two SQLite stores are fed the same simulated days. Each day every feed
publishes `--per-day` new stories (title, summary and content lengths taken
in turn from the bundled replay corpus's real items), 2 % of them alert three
chats (outbox rows, then marked sent, as delivery would), and every feed lists
its 20 newest items once, through `known_story_keys(…, seen_at=…)`, as each
poll does (what keeps a story a feed still carries). One store runs the
service's retention pass (`prune_store`: stories older than `--retention`
days, sent alerts after 7) once a day; the other never prunes. After day 30
and after the last day the file size and the bytes in use (file minus free
pages, which SQLite reuses) are recorded for both.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bot.cli.replay import BUNDLED_CORPUS  # noqa: E402
from bot.core.model import Alert, Destination, Match, Story  # noqa: E402
from bot.core.settings import load_settings  # noqa: E402
from bot.pipeline.parse import parse_feed  # noqa: E402
from bot.service.app import prune_store  # noqa: E402
from bot.store import NewStory, SqlStore, open_store  # noqa: E402
from bot.store.tables import outbox  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LISTED = 20
ALERT_SHARE = 0.02
CHATS = tuple(Destination("telegram", str(n)) for n in (101, 102, 103))


@dataclass(frozen=True, slots=True)
class Sizes:
    """One store's size at one point."""

    day: int
    stories: int
    file_bytes: int
    used_bytes: int


def corpus_texts() -> list[tuple[str, str, str]]:
    """(title, summary, content) of every distinct item in the bundled replay corpus."""
    found: dict[str, tuple[str, str, str]] = {}
    for path in sorted(BUNDLED_CORPUS.rglob("*")):
        if path.suffix not in (".xml", ".rss", ".atom") or not path.is_file():
            continue
        try:
            parsed = parse_feed(
                path.read_bytes(), url="https://corpus.example/", content_type=None, fetched_at=T0
            )
        except Exception:  # an edge-case snapshot that does not parse: not an item source
            continue
        for entry in parsed.entries:
            if entry.title:
                found.setdefault(entry.title, (entry.title, entry.summary, entry.content))
    return list(found.values())


def make_story(feed_id: int, n: int, day: int, text: tuple[str, str, str]) -> Story:
    title, summary, content = text
    key = hashlib.sha256(f"{feed_id}/{day}/{n}".encode()).hexdigest()
    url = f"https://feed{feed_id}.example/{day}/{n}"
    when = T0 + timedelta(days=day, minutes=n)
    return Story(
        key=key,
        title=f"{title} ({feed_id}.{day}.{n})",
        summary=summary,
        content=content,
        url=url,
        canonical_url=url,
        publisher=f"feed {feed_id}",
        published=when,
        fetched_at=when,
        guid=url,
        feed_id=feed_id,
        title_key=f"{title.lower()} {feed_id} {day} {n}",
        fingerprint=int(key[:15], 16),
    )


def new_story(story: Story, alerts: bool) -> NewStory:
    if not alerts:
        return NewStory(story, None)
    match = Match(rule="drone_strike", score=0.8, why='title: "drone"')
    return NewStory(story, Alert(story, (match,), story.summary[:300]), CHATS)


async def run_day(
    store: SqlStore, args: argparse.Namespace, day: int, texts: list[tuple[str, str, str]]
) -> None:
    items, latest = [], []
    for feed_id in range(1, args.feeds + 1):
        stories = [
            make_story(feed_id, n, day, texts[(feed_id * 97 + day * 13 + n) % len(texts)])
            for n in range(args.per_day)
        ]
        items += [
            new_story(s, (feed_id + n) % int(1 / ALERT_SHARE) == 0) for n, s in enumerate(stories)
        ]
        latest += stories
    for start in range(0, len(items), 500):
        await store.save_stories(items[start : start + 500])
    now = T0 + timedelta(days=day, hours=23)
    async with store.engine.begin() as conn:  # delivery, in bulk
        await conn.execute(
            sa.update(outbox).where(outbox.c.status == "pending").values(status="sent", sent_at=now)
        )
    await store.known_story_keys(latest[-LISTED * args.feeds :], seen_at=now)


async def sizes(store: SqlStore, path: Path, day: int) -> Sizes:
    async with store.engine.connect() as conn:
        pages = await conn.scalar(sa.text("PRAGMA page_count"))
        free = await conn.scalar(sa.text("PRAGMA freelist_count"))
        size = await conn.scalar(sa.text("PRAGMA page_size"))
        count = await conn.scalar(sa.text("SELECT count(*) FROM stories"))
    return Sizes(day, int(count), file_bytes(path), (int(pages) - int(free)) * int(size))


def file_bytes(path: Path) -> int:
    """The database file and its write-ahead log, on disk."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def simulate(args: argparse.Namespace, directory: Path) -> dict[str, list[Sizes]]:
    texts = corpus_texts()
    settings = load_settings(overrides={"retention_days": args.retention, "feeds_file": None})
    found: dict[str, list[Sizes]] = {"not pruned": [], "pruned": []}
    for label in found:
        path = directory / f"{label.replace(' ', '_')}.db"
        store = await open_store(f"sqlite:///{path}")
        try:
            for feed_id in range(1, args.feeds + 1):
                await store.add_feed(f"https://feed{feed_id}.example/rss", f"feed {feed_id}")
            started = time.perf_counter()
            for day in range(args.days):
                await run_day(store, args, day, texts)
                if label == "pruned":
                    await prune_store(
                        store, settings, T0 + timedelta(days=day, hours=23, minutes=30)
                    )
                if day + 1 in (30, args.days):
                    found[label].append(await sizes(store, path, day + 1))
            print(f"{label}: {args.days} days in {time.perf_counter() - started:.0f} s", flush=True)
        finally:
            await store.close()
    return found


def report(args: argparse.Namespace, found: dict[str, list[Sizes]]) -> str:
    load = os.getloadavg()
    lines = [
        f"### Database size, {args.feeds} feeds × {args.per_day} stories a day, "
        f"retention {args.retention} days ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"SQLite; {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. `bench_retention.py "
        f"--feeds {args.feeds} --per-day {args.per_day} --days {args.days}`.",
        "",
        "| store | day | stories kept | file (MB) | in use (MB) |",
        "|---|---|---|---|---|",
    ]
    for label, points in found.items():
        for point in points:
            lines.append(
                f"| {label} | {point.day} | {point.stories:,} | "
                f"{point.file_bytes / 1e6:.0f} | {point.used_bytes / 1e6:.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--per-day", type=int, default=8)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--retention", type=int, default=30)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        found = asyncio.run(simulate(args, Path(directory)))
    text = report(args, found)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
