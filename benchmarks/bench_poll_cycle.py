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
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Figures = dict[str, Any]


# ── feed server (own process) ──────────────────────────────────────────────


def feed_bodies(count: int) -> dict[str, bytes]:
    """1,000 distinct feeds from the real snapshots (the two non-feeds skipped):
    each copy's links get a `?feed=n` suffix so 1,000 feeds are 1,000 sources."""
    from bot.replay import BUNDLED_CORPUS

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
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    conn.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
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


def measure_poll(urls: list[str], semantic: str, profile: str | None, out: Connection) -> None:
    """Process entry: cold and warm `poll_once` over `urls`; sends the figures."""
    out.send(asyncio.run(_measure_poll(urls, semantic, Path(profile) if profile else None)))


async def _measure_poll(urls: list[str], semantic: str, profile: Path | None) -> Figures:
    from bot.app import build_app
    from bot.model import ALL_RULES, Destination
    from bot.pipeline import poll_once
    from bot.settings import load_settings

    clock_now = [datetime.now(UTC)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(overrides=_bench_settings(Path(tmp), semantic))
        app = await build_app(settings, clock=lambda: clock_now[0])
        for n, url in enumerate(urls):
            await app.store.add_feed(url, f"feed{n}", backfill=5)
        await app.store.subscribe(Destination("console", "bench"), [ALL_RULES], actor="bench")
        figures: Figures = {"semantic": semantic, "rss_before_mb": rss_mb()}
        cold_profile = profile / f"cold-{semantic}.prof" if profile else None
        cold, figures["cold_s"], figures["cold_cpu_s"] = await timed(
            lambda: poll_once(app.pipeline), cold_profile
        )
        figures["rss_after_cold_mb"] = rss_mb()
        clock_now[0] += timedelta(days=1)
        warm_profile = profile / f"warm-{semantic}.prof" if profile else None
        warm, figures["warm_s"], figures["warm_cpu_s"] = await timed(
            lambda: poll_once(app.pipeline), warm_profile
        )
        await app.close()
    figures.update(cold=_report(cold), warm=_report(warm), peak_rss_mb=peak_rss_mb())
    return figures


def _bench_settings(data_dir: Path, semantic: str) -> dict[str, Any]:
    """Settings for the bench: loopback allowed, and every feed is on one host
    (127.0.0.1), so the per-host limit is raised to the global one."""
    return {
        "data_dir": data_dir,
        "allow_private_networks": True,
        "poll_interval": 60,
        "feeds_file": None,
        "per_host_concurrency": 64,
        "fetch_concurrency": 64,
        "semantic": semantic,
    }


def _report(report: Any) -> Figures:
    """The counts of a PollReport, as plain data to send between processes."""
    fields = ("feeds_polled", "feeds_failed", "not_modified", "entries_seen", "new_stories")
    return {name: getattr(report, name) for name in (*fields, "alerts", "outbox_rows")}


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
        f"{figures['rss_after_cold_mb']:.0f} MB, peak {figures['peak_rss_mb']:.0f} MB"
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


def main(count: int, modes: list[str], profile: str | None, baseline: bool) -> None:
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
        for mode in modes:
            print_poll(in_process(measure_poll, urls, mode, profile))
        base = in_process(measure_baseline, urls) if baseline else None
        print_baseline(base)
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
    args = parser.parse_args()
    main(args.feeds, args.semantic, args.profile, not args.no_baseline)
