"""The `newswatch` command line, run in-process through `bot.cli.main`.

The contracts others rely on: `rules test --json` prints one JSON line per
item in the format of DESIGN.md; every user error is one line on stderr and
exit code 2; the feed commands round-trip through the real store (SQLite in
the data directory).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.data import DEV_SET, SEED_STORY_JSONL

SEED = SEED_STORY_JSONL
DEV = DEV_SET
SEED_RULES = {"drone_strike", "accusation_us", "aid_package"}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("NEWSWATCH_CONFIG", "NEWSWATCH_DATABASE_URL", "NEWSWATCH_RULES_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_rules_test_json_on_the_seed_story(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "rules", "test", "--input", str(SEED), "--json")
    assert code == 0
    (line,) = out.splitlines()
    result = json.loads(line)
    assert result["id"] == "seed-2023-05-04-kremlin-drone"
    assert {match["rule"] for match in result["matches"]} == SEED_RULES
    for match in result["matches"]:
        assert set(match) == {"rule", "score", "why"}
        assert isinstance(match["score"], float) and match["why"]


def test_rules_test_with_another_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: kremlin\n    query: title:kremlin\n")
    code, out, _ = run_cli(
        capsys, "rules", "test", "--input", str(SEED), "--rules", str(rules), "--json"
    )
    assert code == 0
    assert [m["rule"] for m in json.loads(out)["matches"]] == ["kremlin"]


def test_rules_eval_prints_precision_recall_and_f1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "rules", "eval", "--input", str(DEV), "--no-confusions")
    assert code == 0
    tables = [line for line in out.splitlines() if line.startswith("== ")]
    assert [t.split(":")[0] for t in tables] == ["== query only", "== with the semantic tier"]
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["drone_strike"],)]
    assert len(rows) == 2
    for row in rows:
        precision, recall, f1 = map(float, row[1:4])
        assert 0.0 <= precision <= 1.0 and 0.0 <= recall <= 1.0
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall), abs=0.002)


def test_rules_eval_lists_confusions_with_their_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.jsonl"
    lines = [
        {"id": "a", "title": "Drone light show over the bay", "summary": "", "labels": []},
        {"id": "b", "title": "Drone strike hits a base", "summary": "", "labels": ["drone"]},
    ]
    items.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: drone\n    query: drone\n")
    code, out, _ = run_cli(capsys, "rules", "eval", "--input", str(items), "--rules", str(rules))
    assert code == 0
    assert "drone             0.500  1.000  0.667   1   1   0" in out
    assert "FP drone: a Drone light show over the bay" in out and 'title: "Drone"' in out


def test_rules_eval_folds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": f"d{n}", "title": "Drone strike hits depot" if n % 2 else "Weather", "summary": ""}
        | {"labels": ["drone_strike"] if n % 2 else []}
        for n in range(10)
    ]
    items.write_text("".join(json.dumps(row) + "\n" for row in rows))
    code, out, _ = run_cli(capsys, "rules", "eval", "--input", str(items), "--folds", "5")
    assert code == 0
    assert "== query only, 5-fold cross-validation of 10 items" in out
    assert "drone_strike: folds F1 1.000  1.000  1.000  1.000  1.000" in out
    assert "pooled P 1.000  R 1.000  F1 1.000  (TP 5, FP 0, FN 0)" in out
    code, _, err = run_cli(capsys, "rules", "eval", "--input", str(items), "--folds", "11")
    assert code == 2 and "--folds must be from 2 to the number of items (10)" in err


def test_rules_eval_needs_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "x", "title": "t", "summary": ""}) + "\n")
    code, _, err = run_cli(capsys, "rules", "eval", "--input", str(items))
    assert code == 2
    assert err.strip().endswith("item x has no 'labels' — evaluation needs labelled items")
    assert len(err.strip().splitlines()) == 1


def test_rules_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "rules", "check", "config/rules.yaml")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "config/rules.yaml: ok"
    assert "accusation_us:" in lines
    assert any(line.startswith('  ~accuse → any word with the stem "accus"') for line in lines)
    assert any(line.startswith("  @us: ") for line in lines)
    quiet = run_cli(capsys, "rules", "check", "config/rules.yaml", "--no-expand")[1]
    assert quiet.splitlines() == ["config/rules.yaml: ok"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: a\n    query: drone AND (strike\n  - name: B\n    query: x\n")
    code, _, err = run_cli(capsys, "rules", "check", str(bad))
    assert code == 2
    problems = err.strip().splitlines()
    assert len(problems) == 2
    assert "column" in problems[0] and "is not a lowercase identifier" in problems[1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["rules", "test"], "newswatch rules test: error: Missing option '--input'."),
        (["rules", "frob"], "newswatch rules: error: No such command 'frob'."),
        (["feeds", "add", "ftp://x.org/feed"], "is not an http(s) URL"),
        (["feeds", "add", "https://x.org/f", "--backfill", "-1"], "Invalid value for '--backfill'"),
        (["feeds", "remove", "nope"], "no feed 'nope' — see `newswatch feeds list`"),
        (["rules", "test", "--input", "/nonexistent.jsonl"], "cannot read the items file /nonex"),
        (["feeds", "import", "/nonexistent.opml"], "cannot read the OPML file /nonexistent.opml"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert expected in err


def test_bad_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSWATCH_POLL_INTERVAL", "soon")
    code, _, err = run_cli(capsys, "feeds", "list")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("newswatch: error: invalid settings: NEWSWATCH_POLL_INTERVAL: input ")
    assert "(got 'soon')" in line


def test_feeds_round_trip_through_the_store(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        capsys, "feeds", "add", "https://feeds.npr.org/1001/rss.xml", "--name", "NPR"
    )
    assert code == 0 and out.startswith("added feed 1: NPR <https://feeds.npr.org/1001/rss.xml>")
    assert (data_dir / "newswatch.db").exists()
    opml = tmp_path / "more.opml"
    opml.write_text(
        "<opml version='2.0'><body>"
        "<outline text='BBC' xmlUrl='https://feeds.bbci.co.uk/news/rss.xml'/>"
        "<outline text='NPR again' xmlUrl='https://feeds.npr.org/1001/rss.xml'/>"
        "</body></opml>"
    )
    code, out, _ = run_cli(capsys, "feeds", "import", str(opml))
    assert (code, out.strip()) == (0, "imported 1 feeds, skipped 1 already present")
    code, out, _ = run_cli(capsys, "feeds", "list")
    assert code == 0 and "NPR" in out and "BBC" in out
    exported = tmp_path / "out.opml"
    assert run_cli(capsys, "feeds", "export", "--output", str(exported))[0] == 0
    assert "https://feeds.bbci.co.uk/news/rss.xml" in exported.read_text()
    code, out, _ = run_cli(capsys, "feeds", "remove", "BBC")
    assert code == 0 and out.startswith("removed feed 2: BBC")
    assert "BBC" not in run_cli(capsys, "feeds", "list")[1]


def test_bad_opml_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    opml = tmp_path / "bad.opml"
    opml.write_text(
        "<opml><body><outline text='Good' xmlUrl='https://good.org/feed'/>"
        "<outline text='Bad' xmlUrl='javascript:alert(1)'/></body></opml>"
    )
    code, _, err = run_cli(capsys, "feeds", "import", str(opml))
    assert code == 2 and "Bad" in err and len(err.strip().splitlines()) == 1
    assert "good.org" not in run_cli(capsys, "feeds", "list")[1]


def test_db_upgrade_is_idempotent(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "db", "upgrade") == (0, "database is up to date\n", "")
    assert run_cli(capsys, "db", "upgrade")[0] == 0
    assert (data_dir / "newswatch.db").exists()


@pytest.mark.parametrize(
    "argv", [[], ["--help"], ["rules", "--help"], ["feeds", "import", "--help"], ["rules"]]
)
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "Usage" in out


def test_db_prune_deletes_old_stories_and_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from bot.store import NewStory, open_store
    from tests.store_samples import make_story

    async def seed() -> None:
        store = await open_store(f"sqlite:///{data_dir / 'newswatch.db'}")
        try:
            now = datetime.now(UTC)
            ages = {"old": 40, "recent": 10}
            await store.save_stories(
                [
                    NewStory(make_story(key, fetched_at=now - timedelta(days=days)), None)
                    for key, days in ages.items()
                ]
            )
        finally:
            await store.close()

    data_dir.mkdir(parents=True)
    asyncio.run(seed())
    code, out, _ = run_cli(capsys, "db", "prune")
    assert (code, out.strip()) == (
        0,
        "pruned 1 stories older than 30 days, 0 sent alerts and 0 notices older than 7 days",
    )
    code, out, _ = run_cli(capsys, "db", "prune", "--days", "5")
    assert code == 0 and out.startswith("pruned 1 stories older than 5 days")
    code, _, err = run_cli(capsys, "db", "prune", "--days", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--days" in err
    code, out, _ = run_cli(capsys, "db", "prune", "--help")
    assert code == 0 and "newswatch db prune" in out


def test_items_that_reuse_an_id_are_two_stories() -> None:
    from bot.cli.items import item_from_json

    first = item_from_json({"id": "x001", "title": "Drone strike hits a base", "summary": ""})
    second = item_from_json({"id": "x001", "title": "Weather", "summary": "Rain later"})
    again = item_from_json({"id": "x001", "title": "Drone strike hits a base", "summary": ""})
    assert first.story.key != second.story.key  # the topic tier caches embeddings by key
    assert first.story.key == again.story.key
