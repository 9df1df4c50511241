"""The composition root: builds every part from one Settings object.

Nothing else constructs stores, HTTP clients or notifiers; tests and the demo
build an `App` here with their own settings, clock and notifiers.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from bot.core.memory import freeze_heap, thaw_heap, trim_malloc, tune_malloc
from bot.core.metrics import PRUNED
from bot.core.model import Destination, PruneReport
from bot.core.settings import Settings, ensure_data_dir
from bot.delivery.loop import Deliverer, DeliveryPolicy
from bot.delivery.notices import NoticeSender
from bot.delivery.notifier import Notifier
from bot.pipeline.feedlist import FeedSpec, load_feed_list
from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits, make_http_client
from bot.pipeline.fetch.fulltext import FullText, page_limits, require_fulltext
from bot.pipeline.health import HealthLimits
from bot.pipeline.match import RuleBook
from bot.pipeline.poll import Pipeline, PollConfig
from bot.pipeline.route import Urgency
from bot.pipeline.subscribe import Subscriber
from bot.store import open_store, upgrade_apart
from bot.store.base import Store

if TYPE_CHECKING:
    from filters.llm_check import LlmChecker
    from filters.semantic import Embedder

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def instance_name() -> str:
    """A name for this process in leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class App:
    """Everything a running newswatch needs, wired together."""

    settings: Settings
    store: Store
    http: httpx.AsyncClient
    rulebook: RuleBook
    pipeline: Pipeline
    deliverer: Deliverer
    notices: NoticeSender
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    subscriber: Subscriber | None = None
    """WebSub subscriptions, when NEWSWATCH_PUBLIC_URL is set."""

    async def close(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.close()
        for notifier in self.notifiers.values():
            await notifier.close()
        await self.http.aclose()
        await self.store.close()
        thaw_heap()


def load_semantic(mode: str) -> Embedder | None:
    """The semantic tier's model per the `semantic` setting (auto, on, off).

    `auto` quietly goes without when the extra is not installed; `on` raises
    SemanticUnavailableError (one line with the fix) instead.
    """
    if mode == "off":
        return None
    from filters.semantic import load_embedder, semantic_available

    if mode == "auto" and not semantic_available():
        log.info("semantic tier off: install newswatch[semantic] to use topic rules")
        return None
    return load_embedder()


def llm_checker(settings: Settings, http: httpx.AsyncClient) -> LlmChecker | None:
    """The chat model that confirms `llm_check` rules, when NEWSWATCH_LLM_URL is set.

    It shares the feed client's SSRF guard: a model on loopback or a private
    network (a local llama.cpp or Ollama) needs NEWSWATCH_ALLOW_PRIVATE_NETWORKS.
    """
    if settings.llm_url is None:
        return None
    from filters.llm_check import LlmChecker

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmChecker(http, settings.llm_url, settings.llm_model, key, settings.llm_timeout)


def fetch_limits(settings: Settings) -> FetchLimits:
    return FetchLimits(
        total_timeout=settings.fetch_timeout,
        max_bytes=settings.max_feed_bytes,
        per_host_concurrency=settings.per_host_concurrency,
        per_host_spacing=settings.per_host_spacing,
        global_concurrency=settings.fetch_concurrency,
        allow_private_networks=settings.allow_private_networks,
    )


async def build_app(
    settings: Settings,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    clock: Callable[[], datetime] = utc_now,
    migrate_apart: bool = False,
) -> App:
    """Open the store (migrating it), compile the rules and wire the pipeline.

    glibc's malloc is tuned first (bot/core/memory.py) and trimmed once the
    rules are compiled: loading the semantic model frees ~9 MB it used only
    while loading. What is alive then is frozen out of the cyclic collector's
    full passes until `App.close` (`freeze_heap`), so a full collection
    walks only what came since and holds the loop that much less.

    With `migrate_apart` (the service, `newswatch run`) a database that is
    not at head is migrated in a child process
    (`upgrade_apart`), so this long-lived process never imports Alembic;
    tests and tools migrate in-process, which is quicker for a one-off.
    """
    tune_malloc()
    if settings.fulltext:
        require_fulltext()  # before anything is opened: a missing extra is one line
    ensure_data_dir(settings)
    if migrate_apart:
        await upgrade_apart(settings.effective_database_url)
    store = await open_store(settings.effective_database_url)
    limits = fetch_limits(settings)
    http = make_http_client(limits)
    rulebook = RuleBook(
        settings.rules_file,
        embedder=load_semantic(settings.semantic),
        llm=llm_checker(settings, http),
    )
    await rulebook.reload(store)
    freeze_heap()
    trim_malloc()
    owner = instance_name()
    registry = dict(notifiers or {})
    policy = DeliveryPolicy(
        owner=owner,
        max_attempts=settings.max_delivery_attempts,
        lease_seconds=settings.lease_seconds,
        edit_gap_seconds=settings.followup_gap,
    )
    deliverer = Deliverer(store=store, notifiers=registry, policy=policy, clock=clock)
    pipeline = Pipeline(
        store=store,
        fetcher=Fetcher(http, limits),
        rulebook=rulebook,
        config=PollConfig(
            interval_seconds=settings.poll_interval,
            owner=owner,
            lease_seconds=settings.lease_seconds,
            urgency=Urgency(settings.urgent_publishers, settings.urgent_minutes),
        ),
        clock=clock,
        fulltext=FullText(Fetcher(http, page_limits(limits))) if settings.fulltext else None,
        on_queued=deliverer.wake,
    )
    notices = NoticeSender(store=store, notifiers=registry, policy=policy, clock=clock)
    subscriber = None
    if settings.public_url is not None:
        subscriber = Subscriber(pipeline, http, settings.public_url, settings.max_feed_bytes)
        pipeline.on_fetched = subscriber.notice
    return App(settings, store, http, rulebook, pipeline, deliverer, notices, registry, subscriber)


SENT_RETENTION = timedelta(days=7)
"""Sent alerts and notices are kept this long (for `status`, edits and audits)."""


async def prune_store(store: Store, settings: Settings, now: datetime) -> PruneReport:
    """One retention pass: stories older than NEWSWATCH_RETENTION_DAYS (except what
    dedup and the outbox need), sent alerts and notices older than a week."""
    report = await store.prune(
        stories_before=now - timedelta(days=settings.retention_days),
        sent_before=now - SENT_RETENTION,
    )
    PRUNED.labels("stories").inc(report.stories)
    PRUNED.labels("outbox").inc(report.outbox_rows)
    PRUNED.labels("notices").inc(report.notices)
    log.info(
        "pruned %d stories, %d sent alerts, %d notices",
        report.stories,
        report.outbox_rows,
        report.notices,
    )
    return report


def health_limits(settings: Settings) -> HealthLimits:
    """When a feed counts as failing or quiet, from the NEWSWATCH_FEED_* settings."""
    return HealthLimits(
        failing_after=settings.feed_failing_after,
        quiet_factor=settings.feed_quiet_factor,
        quiet_min=timedelta(hours=settings.feed_quiet_hours),
    )


def admin_destinations(settings: Settings) -> list[Destination]:
    """Where feed-health notices go: each TELEGRAM_ADMIN_IDS user's private chat (their
    user id is its chat id) and SLACK_ADMIN_CHANNEL, for the platforms that are on."""
    found = []
    if settings.telegram_enabled:
        found += [Destination("telegram", admin) for admin in settings.telegram_admin_ids]
    if settings.slack_enabled and settings.slack_admin_channel:
        found.append(Destination("slack", settings.slack_admin_channel.strip()))
    return found


@asynccontextmanager
async def running_app(
    settings: Settings,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AsyncIterator[App]:
    """`build_app` as a context manager that always closes what it opened."""
    app = await build_app(settings, notifiers=notifiers, clock=clock)
    try:
        yield app
    finally:
        await app.close()


async def add_feeds(store: Store, specs: list[FeedSpec]) -> tuple[list[str], list[str]]:
    """Add feeds in one transaction (all or none), skipping known URLs; returns (added
    names, skipped URLs)."""
    added, skipped = await store.add_feeds(
        [(s.url, s.name, s.backfill) for s in specs],
        intervals={s.url: s.interval for s in specs if s.interval is not None},
    )
    return [feed.name for feed in added], skipped


async def seed_feeds(app: App) -> None:
    """On an empty database, add the feeds of the configured feeds file."""
    path = app.settings.feeds_file
    if path is None or await app.store.list_feeds():
        return
    specs = load_feed_list(path, default_backfill=app.settings.backfill)
    added, _ = await add_feeds(app.store, specs)
    log.info("seeded %d feeds from %s", len(added), path)
