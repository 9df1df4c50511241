"""The `newswatch` command line (also `python -m bot`).

Every failure the user can fix is one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from bot.core.errors import ConfigError, NewswatchError, NotFoundError
from bot.core.files import describe_os_error
from bot.core.settings import Settings, ensure_data_dir, load_settings
from bot.service.logs import configure_logging

if TYPE_CHECKING:
    from bot.pipeline.match import RuleBook
    from bot.store.base import Store

T = TypeVar("T")

UsageError: type[Exception] = typer.BadParameter.__mro__[1]
"""click's UsageError, which typer vendors privately; its public BadParameter subclasses it."""

app = typer.Typer(
    help="newswatch: news alerts for Slack and Telegram, with no noise and no duplicates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="Test, check and evaluate watch rules.", no_args_is_help=True)
feeds_app = typer.Typer(help="Add, list, remove, import and export feeds.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(feeds_app, name="feeds")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="YAML settings file (default: $NEWSWATCH_CONFIG)."),
]


RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Rules file (default: the configured one).")
]


def fail(message: str) -> typer.Exit:
    """Print one line to stderr; the caller raises the returned Exit(2)."""
    typer.echo(f"newswatch: error: {message}", err=True)
    return typer.Exit(code=2)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning our errors into one line and exit code 2."""
    try:
        return asyncio.run(coro)
    except NewswatchError as err:
        raise fail(str(err)) from None


def settings_from(config: Path | None, *, service: bool = False) -> Settings:
    """The validated settings, and logging set up: the service logs at NEWSWATCH_LOG_LEVEL;
    one-shot commands only warnings (unless DEBUG), so their output stays their own."""
    try:
        settings = load_settings(config_file=config)
    except ConfigError as err:
        raise fail(str(err)) from None
    quiet = settings.log_level if settings.log_level == "DEBUG" else "WARNING"
    configure_logging(settings.log_level if service else quiet)
    return settings


@app.command()
def run(config: ConfigOption = None) -> None:
    """Start the service: poll feeds, deliver alerts, serve chat commands."""
    from bot.service.run import serve

    run_async(serve(settings_from(config, service=True)))


@app.command()
def demo(
    database_url: Annotated[
        str | None,
        typer.Option(help="Keep the demo's data in this database instead of a temp file."),
    ] = None,
) -> None:
    """Run the whole pipeline against the bundled replay corpus on loopback and show the alerts."""
    from bot.cli.demo import run_demo

    configure_logging("ERROR")
    report = run_async(_demo_with_progress(run_demo, database_url))
    typer.echo(report.summary_line())


async def _demo_with_progress(
    run_demo: Callable[..., Awaitable[Any]], database_url: str | None
) -> Any:
    if not sys.stderr.isatty():
        return await run_demo(sys.stdout, database_url=database_url)
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("replaying feeds", total=None)
        return await run_demo(
            sys.stdout, database_url=database_url, progress=lambda: progress.advance(task)
        )


# ── rules ───────────────────────────────────────────────────────────────────


def _file_rulebook(settings: Settings, rules: Path | None) -> RuleBook:
    """The rules of `--rules` (or the configured file) alone, with the configured semantic tier."""
    from bot.pipeline.match import RuleBook
    from bot.service.app import load_semantic

    path = rules or settings.rules_file
    return RuleBook.from_file(path, embedder=load_semantic(settings.semantic))


@rules_app.command("test")
def rules_test(
    input: Annotated[Path, typer.Option("--input", help="JSON lines: id, title, summary[, …].")],
    rules: RulesOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per item.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show which rules match each input item, and why."""
    from bot.cli.items import read_items

    try:
        book = _file_rulebook(settings_from(config), rules)
        for item in read_items(input):
            matches = book.match_story(item.story)
            if as_json:
                payload = [
                    {"rule": m.rule, "score": round(m.score, 4), "why": m.why} for m in matches
                ]
                typer.echo(json.dumps({"id": item.id, "matches": payload}, ensure_ascii=False))
            else:
                names = ", ".join(f"{m.rule} ({m.score:.2f}: {m.why})" for m in matches) or "-"
                typer.echo(f"{item.id}: {names}")
    except NewswatchError as err:
        raise fail(str(err)) from None


@rules_app.command("eval")
def rules_eval(
    inputs: Annotated[
        list[Path],
        typer.Option("--input", help="JSON lines with 'labels' per item (repeat to join files)."),
    ],
    rules: RulesOption = None,
    confusions: Annotated[bool, typer.Option(help="List false positives and negatives.")] = True,
    folds: Annotated[
        int,
        typer.Option(help="k-fold cross-validation: thresholds tuned on the other folds.", min=0),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Which items go into which fold.")] = 0,
    config: ConfigOption = None,
) -> None:
    """Precision, recall and F1 per rule on labelled items: query only, then with topics."""
    from bot.cli.evaluate import evaluate_rules, report_lines, require_labels
    from bot.cli.items import read_items

    settings = settings_from(config)
    try:
        items = [item for path in inputs for item in read_items(path)]
        require_labels(items)
        book = _file_rulebook(settings, rules)
    except NewswatchError as err:
        raise fail(str(err)) from None
    if not book.topics_active:
        typer.echo("semantic tier off (install newswatch[semantic]); topic rules use their query")
    if folds:
        _cross_validate(book, items, folds, seed)
        return
    names = [rule.name for rule in book.rules if rule.enabled]
    tiers = [("query only", lambda item: book.match_query_only(item.story))]
    if book.topics_active:
        tiers.append(("with the semantic tier", lambda item: book.match_story(item.story)))
    for label, match in tiers:
        typer.echo(f"== {label}: {len(items)} items, rules from {book.rules_file}")
        scores = evaluate_rules(items, names, match)
        for line in report_lines(scores, confusions=confusions):
            typer.echo(line)


def _cross_validate(book: RuleBook, items: list[Any], folds: int, seed: int) -> None:
    from bot.cli import crossval

    if folds < 2 or folds > len(items):
        raise fail(f"--folds must be from 2 to the number of items ({len(items)}), e.g. 5")
    scored = crossval.score_items(book, items)
    tiers = [("query only", False)] + ([("with the semantic tier", True)] * book.topics_active)
    for label, with_topics in tiers:
        tuned = " (topic thresholds tuned on the other folds)" if with_topics else ""
        typer.echo(f"== {label}, {folds}-fold cross-validation of {len(items)} items{tuned}")
        setups = crossval.rule_setups(book, with_topics=with_topics)
        results = crossval.cross_validate(scored, setups, folds=folds, seed=seed)
        for line in crossval.report_lines(results):
            typer.echo(line)


@rules_app.command("check")
def rules_check(
    file: Annotated[Path, typer.Argument(help="Rules YAML file.")],
    expand: Annotated[
        bool, typer.Option(help="Show what each ~stem and @class of a good file reaches.")
    ] = True,
) -> None:
    """Check a rules file: every problem, one per line; exit 2 if any; then what terms reach."""
    from filters.rules_file import check_rules

    problems = check_rules(file)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(code=2)
    typer.echo(f"{file}: ok")
    if expand:
        _print_expansions(file)


def _print_expansions(file: Path) -> None:
    """What each rule's ~stems and @classes reach."""
    from filters.expansions import expansion_lines
    from filters.query import parse_query
    from filters.rules_file import load_rules

    for rule in load_rules(file):
        lines = expansion_lines(parse_query(rule.query)) if rule.query else []
        if lines:
            typer.echo(f"{rule.name}:")
            for line in lines:
                typer.echo(f"  {line}")


# ── feeds ───────────────────────────────────────────────────────────────────


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="Feed URL (http or https).")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the host).")] = None,
    backfill: Annotated[
        int | None,
        typer.Option(help="Backlog items that may alert (default: NEWSWATCH_BACKFILL).", min=0),
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            help="The longest this feed goes unchecked, in seconds, 10 to 86400 "
            "(default: NEWSWATCH_POLL_INTERVAL)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Add a feed."""
    from bot.core.model import check_feed_interval
    from bot.pipeline.feedlist import FeedSpec, check_feed_url, default_name

    try:
        url = check_feed_url(url)
        if interval is not None:
            check_feed_interval(interval)
    except ValueError as err:
        raise fail(str(err)) from None
    settings = settings_from(config)

    async def add() -> str:
        spec = FeedSpec(
            url, name or default_name(url), settings.backfill if backfill is None else backfill
        )
        async with opened_store(settings) as store:
            feed = await store.add_feed(
                spec.url, spec.name, backfill=spec.backfill, interval=interval
            )
        every = f", checked at least every {feed.interval:g} s" if feed.interval else ""
        return f"added feed {feed.id}: {feed.name} <{feed.url}>{every}"

    typer.echo(run_async(add()))


@feeds_app.command("interval")
def feeds_interval(
    feed: Annotated[str, typer.Argument(help="Feed URL, name or id.")],
    seconds: Annotated[
        str,
        typer.Argument(help="The longest it goes unchecked (10 to 86400), or `default`."),
    ],
    config: ConfigOption = None,
) -> None:
    """Give a feed its own check interval, or back to NEWSWATCH_POLL_INTERVAL."""
    from bot.pipeline.feedlist import parse_feed_interval

    try:
        interval = parse_feed_interval(seconds)
    except ValueError as err:
        raise fail(str(err)) from None
    settings = settings_from(config)

    async def change() -> str:
        async with opened_store(settings) as store:
            changed = await store.set_feed_interval(feed, interval)
        every = f"{interval:g} s" if interval else f"the default ({settings.poll_interval:g} s)"
        return f"feed {changed.id} ({changed.name}) is now checked at least every {every}"

    typer.echo(run_async(change()))


@feeds_app.command("list")
def feeds_list(config: ConfigOption = None) -> None:
    """List feeds with their health (last fetch, status, errors) and WebSub push status."""
    from bot.pipeline.health import feed_list_lines

    settings = settings_from(config)

    async def listing() -> list[str]:
        async with opened_store(settings) as store:
            return await feed_list_lines(store)

    for line in run_async(listing()):
        typer.echo(line)


@feeds_app.command("remove")
def feeds_remove(
    feed: Annotated[str, typer.Argument(help="Feed URL, name or id.")], config: ConfigOption = None
) -> None:
    """Remove a feed (a running service then unsubscribes it from its WebSub hub)."""
    settings = settings_from(config)

    async def remove() -> str:
        async with opened_store(settings) as store:
            try:
                removed = await store.remove_feed(feed)
            except NotFoundError:
                raise NotFoundError(f"no feed {feed!r} — see `newswatch feeds list`") from None
        return f"removed feed {removed.id}: {removed.name} <{removed.url}>"

    typer.echo(run_async(remove()))


@feeds_app.command("import")
def feeds_import(
    file: Annotated[Path, typer.Argument(help="OPML file.")], config: ConfigOption = None
) -> None:
    """Import feeds from an OPML file (all or nothing; known URLs are skipped)."""
    from bot.core.files import read_bytes
    from bot.pipeline.feedlist import parse_opml
    from bot.service.app import add_feeds

    settings = settings_from(config)
    try:
        data = read_bytes(file, "the OPML file")
        specs = parse_opml(data, source=str(file), default_backfill=settings.backfill)
    except NewswatchError as err:
        raise fail(str(err)) from None

    async def import_all() -> str:
        async with opened_store(settings) as store:
            added, skipped = await add_feeds(store, specs)
        return f"imported {len(added)} feeds, skipped {len(skipped)} already present"

    typer.echo(run_async(import_all()))


@feeds_app.command("export")
def feeds_export(
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    config: ConfigOption = None,
) -> None:
    """Export the feeds as OPML."""
    from bot.core.files import write_text_atomically
    from bot.pipeline.feedlist import render_opml

    settings = settings_from(config)

    async def export() -> str:
        async with opened_store(settings) as store:
            return render_opml([health.feed for health in await store.list_feeds()])

    document = run_async(export())
    if output is None:
        typer.echo(document, nl=False)
        return
    try:
        write_text_atomically(output, document, "the OPML export", set_by="--output")
    except NewswatchError as err:
        raise fail(str(err)) from None


# ── db ──────────────────────────────────────────────────────────────────────


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations up to the latest schema."""
    from bot.store import upgrade

    settings = settings_from(config)

    async def migrate() -> None:
        ensure_data_dir(settings)
        await upgrade(settings.effective_database_url)

    run_async(migrate())
    typer.echo("database is up to date")


@db_app.command("prune")
def db_prune(
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=3,
            help="Keep stories this many days (default: NEWSWATCH_RETENTION_DAYS, 30).",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Delete stories older than the retention (except what dedup and pending alerts
    need), and sent alerts and notices older than 7 days. Example: newswatch db prune"""
    from datetime import UTC, datetime

    from bot.service.app import prune_store

    settings = settings_from(config)
    if days is not None:
        settings = settings.model_copy(update={"retention_days": days})

    async def prune() -> str:
        async with opened_store(settings) as store:
            report = await prune_store(store, settings, datetime.now(UTC))
        return (
            f"pruned {report.stories} stories older than {settings.retention_days} days, "
            f"{report.outbox_rows} sent alerts and {report.notices} notices older than 7 days"
        )

    typer.echo(run_async(prune()))


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[Store]:
    """The configured store (data directory created, migrated), closed afterwards."""
    from bot.store import open_store

    ensure_data_dir(settings)
    store = await open_store(settings.effective_database_url)
    try:
        yield store
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors are one line on stderr and exit code 2."""
    try:
        code = app(args=argv, prog_name="newswatch", standalone_mode=False)
    except UsageError as err:
        ctx = getattr(err, "ctx", None)
        where = ctx.command_path if ctx is not None else "newswatch"
        if type(err).__name__ == "NoArgsIsHelpError":  # a bare group: show its help
            typer.echo(ctx.get_help() if ctx is not None else "")
            sys.exit(0)
        message = err.format_message()  # type: ignore[attr-defined]
        typer.echo(f"{where}: error: {message} (see `{where} --help`)", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("newswatch: interrupted", err=True)
        sys.exit(130)
    except OSError as err:  # the last resort for an OS error no command mapped itself
        if err.filename is not None:
            message = describe_os_error(err, err.filename, "the file")
        else:
            message = (err.strerror or str(err) or type(err).__name__).lower()
        typer.echo(f"newswatch: error: {message}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
