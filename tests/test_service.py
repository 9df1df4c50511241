"""`newswatch run` as people run it: a subprocess with the real scheduler.

The service (APScheduler poll tick and delivery loop, the HTTP server with
/healthz and /metrics) polls a real NPR feed on a loopback server; the feed
then changes, the new matching stories must alert on the console exactly
once, and SIGTERM must stop it cleanly (exit 0, nothing left in the outbox).

The feed's dates are moved to the last minutes so its own posting rhythm
asks for polls every few seconds (the adaptive interval would otherwise wait
hours between two real NPR snapshots).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from bot.core.model import ALL_RULES, Destination
from bot.store import open_store
from tests.support.data import FEEDS
from tests.support.feed_server import FeedServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = FEEDS
NPR = sorted((CORPUS / "npr").glob("npr-news-2024-04-*.xml"))
RULES = HERE / "data" / "e2e-rules.yaml"
TITLE_RULE = re.compile(r"\b(iran|ukraine|ukrainian|kyiv)\b", re.IGNORECASE)
PUB_DATE = re.compile(rb"<pubDate>[^<]*</pubDate>")


def recent_dates(body: bytes, now: datetime) -> bytes:
    """Every item dated a few seconds apart, newest first, ending at `now`."""
    count = iter(range(10_000))

    def date(_: re.Match[bytes]) -> bytes:
        when = now - timedelta(seconds=5 * next(count))
        return f"<pubDate>{format_datetime(when)}</pubDate>".encode()

    return PUB_DATE.sub(date, body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def links(body: bytes) -> dict[str, str]:
    return {e.link: e.title for e in feedparser.parse(body).entries if e.get("link")}


async def wait_for(check: object, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_run_polls_alerts_once_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    first, second = (recent_dates(p.read_bytes(), datetime.now(UTC)) for p in NPR[1:3])
    old = links(first)
    expected = {
        link
        for link, title in links(second).items()
        if link not in old and TITLE_RULE.search(title)
    }
    assert expected, "the two snapshots must differ by at least one matching story"

    async with FeedServer() as feeds:
        feeds.serve_bytes("/npr.xml", first, etag='"one"')
        (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - url: {feeds.url('/npr.xml')}\n")
        database = f"sqlite:///{tmp_path}/service.db"
        store = await open_store(database)
        await store.subscribe(Destination("console", "desk"), [ALL_RULES], actor="test")
        await store.close()
        port = free_port()
        env = {
            **os.environ,
            "NEWSWATCH_DATA_DIR": str(tmp_path),
            "NEWSWATCH_DATABASE_URL": database,
            "NEWSWATCH_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
            "NEWSWATCH_RULES_FILE": str(RULES),
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_POLL_INTERVAL": "1",
            "NEWSWATCH_HTTP_PORT": str(port),
            "NEWSWATCH_SEMANTIC": "off",
        }
        for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "NEWSWATCH_CONFIG"):
            env.pop(name, None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

                async def healthy() -> bool:
                    try:
                        return (await client.get("/healthz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await wait_for(healthy, 60, "/healthz")
                await wait_for(_async(lambda: feeds.hits["/npr.xml"] >= 1), 30, "the first poll")
                feeds.serve_bytes("/npr.xml", second, etag='"two"')
                hits = feeds.hits["/npr.xml"]
                await wait_for(_async(lambda: feeds.hits["/npr.xml"] > hits + 1), 60, "re-polls")
                metrics = await _outbox_drained(client)
                assert "newswatch_feeds 1" in metrics
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)

    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, stderr[-2000:]
    alerted = [line for line in stdout.splitlines() if line.startswith("http")]
    assert sorted(alerted) == sorted(expected), stdout[-3000:]
    assert "stopping" in stderr


def _async(check: object) -> object:
    async def run() -> bool:
        return bool(check())  # type: ignore[operator]

    return run


async def _outbox_drained(client: httpx.AsyncClient) -> str:
    """Wait until /metrics shows an empty outbox; return the metrics text."""
    text = ""

    async def drained() -> bool:
        nonlocal text
        text = (await client.get("/metrics")).text
        return "newswatch_outbox_pending 0" in text

    await wait_for(drained, 30, "an empty outbox")
    return text
