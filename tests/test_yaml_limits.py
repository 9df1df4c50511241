"""Hostile YAML (issue 11, case 5): alias bombs, deep nesting and huge values never hang a
command; each is refused with one line, exit code 2, wherever the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.yamlsafe import MAX_YAML_DEPTH, describe_value, load_yaml
from tests.support.cli import run_cli
from tests.test_cli import data_dir

__all__ = ["data_dir"]  # the CLI tests' autouse fixture: a fresh data dir, no config


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`levels` anchors each a list of `width` aliases of the previous: width**levels items."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def bomb_as(key: str, levels: int = 9) -> str:
    """The bomb, then `key:` set to its last anchor (where a value would be printed)."""
    return alias_bomb(levels) + f"{key}: *a{levels}\n"


def test_aliases_are_refused_by_the_loader() -> None:
    with pytest.raises(yaml.YAMLError, match=r"aliases \(\*name\) are not allowed"):
        load_yaml(alias_bomb())
    with pytest.raises(yaml.YAMLError, match="aliases"):
        load_yaml("a: &x 1\nb: *x\n")
    assert load_yaml("a: &x 1\nb: 2\n") == {"a": 1, "b": 2}  # an anchor alone is harmless


def test_deep_nesting_and_huge_text_are_refused() -> None:
    with pytest.raises(yaml.YAMLError, match=f"nested deeper than {MAX_YAML_DEPTH}"):
        load_yaml("[" * 100_000 + "]" * 100_000)
    assert load_yaml("[" * 10 + "]" * 10) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(yaml.YAMLError, match="more than 10,000,000"):
        load_yaml("# " + "x" * 10_000_001)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("short", "'short'"),
        ("x" * 2000, "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'… (text of 2,000 characters)"),
        ([1] * 9, "a list of 9 items"),
        ({"a": 1}, "a mapping of 1 keys"),
        (10**80, "1000000000000000000000000000000000000000… (a int)"),
        (None, "None"),
        (object(), "a object"),
    ],
    ids=["short", "long-text", "list", "mapping", "huge-int", "none", "other"],
)
def test_values_are_shown_by_type_and_a_short_prefix(value: object, shown: str) -> None:
    assert describe_value(value) == shown


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    return line


def test_rules_check_refuses_a_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(alias_bomb() + "rules:\n  - name: *a9\n    query: drone\n")
    line = _one_line_exit_2(capsys, "rules", "check", str(rules))
    assert "aliases" in line and str(rules) in line


def test_rules_test_refuses_a_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(alias_bomb() + "rules:\n  - name: x\n    query: drone\n    enabled: *a9\n")
    items = tmp_path / "items.jsonl"
    items.write_text('{"title": "drone strike"}\n')
    line = _one_line_exit_2(capsys, "rules", "test", "--rules", str(rules), "--input", str(items))
    assert "aliases" in line


def test_config_file_refuses_a_bomb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newswatch.yaml"
    config.write_text(bomb_as("poll_interval"))
    monkeypatch.setenv("NEWSWATCH_CONFIG", str(config))
    line = _one_line_exit_2(capsys, "feeds", "list")
    assert "is not valid YAML" in line and "aliases" in line


def test_a_long_bad_setting_is_shown_by_a_prefix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSWATCH_POLL_INTERVAL", "9" * 50 + "x" * 100_000)
    line = _one_line_exit_2(capsys, "feeds", "list")
    assert "(text of 100,050 characters)" in line and len(line) < 400


def test_feeds_file_refuses_a_bomb_and_a_list_url(tmp_path: Path) -> None:
    from bot.core.errors import ConfigError
    from bot.pipeline.feedlist import load_feed_list

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(alias_bomb() + "feeds:\n  - url: *a9\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_feed_list(feeds)
    feeds.write_text("feeds:\n  - url: [" + ", ".join(["x"] * 5000) + "]\n")
    with pytest.raises(ConfigError, match="url: a list of 5,000 items is not text"):
        load_feed_list(feeds)


def test_entities_file_refuses_a_bomb(tmp_path: Path) -> None:
    from bot.core.errors import ConfigError
    from filters.entities_file import load_catalogue

    entities = tmp_path / "entities.yaml"
    entities.write_text(bomb_as("country"))
    with pytest.raises(ConfigError, match="aliases"):
        load_catalogue(entities)
