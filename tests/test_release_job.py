"""The scheduler's release job: held alerts whose time has come become one digest."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.model import Delivery, Hold, OutboxJob
from bot.core.settings import load_settings
from bot.platforms.console import ConsoleNotifier
from bot.service.app import build_app
from bot.service.heartbeat import Heartbeat
from bot.service.run import InFlight, build_scheduler, job_ticks
from bot.store import NewStory
from tests.store_samples import chat, make_alert, make_story


async def test_the_release_job_queues_due_holds_as_a_digest(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={"data_dir": tmp_path, "feeds_file": None, "semantic": "off"}
    )
    now = datetime.now(UTC)
    out = io.StringIO()
    app = await build_app(settings, notifiers={"console": ConsoleNotifier(out)})
    try:
        destination = chat("demo", platform="console")
        rows = []
        for key, release in (("a", now - timedelta(minutes=1)), ("b", now + timedelta(hours=1))):
            story = make_story(key, fetched_at=now - timedelta(hours=1))
            held = (Delivery(destination, release, Hold.MUTE),)
            rows.append(NewStory(story, make_alert(story), held=held))
        await app.store.save_stories(rows)
        ticks = iter(range(1000))
        heartbeat = Heartbeat(dict.fromkeys(job_ticks(settings), 300.0), clock=lambda: next(ticks))
        scheduler = build_scheduler(app, InFlight(), heartbeat)
        # the poller and the delivery loop are loops of their own (`start_loops`)
        assert {job.id for job in scheduler.get_jobs()} == {"release", "health", "prune"}
        await scheduler.get_job("release").func()
        assert heartbeat.ages()["release"] < heartbeat.ages()["poll"]  # the tick beat it
        later = datetime.now(UTC)
        [item] = await app.store.claim_outbox(later, limit=5, owner="t", lease_seconds=5)
        assert item.job is OutboxJob.DIGEST and item.digest is not None
        assert [a.story.key for a in item.digest.alerts] == ["a"]  # b is not due yet
        await app.deliverer.deliver_item(item)
        assert "newswatch digest: 1 story held while this chat was muted" in out.getvalue()
    finally:
        await app.close()
