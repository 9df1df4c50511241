"""Benchmark (b): one poll cycle of 1,000 feeds served on loopback.

Runs the real `poll_once` (fetch → parse → normalize → dedupe → match →
summarize → route → store, on SQLite) over 1,000 feeds, cold (every feed
returns its full body) and warm (every feed answers 304 to the stored ETag),
beside a plain sequential loop (httpx GET + feedparser.parse per feed) against
the same server in the same run.

Every party runs in its own process, so nobody's CPU or memory is charged to
another: the aiohttp feed server (it builds the 1,000 unique bodies itself and
answers with ETags and 304s), one fresh measuring process per `semantic`
setting (off, on), and one for the sequential baseline. Each measuring process
reports its own wall time, CPU time (process_time: all its threads) and peak
RSS (ru_maxrss), plus the RSS it had before the first poll.

    python benchmarks/bench_poll_cycle.py [--feeds 1000] [--semantic off on] [--profile DIR]
        [--batch-size 500] [--index-memory 20000]

`--index-memory N` also measures, in one more process, what the near-duplicate
index holds for a window of N distinct stories (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.core.model import Story

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Figures = dict[str, Any]


# ── feed server (own process) ──────────────────────────────────────────────


def feed_bodies(count: int) -> dict[str, bytes]:
    """1,000 distinct feeds from the real snapshots (the two non-feeds skipped):
    each copy's links get a `?feed=n` suffix so 1,000 feeds are 1,000 sources."""
    from bot.cli.replay import BUNDLED_CORPUS

    files = sorted(p for p in BUNDLED_CORPUS.rglob("*.xml") if "_edge" not in str(p))
    corpus = [p.read_bytes() for p in files]
    return {
        f"/feed{n}.xml": corpus[n % len(corpus)].replace(b"</link>", f"?feed={n}</link>".encode())
        for n in range(count)
    }


def serve_feeds(count: int, conn: Connection) -> None:
    """Process entry: serve the feeds on 127.0.0.1 until the parent sends anything."""
    asyncio.run(_serve_feeds(count, conn))


async def _serve_feeds(count: int, conn: Connection) -> None:
    from aiohttp import web

    bodies = feed_bodies(count)
    etags = {path: '"' + hashlib.sha1(body).hexdigest()[:16] + '"' for path, body in bodies.items()}

    async def serve(request: web.Request) -> web.Response:
        etag = etags[request.path]
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = bodies[request.path]
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=2048).start()
    conn.send(int(runner.addresses[0][1]))
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()
    conn.send(time.process_time())


# ── measuring processes ────────────────────────────────────────────────────


def rss_mb() -> float:
    """This process's current RSS in MB (from /proc; ru_maxrss is only the peak)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def timed(
    run: Callable[[], Coroutine[Any, Any, Any]], profile: Path | None = None
) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process) of one awaited call."""
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    result = await run()
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure_poll(
    urls: list[str], semantic: str, profile: str | None, batch_size: int | None, out: Connection
) -> None:
    """Process entry: cold and warm `poll_once` over `urls`; sends the figures."""
    profile_dir = Path(profile) if profile else None
    out.send(asyncio.run(_measure_poll(urls, semantic, profile_dir, batch_size)))


async def _measure_poll(
    urls: list[str], semantic: str, profile: Path | None, batch_size: int | None
) -> Figures:
    from bot.core.model import ALL_RULES, Destination
    from bot.core.settings import load_settings
    from bot.pipeline.poll import poll_once
    from bot.service.app import build_app

    clock_now = [datetime.now(UTC)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides=_bench_settings(Path(tmp), semantic))
        # as `newswatch run` does: a fresh database is migrated in a child process
        app = await build_app(settings, clock=lambda: clock_now[0], migrate_apart=True)
        if batch_size:
            app.pipeline.config = replace(app.pipeline.config, batch_size=batch_size)
        for n, url in enumerate(urls):
            await app.store.add_feed(url, f"feed{n}", backfill=5)
        await app.store.subscribe(Destination("console", "bench"), [ALL_RULES], actor="bench")
        figures: Figures = {"semantic": semantic, "batch_size": app.pipeline.config.batch_size}
        figures["rss_before_mb"] = rss_mb()
        cold_profile = profile / f"cold-{semantic}.prof" if profile else None
        cold, figures["cold_s"], figures["cold_cpu_s"] = await timed(
            lambda: poll_once(app.pipeline), cold_profile
        )
        figures["rss_after_cold_mb"] = rss_mb()
        cold_at = clock_now[0]
        clock_now[0] += timedelta(days=1)
        warm_profile = profile / f"warm-{semantic}.prof" if profile else None
        warm, figures["warm_s"], figures["warm_cpu_s"] = await timed(
            lambda: poll_once(app.pipeline), warm_profile
        )
        # The polls' peak is read before the near-duplicate comparison below: that
        # step re-reads 5,000 stored stories the way the old code did (~10 MB), which
        # is this script's own work, not the poll's.
        figures["peak_rss_mb"] = peak_rss_mb()
        if hasattr(app.pipeline, "near_index"):  # (so the script still measures older code)
            figures["steady"] = await steady_batch(app, cold_at)
        await app.close()
    figures.update(cold=_report(cold), warm=_report(warm), peak_with_comparison_mb=peak_rss_mb())
    return figures


async def steady_batch(app: Any, now: datetime) -> Figures:
    """Wall time of the near-duplicate stage for 50 fresh copies of stored stories
    after the cold poll: re-reading and indexing the newest 5,000 stored stories
    (before the index), then the index's top-up and lookup. Saves nothing."""
    from bot.pipeline.dedupe.batch import group_near_duplicates
    from bot.pipeline.poll import near_duplicates

    since = now - timedelta(hours=48)
    stored = await app.store.recent_stories(since, limit=50)
    fresh = [replace(s, key=f"fresh-{n}", title=f"{s.title} again") for n, s in enumerate(stored)]
    # The first lookup tops the index up with the cold poll's last batch.
    _, catch_up_s, _ = await timed(lambda: near_duplicates(app.pipeline, fresh[:1], set(), now))
    start = time.perf_counter()
    old_way = group_near_duplicates(fresh, await app.store.recent_stories(since))
    old_s = time.perf_counter() - start
    new_way, new_s, _ = await timed(lambda: near_duplicates(app.pipeline, fresh, set(), now))
    figures = {"catch_up_s": catch_up_s, "old_s": old_s, "new_s": new_s}
    indexed = len(app.pipeline.near_index)
    return {**figures, "old_groups": len(old_way), "new_groups": len(new_way), "indexed": indexed}


def _bench_settings(data_dir: Path, semantic: str) -> dict[str, Any]:
    """Settings for the bench: loopback allowed, and every feed is on one host
    (127.0.0.1), so the per-host limit is raised to the global one and its
    spacing between fetch starts is off."""
    return {
        "data_dir": data_dir,
        "allow_private_networks": True,
        "poll_interval": 60,
        "feeds_file": None,
        "per_host_concurrency": 64,
        "per_host_spacing": 0,
        "fetch_concurrency": 64,
        "semantic": semantic,
    }


def _report(report: Any) -> Figures:
    """The counts of a PollReport, as plain data to send between processes."""
    fields = ("feeds_polled", "feeds_failed", "not_modified", "entries_seen", "new_stories")
    return {name: getattr(report, name) for name in (*fields, "alerts", "outbox_rows")}


def measure_index_memory(count: int, out: Connection) -> None:
    """Process entry: bytes a loaded NearDuplicateIndex holds for `count` stories."""
    out.send(asyncio.run(_measure_index_memory(count)))


async def _measure_index_memory(count: int) -> Figures:
    """Store `count` distinct stories and measure a freshly loaded index."""
    from bot.store import NewStory, open_store

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'index.db'}")
        await store.save_stories([NewStory(story, None) for story in corpus_stories(count, now)])
        await _index_bytes(store, now - timedelta(hours=48))  # warms SQLAlchemy's caches
        stories, held = await _index_bytes(store, now - timedelta(hours=48))
        await store.close()
    return {"stories": stories, "bytes": held}


async def _index_bytes(store: Any, since: datetime) -> tuple[int, int]:
    """(stories, bytes) a NearDuplicateIndex loaded now keeps alive (tracemalloc;
    the shared `event_terms` cache emptied, so only the index holds terms)."""
    import gc
    import tracemalloc

    from bot.pipeline.dedupe.fingerprint import event_terms
    from bot.pipeline.dedupe.index import NearDuplicateIndex

    event_terms.cache_clear()
    gc.collect()
    tracemalloc.start()
    index = NearDuplicateIndex()
    await index.refresh(store, since)
    event_terms.cache_clear()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return len(index), held


def corpus_stories(count: int, now: datetime) -> list[Story]:
    """`count` distinct stories: the corpus's, then copies numbered in the title."""
    from bot.cli.replay import BUNDLED_CORPUS
    from bot.core.model import Feed
    from bot.pipeline.normalize import story_from_entry
    from bot.pipeline.parse.parser import parse_feed

    entries = {}
    for path in sorted(p for p in BUNDLED_CORPUS.rglob("*.xml") if "_edge" not in str(p)):
        parsed = parse_feed(path.read_bytes(), url=f"https://{path.parent.name}.example/rss",
                            content_type="application/rss+xml", fetched_at=now)  # fmt: skip
        entries.update({entry.title: entry for entry in parsed.entries})
    feed = Feed(id=1, url="https://corpus.example/rss", name="corpus")
    unique = list(entries.values())
    stories = []
    for n in range(count):
        entry, copy = unique[n % len(unique)], n // len(unique)
        if copy:
            entry = replace(entry, title=f"{entry.title} {copy}")
        story = story_from_entry(entry, feed=feed, publisher=f"p{n}", fetched_at=now)
        stories.append(replace(story, key=f"{n:020d}", canonical_url="", guid=None, feed_id=None))
    return stories


def measure_baseline(urls: list[str], out: Connection) -> None:
    """Process entry: the plain sequential loop (httpx GET + feedparser.parse per feed)."""
    import feedparser
    import httpx

    async def loop() -> int:
        entries = 0
        async with httpx.AsyncClient() as client:
            for url in urls:
                response = await client.get(url)
                entries += len(feedparser.parse(response.content).entries)
        return entries

    entries, wall, cpu = asyncio.run(timed(loop))
    out.send({"wall_s": wall, "cpu_s": cpu, "entries": entries, "peak_rss_mb": peak_rss_mb()})


def in_process(target: Callable[..., None], *args: Any) -> Figures:
    """Run `target(*args, conn)` in a fresh (spawned) interpreter and return what it sends."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=target, args=(*args, theirs))
    process.start()
    while not ours.poll(1.0):
        if not process.is_alive():
            raise SystemExit(f"{target.__name__} died (exit code {process.exitcode})")
    figures: Figures = ours.recv()
    process.join()
    return figures


# ── report ─────────────────────────────────────────────────────────────────


def machine() -> str:
    """Which machine, Python and load the figures come from."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {load}"
    )


def print_poll(figures: Figures) -> None:
    cold, warm = figures["cold"], figures["warm"]
    print(
        f"semantic {figures['semantic']}: cold {figures['cold_s']:.2f} s wall / "
        f"{figures['cold_cpu_s']:.2f} s CPU — {cold['feeds_polled']} polled, "
        f"{cold['entries_seen']} entries, {cold['new_stories']} new stories, "
        f"{cold['alerts']} alerts, {cold['feeds_failed']} failed"
    )
    print(
        f"  warm {figures['warm_s']:.2f} s wall / {figures['warm_cpu_s']:.2f} s CPU — "
        f"{warm['not_modified']} not modified (304), {warm['feeds_failed']} failed"
    )
    print(
        f"  RSS before first poll {figures['rss_before_mb']:.0f} MB, after cold "
        f"{figures['rss_after_cold_mb']:.0f} MB, peak {figures['peak_rss_mb']:.0f} MB "
        f"({figures.get('peak_with_comparison_mb', figures['peak_rss_mb']):.0f} MB with "
        "the near-duplicate comparison after the polls)"
    )
    print(f"  batch size {figures['batch_size']}")
    if steady := figures.get("steady"):
        print(
            f"  near-duplicate stage, 50 fresh stories after the cold poll: "
            f"{steady['old_s'] * 1000:.0f} ms re-reading the newest 5,000 "
            f"({steady['old_groups']} twins), {steady['new_s'] * 1000:.1f} ms with the index "
            f"({steady['indexed']} stories, {steady['new_groups']} twins; its catch-up "
            f"with the cold poll's last batch {steady['catch_up_s'] * 1000:.0f} ms)"
        )


def print_baseline(base: Figures | None) -> None:
    if base is None:
        print("sequential httpx + feedparser loop: skipped (--no-baseline)")
        return
    print(
        f"sequential httpx + feedparser loop: {base['wall_s']:.2f} s wall / "
        f"{base['cpu_s']:.2f} s CPU, {base['entries']} entries, "
        f"peak RSS {base['peak_rss_mb']:.0f} MB"
    )


def main(args: argparse.Namespace) -> None:
    count, profile = args.feeds, args.profile
    print(f"machine: {machine()}")
    print(f"feeds: {count} on 127.0.0.1 (per-host limit raised to the global 64)")
    if profile:
        Path(profile).mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve_feeds, args=(count, theirs), daemon=True)
    server.start()
    port = ours.recv()
    urls = [f"http://127.0.0.1:{port}/feed{n}.xml" for n in range(count)]
    try:
        for mode in args.semantic:
            print_poll(in_process(measure_poll, urls, mode, profile, args.batch_size))
        print_baseline(None if args.no_baseline else in_process(measure_baseline, urls))
        if args.index_memory:
            held = in_process(measure_index_memory, args.index_memory)
            stories, size = held["stories"], held["bytes"]
            print(
                f"near-duplicate index: {stories} stories hold {size / 2**20:.1f} MiB "
                f"({size / max(stories, 1):.0f} bytes a story)"
            )
    finally:
        ours.send("stop")
        print(f"feed server CPU: {ours.recv():.2f} s (its own process)")
        server.join()
    print(f"done: {machine()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--semantic", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--profile", help="directory for cProfile dumps of the polls")
    parser.add_argument("--no-baseline", action="store_true", help="skip the sequential loop")
    parser.add_argument("--batch-size", type=int, help="feeds per poll batch (default: the app's)")
    parser.add_argument(
        "--index-memory", type=int, default=0, metavar="N",
        help="also measure the near-duplicate index's memory for N distinct stories",
    )  # fmt: skip
    main(parser.parse_args())
