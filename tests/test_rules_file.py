"""Loading, checking and exporting the watch-rules YAML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.core.model import Rule, Topic
from filters.rules_file import check_rules, dump_rules, load_rules

GOOD = """\
rules:
  - name: drone_strike
    description: Drone and missile strikes
    query: '"drone strike*" OR (drone* NEAR/5 (attack* OR strike*))'
    topic:
      intent: A drone or missile attack on a place
      positives: [Russia launched a drone attack on Kyiv overnight]
      negatives: [Drone light show at the festival]
      threshold: 0.55
  - name: aid_package
    query: aid AND (package OR billion)
    enabled: false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_good_file(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    assert rules == [
        Rule(
            name="drone_strike",
            query='"drone strike*" OR (drone* NEAR/5 (attack* OR strike*))',
            description="Drone and missile strikes",
            topic=Topic(
                intent="A drone or missile attack on a place",
                positives=("Russia launched a drone attack on Kyiv overnight",),
                negatives=("Drone light show at the festival",),
                threshold=0.55,
            ),
        ),
        Rule(name="aid_package", query="aid AND (package OR billion)", enabled=False),
    ]
    assert check_rules(write(tmp_path, GOOD)) == []


def test_dump_round_trips(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    exported = dump_rules(rules)
    assert load_rules(write(tmp_path, exported)) == rules
    assert exported.startswith("rules:\n- name: drone_strike\n")


def test_empty_rules_list_is_allowed(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, "rules:\n")) == []
    assert load_rules(write(tmp_path, "rules: []\n")) == []


def rule_yaml(body: str) -> str:
    return "rules:\n  - " + "\n    ".join(body.strip().splitlines()) + "\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", 'expected a top-level "rules:" list'),
        ("- name: x\n", 'expected a top-level "rules:" list'),
        ("rules: {}\nversion: 2\n", 'unknown top-level key "version"'),
        ("rules: drone\n", '"rules:" must be a list of rules'),
        ("rules:\n  - name: [x\n", "line 3: invalid YAML"),
        ("rules:\n  - drone\n", "rule #1: expected a mapping with at least name: and query:"),
        (
            rule_yaml("name: Drone Strike\nquery: drone"),
            "rule 'Drone Strike': name: 'Drone Strike'",
        ),
        (rule_yaml("query: drone"), "rule #1: name: None is not a lowercase identifier"),
        (rule_yaml("name: x\nquery: drone\nenabeld: true"), "rule 'x': unknown key \"enabeld\""),
        (rule_yaml("name: x"), "rule 'x': query: expected a non-empty text"),
        (rule_yaml("name: x\nquery: ''"), "rule 'x': query: expected a non-empty text"),
        (
            rule_yaml("name: x\nquery: drone OR uav)"),
            'rule \'x\': query: column 13: unbalanced ")" — remove it or add "(" before it',
        ),
        (rule_yaml("name: x\nquery: foo:bar"), "rule 'x': query: column 1: unknown field \"foo:\""),
        (rule_yaml("name: x\nquery: NOT x"), "rule 'x': query: column 1: no positive term"),
        (rule_yaml("name: x\nquery: drone\nenabled: maybe"), "rule 'x': enabled: 'maybe'"),
        (rule_yaml("name: x\nquery: drone\ndescription: [a]"), "rule 'x': description: expected"),
        (rule_yaml("name: x\nquery: drone\ntopic: drones"), "rule 'x': topic: expected a mapping"),
        (
            rule_yaml("name: x\nquery: drone\ntopic: {positives: [a]}"),
            "rule 'x': topic: intent: expected a non-empty text",
        ),
        (
            rule_yaml("name: x\nquery: drone\ntopic: {intent: a, threshold: 2}"),
            "rule 'x': topic: threshold: 2 is outside 0..1",
        ),
        (
            rule_yaml("name: x\nquery: drone\ntopic: {intent: a, threshold: high}"),
            "rule 'x': topic: threshold: 'high' is not a number",
        ),
        (
            rule_yaml("name: x\nquery: drone\ntopic: {intent: a, llm_check: maybe}"),
            "rule 'x': topic: llm_check: 'maybe' is not true or false",
        ),
        (
            rule_yaml("name: x\nquery: drone\ntopic: {intent: a, positives: a}"),
            "rule 'x': topic: positives: expected a list",
        ),
        (
            rule_yaml("name: x\nquery: drone\ntopic: {intent: a, examples: [a]}"),
            "rule 'x': topic: unknown key \"examples\"",
        ),
    ],
)
def test_problems_name_file_rule_and_field(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message
    assert check_rules(path) == [message]


def test_duplicate_names_are_an_error(tmp_path: Path) -> None:
    text = "rules:\n  - {name: x, query: drone}\n  - {name: x, query: uav}\n"
    path = write(tmp_path, text)
    assert check_rules(path) == [
        f"{path}: rule 'x': name: defined twice; rename one of them or delete the copy"
    ]


def test_check_lists_every_problem_and_load_raises_the_first(tmp_path: Path) -> None:
    text = (
        "rules:\n"
        "  - {name: a, query: 'drone OR'}\n"
        "  - {name: b, query: drone}\n"
        "  - {name: C, query: uav}\n"
        "  - {name: d, query: '(uav'}\n"
    )
    path = write(tmp_path, text)
    problems = check_rules(path)
    assert [problem.split(": ")[1] for problem in problems] == ["rule 'a'", "rule 'C'", "rule 'd'"]
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == problems[0] + " (and 2 more: run `newswatch rules check`)"


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert check_rules(missing) == [
        f"{missing}: cannot read the rules file: no such file or directory — check the path"
        " (set by NEWSWATCH_RULES_FILE or --rules)"
    ]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("rules:\n  - {name: a, query: café}\n".encode("latin-1"))
    assert check_rules(latin) == [f"{latin}: not UTF-8 text; save the file as UTF-8"]
