"""Hostile inputs (issue 11): each case is refused with one clear line, in linear time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import FeedParseError
from bot.pipeline.parse.parser import screen_body


@pytest.mark.parametrize("tail", [b"x", b"", b"<?pi", b"<!--", b"<!DOCTYPE [", b"<!DOCTYPE"])
def test_a_prolog_of_100_000_spaces_is_refused_not_backtracked(tail: bytes) -> None:
    # The old prolog regex doubled its work per space; 40 spaces then "x" took hours.
    with pytest.raises(FeedParseError, match="not a feed"):
        screen_body(b" " * 100_000 + tail, "application/xml")


def test_the_prolog_scan_still_finds_the_root_after_pi_comment_and_doctype() -> None:
    body = b'  <?xml version="1.0"?>\n<!-- c --> <!DOCTYPE rss [ ]> <rss version="2.0"/>'
    assert screen_body(body, None) == "xml"


def test_the_prolog_scan_names_a_non_feed_root() -> None:
    with pytest.raises(FeedParseError, match="<html>"):
        screen_body(b"<!DOCTYPE html>\n<html></html>", "text/html")


# ── issue 11, cases 6 and 7: bad CLI inputs are one line, exit 2, before any output ──


def _cli_one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    from tests.support.cli import run_cli

    code, out, err = run_cli(capsys, *argv)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    return out, line


@pytest.mark.parametrize(
    ("second_line", "expected"),
    [
        (b"[" * 100_000, "JSON nested too deeply"),
        (b'{"id": "b", "title": "\xff"}', "UTF-8"),
        (b'{"id": "b"}', "needs 'id' and 'title'"),
        (b"not json", "Expecting value"),
    ],
    ids=["deep-brackets", "not-utf8", "not-an-item", "not-json"],
)
def test_rules_test_checks_every_line_before_printing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    second_line: bytes,
    expected: str,
) -> None:
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSWATCH_SEMANTIC", "off")
    items = tmp_path / "items.jsonl"
    items.write_bytes(b'{"id": "a", "title": "Drone strike hits a depot"}\n' + second_line + b"\n")
    out, line = _cli_one_line(capsys, "rules", "test", "--input", str(items))
    assert out == ""  # the good first line printed nothing before the error
    assert expected in line and str(items) in line


def test_a_data_dir_under_a_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.delenv("NEWSWATCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(afile / "data"))
    _, line = _cli_one_line(capsys, "feeds", "list")
    assert "NEWSWATCH_DATA_DIR" in line and "not a directory" in line
