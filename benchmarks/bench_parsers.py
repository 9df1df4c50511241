"""Which XML feed parser should newswatch use? Speed and correctness on the real corpus.

Compares feedparser, fastfeedparser and a direct lxml reader (all reduced to the
same `ParsedFeed` with the same text cleaning), plus the shipped `parse_feed`
(lxml first, feedparser for malformed XML). Prints markdown tables.

    .venv/bin/python benchmarks/bench_parsers.py [--rounds 5]

Correctness: item counts against the corpus's SOURCES.md, items with a title,
an absolute link and a date, and agreement with feedparser (the long-standing
reference) on (title, link, published) per item. Robustness: how many files of
feedparser's ill-formed, entity and encoding suites each reader accepts.
"""

from __future__ import annotations

import argparse
import ast
import re
import time
from calendar import timegm
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastfeedparser

from bot.core.model import Entry, ParsedFeed
from bot.pipeline.parse.parser import (
    html_to_text,
    parse_date,
    parse_feed,
    read_xml_with_feedparser,
    read_xml_with_lxml,
)

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT / "bot" / "cli" / "corpus"
FP_TESTS = ROOT / "tests" / "data" / "feedparser"
URL = "https://news.test/feed"
Reader = Callable[[bytes], ParsedFeed]


def read_with_fastfeedparser(body: bytes) -> ParsedFeed:
    """fastfeedparser's result mapped to our model with our text cleaning."""
    result: Any = fastfeedparser.parse(body)
    entries = tuple(_fast_entry(e) for e in result.entries)
    return ParsedFeed(html_to_text(result.feed.get("title")) or None, None, entries)


def _fast_entry(entry: Any) -> Entry:
    content = entry.get("content") or []
    return Entry(
        guid=entry.get("id"),
        link=entry.get("link"),
        title=html_to_text(entry.get("title")),
        summary=html_to_text(entry.get("description")),
        content=html_to_text(content[0].get("value") if content else None, paragraphs=True),
        published=parse_date(entry.get("published") or entry.get("updated")),
    )


READERS: dict[str, Reader] = {
    "feedparser": lambda body: read_xml_with_feedparser(body, URL, None),
    "fastfeedparser": read_with_fastfeedparser,
    "lxml (direct)": lambda body: read_xml_with_lxml(body, URL),
    "parse_feed (shipped)": lambda body: parse_feed(
        body, url=URL, content_type=None, fetched_at=datetime(2030, 1, 1, tzinfo=UTC)
    ),
}


def corpus() -> list[tuple[str, bytes, int]]:
    """(name, body, declared item count) for every real feed in the corpus."""
    table = (FEEDS / "SOURCES.md").read_text()
    rows = re.findall(r"^\| `([^`]+\.xml)` \|.*\| (\d+) \| `[0-9a-f]+…` \|$", table, re.M)
    return [
        (name, (FEEDS / name).read_bytes(), int(count))
        for name, count in rows
        if not name.startswith("_edge-cases/")
    ]


def items_per_second(reader: Reader, bodies: list[bytes], rounds: int) -> float:
    """Best of `rounds` passes over all bodies."""
    best = float("inf")
    items = 0
    for _ in range(rounds):
        started = time.perf_counter()
        items = sum(len(reader(body).entries) for body in bodies)
        best = min(best, time.perf_counter() - started)
    return items / best


def _key(entry: Entry) -> tuple[str, str | None, int | None]:
    stamp = timegm(entry.published.utctimetuple()) if entry.published else None
    return (entry.title, entry.link, stamp)


def correctness(reader: Reader, files: list[tuple[str, bytes, int]]) -> dict[str, int]:
    """Counts of what the reader got right over the corpus."""
    tally = {"files": 0, "count_ok": 0, "items": 0, "titled": 0, "linked": 0, "dated": 0}
    tally["agree"] = 0
    for _name, body, declared in files:
        feed = reader(body)
        reference = {_key(e) for e in read_xml_with_feedparser(body, URL, None).entries}
        tally["files"] += 1
        tally["count_ok"] += len(feed.entries) == declared
        tally["items"] += len(feed.entries)
        tally["titled"] += sum(1 for e in feed.entries if e.title)
        tally["linked"] += sum(1 for e in feed.entries if (e.link or "").startswith("http"))
        tally["dated"] += sum(1 for e in feed.entries if e.published)
        tally["agree"] += sum(1 for e in feed.entries if _key(e) in reference)
    return tally


def robustness(reader: Reader) -> tuple[int, int]:
    """(accepted, total) over feedparser's ill-formed, entity and encoding suites."""
    paths = [
        p
        for folder in ("illformed", "entities", "encoding")
        for p in sorted((FP_TESTS / folder).rglob("*.xml"))
    ]
    accepted = 0
    for path in paths:
        try:
            reader(path.read_bytes())
        except Exception:  # any failure counts; this is a measurement, not error handling
            continue
        accepted += 1
    return accepted, len(paths)


def entity_titles(reader: Reader) -> tuple[int, int]:
    """(correct, total) feed titles over feedparser's entity suite (`&aacute;` and friends)."""
    correct = total = 0
    for path in sorted((FP_TESTS / "entities").glob("*.xml")):
        match = re.search(r"feed\['title'\] == ('.*')", path.read_text("utf-8", "replace"))
        if match is None:
            continue
        total += 1
        expected = html_to_text(ast.literal_eval(match.group(1)))
        try:
            correct += reader(path.read_bytes()).title == expected
        except Exception:  # a refusal is simply not correct
            continue
    return correct, total


def main() -> None:
    """Run every reader over the corpus and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    files = corpus()
    bodies = [body for _, body, _ in files]
    size = sum(len(b) for b in bodies)
    print(f"corpus: {len(files)} feeds, {size:,} bytes, best of {rounds} rounds\n")
    print("| reader | items/s | ms/feed | counts ok | items | titled | linked | dated |"
          " agree w/ feedparser | accepts ill-formed/entities/encoding |"
          " entity titles right |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, reader in READERS.items():
        speed = items_per_second(reader, bodies, rounds)
        tally = correctness(reader, files)
        accepted, total = robustness(reader)
        right, entity_total = entity_titles(reader)
        ms_per_feed = 1000 * tally["items"] / speed / len(files)
        print(
            f"| {name} | {speed:,.0f} | {ms_per_feed:.2f} | {tally['count_ok']}/{tally['files']} "
            f"| {tally['items']} | {tally['titled']} | {tally['linked']} | {tally['dated']} "
            f"| {tally['agree']} | {accepted}/{total} | {right}/{entity_total} |"
        )


if __name__ == "__main__":
    main()
