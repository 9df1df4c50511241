"""Table tests for the pure argument parsers and phrasing of the chat commands,
and the rule that handlers/ never imports a platform library."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.arguments import (
    DEFAULT_BACKTEST_DAYS,
    BadArgumentsError,
    parse_duration,
    parse_threshold,
    rule_name,
    split_description,
    take_days,
)
from handlers.phrasing import duration_words, shorten

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
PLATFORM_LIBRARIES = {"telegram", "slack_bolt", "slack_sdk", "aiohttp"}


@pytest.mark.parametrize(
    ("spoken", "length"),
    [
        ("30m", timedelta(minutes=30)),
        ("45min", timedelta(minutes=45)),
        ("2h", timedelta(hours=2)),
        ("2H", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1d 12h", timedelta(hours=36)),
        ("365d", timedelta(days=365)),
    ],
)
def test_parse_duration(spoken: str, length: timedelta) -> None:
    assert parse_duration(spoken) == length


@pytest.mark.parametrize(
    ("spoken", "problem"),
    [
        ("", "say for how long"),
        ("2", "not a duration"),
        ("h", "not a duration"),
        ("2 hours", "not a duration"),
        ("2h!", "not a duration"),
        ("-2h", "not a duration"),
        ("0h", "longer than zero"),
        ("53w", "at most a year"),
    ],
)
def test_parse_duration_rejects(spoken: str, problem: str) -> None:
    with pytest.raises(BadArgumentsError, match=problem):
        parse_duration(spoken)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drone strike", ("drone strike", DEFAULT_BACKTEST_DAYS)),
        ("drone_strike 14", ("drone_strike", 14)),
        ("drone_strike 14d", ("drone_strike", 14)),
        ("covid 19 7", ("covid 19", 7)),
        ("19", ("19", DEFAULT_BACKTEST_DAYS)),
        ("", ("", DEFAULT_BACKTEST_DAYS)),
    ],
)
def test_take_days(text: str, expected: tuple[str, int]) -> None:
    assert take_days(text) == expected


@pytest.mark.parametrize("text", ["drone 0", "drone 91", "drone 500d"])
def test_take_days_bounds(text: str) -> None:
    with pytest.raises(BadArgumentsError, match="between 1 and 90"):
        take_days(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aid NEAR/5 ukraine -- New aid", ("aid NEAR/5 ukraine", "New aid")),
        ("aid NEAR/5 ukraine — New aid", ("aid NEAR/5 ukraine", "New aid")),
        ("aid -military -- Aid -- not arms", ("aid -military", "Aid -- not arms")),
        ("-- Only a description", ("", "Only a description")),
        ("aid -military", ("aid -military", None)),
        ("aid --", ("aid", "")),
    ],
)
def test_split_description(text: str, expected: tuple[str, str | None]) -> None:
    assert split_description(text) == expected


@pytest.mark.parametrize("name", ["a", "drone_strike", "r2d2", "a" * 40])
def test_rule_name_accepts(name: str) -> None:
    assert rule_name(name) == name


@pytest.mark.parametrize("name", ["", "Drone", "2fast", "_x", "a-b", "a" * 41, "drone strike"])
def test_rule_name_rejects(name: str) -> None:
    with pytest.raises(BadArgumentsError):
        rule_name(name)


@pytest.mark.parametrize(("text", "value"), [("0", 0.0), ("0.55", 0.55), ("0,6", 0.6), ("1", 1.0)])
def test_parse_threshold(text: str, value: float) -> None:
    assert parse_threshold(text) == value


@pytest.mark.parametrize("text", ["-0.1", "1.01", "nan", "inf", "high"])
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(BadArgumentsError):
        parse_threshold(text)


@pytest.mark.parametrize(
    ("length", "words"),
    [
        (timedelta(minutes=30), "30m"),
        (timedelta(minutes=90), "1h 30m"),
        (timedelta(days=8, hours=1), "1w 1d 1h"),
        (timedelta(seconds=20), "0m"),
    ],
)
def test_duration_words(length: timedelta, words: str) -> None:
    assert duration_words(length) == words


@pytest.mark.parametrize(
    ("text", "limit", "short"),
    [
        ("short", 10, "short"),
        ("a  spaced\ntext", 20, "a spaced text"),
        ("drone strike hits the depot", 18, "drone strike hits…"),
        ("drone, strike hits", 8, "drone…"),
        ("unbreakableword", 6, "unbre…"),
    ],
)
def test_shorten(text: str, limit: int, short: str) -> None:
    assert shorten(text, limit) == short
    assert len(shorten(text, limit)) <= limit


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(HANDLERS.glob("*.py")), ids=lambda p: p.name)
def test_handlers_import_no_platform_library(path: Path) -> None:
    assert not _imported_modules(path) & PLATFORM_LIBRARIES
