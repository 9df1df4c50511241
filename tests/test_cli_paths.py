"""Every path a command reads or writes: a bad one is one line naming the path
and the fix, exit code 2, and nothing half-written.

Run in-process through `bot.cli.main`. Permission errors cannot be provoked as
root (CI runs as root), so `tests/test_files.py` covers their wording through
the same mapping with constructed errors.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.data import SEED_STORY_JSONL

SETTINGS = (
    "NEWSWATCH_CONFIG",
    "NEWSWATCH_DATABASE_URL",
    "NEWSWATCH_RULES_FILE",
    "NEWSWATCH_FEEDS_FILE",
    "TELEGRAM_BOT_TOKEN",
    "SLACK_BOT_TOKEN",
)


@pytest.fixture(autouse=True)
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path with a file `file`, a directory `dir`, and the data directory set."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSWATCH_SEMANTIC", "off")
    (tmp_path / "file").write_text("a plain file\n")
    (tmp_path / "dir").mkdir()
    return tmp_path


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one error line of a failed command. `run` is a service and logs (e.g. its
    migrations) before it fails: there the error is the last line."""
    code, _, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err
    if argv[0] == "run":
        assert lines[-1].startswith("newswatch: error: ")
        assert all(" INFO " in line for line in lines[:-1]), err
    else:
        assert len(lines) == 1, err
    return lines[-1]


MISSING, DIRECTORY, UNDER_A_FILE = "missing.txt", "dir", "file/x.txt"
REASONS = {
    MISSING: "no such file or directory — check the path",
    DIRECTORY: "is a directory — name a file, not a directory",
    UNDER_A_FILE: "a part of the path is a file, not a directory — check the path",
}
READS = [
    (["rules", "test", "--input", "{p}"], "cannot read the items file {p}: ", "(set by --input)"),
    (["rules", "eval", "--input", "{p}"], "cannot read the items file {p}: ", "(set by --input)"),
    (["feeds", "import", "{p}"], "cannot read the OPML file {p}: ", ""),
    (
        ["feeds", "list", "--config", "{p}"],
        "cannot read the config file {p}: ",
        "(set by NEWSWATCH_CONFIG or --config)",
    ),
    (
        ["rules", "test", "--input", str(SEED_STORY_JSONL), "--rules", "{p}"],
        "{p}: cannot read the rules file: ",
        "(set by NEWSWATCH_RULES_FILE or --rules)",
    ),
    (
        ["rules", "eval", "--input", str(SEED_STORY_JSONL), "--rules", "{p}"],
        "{p}: cannot read the rules file: ",
        "(set by NEWSWATCH_RULES_FILE or --rules)",
    ),
]


@pytest.mark.parametrize("kind", [MISSING, DIRECTORY, UNDER_A_FILE])
@pytest.mark.parametrize(("argv", "starts", "ends"), READS, ids=lambda v: str(v)[:40])
def test_reading_a_bad_path_is_one_line(
    tree: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    argv: list[str],
    starts: str,
    ends: str,
) -> None:
    path = str(tree / kind)
    line = one_line_error(capsys, *(arg.format(p=path) for arg in argv))
    assert line.startswith("newswatch: error: " + starts.format(p=path)), line
    assert REASONS[kind] in line and line.endswith(ends or REASONS[kind]), line


@pytest.mark.parametrize("kind", [MISSING, DIRECTORY])
def test_rules_check_names_the_file(
    tree: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    line = one_line_error(capsys, "rules", "check", str(tree / kind))
    assert line == (
        f"{tree / kind}: cannot read the rules file: {REASONS[kind]}"
        " (set by NEWSWATCH_RULES_FILE or --rules)"
    )


@pytest.mark.parametrize("variable", ["NEWSWATCH_RULES_FILE", "NEWSWATCH_CONFIG"])
def test_a_path_from_the_environment_is_named_with_its_variable(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    monkeypatch.setenv(variable, str(tree / MISSING))
    line = one_line_error(capsys, "rules", "test", "--input", str(SEED_STORY_JSONL))
    assert str(tree / MISSING) in line and variable in line and REASONS[MISSING] in line


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("no-such-dir/x.opml", "directory {t}/no-such-dir does not exist — create it or choose"),
        ("dir", "is a directory — name a file, not a directory"),
        ("file/x.opml", "a part of the path is a file, not a directory"),
    ],
)
def test_export_to_a_bad_path_is_one_line_and_writes_nothing(
    tree: Path, capsys: pytest.CaptureFixture[str], target: str, reason: str
) -> None:
    before = sorted(p.relative_to(tree) for p in tree.rglob("*") if "data" not in p.parts)
    line = one_line_error(capsys, "feeds", "export", "--output", str(tree / target))
    assert line.startswith(f"newswatch: error: cannot write the OPML export {tree / target}: ")
    assert reason.format(t=tree) in line and line.endswith("(set by --output)")
    after = sorted(p.relative_to(tree) for p in tree.rglob("*") if "data" not in p.parts)
    assert after == before


def test_export_replaces_a_file_whole(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tree / "feeds.opml"
    target.write_text("old")
    assert run_cli(capsys, "feeds", "export", "--output", str(target))[0] == 0
    assert target.read_text().startswith("<?xml") and "</opml>" in target.read_text()
    assert [p.name for p in tree.iterdir() if p.name.startswith(".feeds.opml")] == []


@pytest.mark.parametrize(
    ("data_dir", "reason"),
    [
        ("file", "exists and is not a directory — remove it or choose another path"),
        ("file/data", "a part of the path is a file, not a directory — check the path"),
    ],
)
@pytest.mark.parametrize(
    "argv",
    [["feeds", "list"], ["feeds", "add", "https://example.org/rss"], ["db", "upgrade"], ["run"]],
)
def test_a_data_directory_that_cannot_be_created_is_one_line(
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: str,
    reason: str,
    argv: list[str],
) -> None:
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tree / data_dir))
    line = one_line_error(capsys, *argv)
    assert line == (
        f"newswatch: error: cannot create the data directory {tree / data_dir}: {reason}"
        " (set by NEWSWATCH_DATA_DIR)"
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("NEWSWATCH_FEEDS_FILE", MISSING, "cannot read the feed list {p}: no such file"),
        ("NEWSWATCH_FEEDS_FILE", DIRECTORY, "cannot read the feed list {p}: is a directory"),
        ("NEWSWATCH_RULES_FILE", MISSING, "{p}: cannot read the rules file: no such file"),
    ],
)
def test_the_service_names_a_bad_file_setting(
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    says: str,
) -> None:
    monkeypatch.setenv(variable, str(tree / value))
    monkeypatch.setenv("NEWSWATCH_HTTP_PORT", "0")
    line = one_line_error(capsys, "run")
    assert says.format(p=tree / value) in line and variable in line, line


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_the_service_says_when_its_port_is_taken(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], busy_port: int
) -> None:
    monkeypatch.setenv("NEWSWATCH_HTTP_PORT", str(busy_port))
    monkeypatch.setenv("NEWSWATCH_FEEDS_FILE", "")
    line = one_line_error(capsys, "run")
    assert line.startswith(f"newswatch: error: cannot listen on 127.0.0.1:{busy_port}: ")
    assert "NEWSWATCH_HTTP_PORT" in line


@pytest.mark.parametrize("where", ["no-such-dir/x.db", "dir"])
def test_a_sqlite_database_that_cannot_be_opened_is_one_line(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", f"sqlite:///{tree / where}")
    line = one_line_error(capsys, "feeds", "list")
    assert f"cannot open SQLite database {tree / where}" in line
    assert one_line_error(capsys, "demo", "--database-url", f"sqlite:///{tree / where}") == line
