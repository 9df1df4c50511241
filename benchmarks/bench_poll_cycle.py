"""Benchmark (b): one poll cycle of 1,000 feeds served on loopback.

Runs the real `poll_once` (fetch → parse → normalize → dedupe → match →
summarize → route → store, on SQLite) over 1,000 feeds, cold (every feed
returns its full body) and warm (every feed answers 304 to the stored ETag),
beside a plain sequential loop (httpx GET + feedparser.parse per feed) in the
same run. Prints the figures and the peak RSS.

    python benchmarks/bench_poll_cycle.py [--feeds 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.model import ALL_RULES, Destination  # noqa: E402
from bot.pipeline import poll_once  # noqa: E402
from bot.replay import BUNDLED_CORPUS  # noqa: E402
from bot.settings import load_settings  # noqa: E402


def corpus_bodies() -> list[bytes]:
    """The real feed snapshots, skipping the two non-feeds."""
    files = sorted(p for p in BUNDLED_CORPUS.rglob("*.xml") if "_edge" not in str(p))
    return [p.read_bytes() for p in files]


def unique_body(body: bytes, n: int) -> bytes:
    """Make each feed's links distinct so 1,000 feeds are 1,000 sources, not one."""
    return body.replace(b"</link>", f"?feed={n}</link>".encode())


async def start_server(bodies: dict[str, bytes]) -> tuple[web.AppRunner, int]:
    etags = {path: '"' + hashlib.sha1(body).hexdigest()[:16] + '"' for path, body in bodies.items()}

    async def serve(request: web.Request) -> web.Response:
        path = request.path
        if request.headers.get("If-None-Match") == etags[path]:
            return web.Response(status=304, headers={"ETag": etags[path]})
        return web.Response(
            body=bodies[path], content_type="application/rss+xml", headers={"ETag": etags[path]}
        )

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def sequential_feedparser(urls: list[str]) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient() as client:
        for url in urls:
            response = await client.get(url)
            feedparser.parse(response.content)
    return time.perf_counter() - started


async def main(count: int) -> None:
    corpus = corpus_bodies()
    bodies = {f"/feed{n}.xml": unique_body(corpus[n % len(corpus)], n) for n in range(count)}
    runner, port = await start_server(bodies)
    urls = [f"http://127.0.0.1:{port}{path}" for path in bodies]
    clock_now = [datetime.now(UTC)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            overrides={
                "data_dir": Path(tmp),
                "allow_private_networks": True,
                "poll_interval": 60,
                "feeds_file": None,
                "per_host_concurrency": 64,
                "fetch_concurrency": 64,
            }
        )
        app = await build_app(settings, clock=lambda: clock_now[0])
        for n, url in enumerate(urls):
            await app.store.add_feed(url, f"feed{n}", backfill=5)
        await app.store.subscribe(Destination("console", "bench"), [ALL_RULES], actor="bench")
        started = time.perf_counter()
        cold = await poll_once(app.pipeline)
        cold_seconds = time.perf_counter() - started
        clock_now[0] += timedelta(days=1)
        started = time.perf_counter()
        warm = await poll_once(app.pipeline)
        warm_seconds = time.perf_counter() - started
        await app.close()
    baseline = await sequential_feedparser(urls)
    await runner.cleanup()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"feeds: {count} (per-host limit raised to 64: every feed is on 127.0.0.1)")
    print(
        f"cold poll_once: {cold_seconds:.2f} s — {cold.feeds_polled} polled, "
        f"{cold.entries_seen} entries, {cold.new_stories} new stories, {cold.alerts} alerts, "
        f"{cold.feeds_failed} failed"
    )
    print(
        f"warm poll_once: {warm_seconds:.2f} s — {warm.not_modified} not modified (304), "
        f"{warm.feeds_failed} failed"
    )
    print(f"sequential httpx + feedparser loop: {baseline:.2f} s")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    asyncio.run(main(parser.parse_args().feeds))
