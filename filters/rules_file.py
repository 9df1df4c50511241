"""The watch-rules YAML file: load and validate, check, export.

    rules:
      - name: drone_strike            # [a-z][a-z0-9_]*, unique
        description: Drone and missile strikes
        query: '"drone strike*" OR (drone* NEAR/5 (attack* OR strike*))'
        enabled: true                 # optional, default true
        urgent: false                 # optional: true skips quiet hours and digests
        topic:                        # optional, the semantic half
          intent: A drone or missile attack on a place
          positives: [Russia launched a drone attack on Kyiv overnight]
          negatives: [Drone light show at the festival]
          threshold: 0.55             # 0..1, default 0.5

Every query, enabled or not, is parsed at load. Each problem is one line
naming the file, the rule and the field, and saying how to fix it:
`rules.yaml: rule 'x': query: column 7: unbalanced ")" — remove it or …`.
`load_rules` raises the first as ConfigError; `check_rules` lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.core.errors import ConfigError, RuleSyntaxError
from bot.core.files import os_error_reason
from bot.core.model import Rule, Topic
from bot.core.yamlsafe import describe_value, load_yaml
from filters.query import parse_query

RULE_KEYS = ("name", "description", "query", "enabled", "urgent", "topic")
TOPIC_KEYS = ("intent", "positives", "negatives", "threshold", "llm_check")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class _Problem(Exception):
    """One validation problem; the text is the part after the rule's location."""


def load_rules(path: Path) -> list[Rule]:
    """Read and validate the rules file; the first problem raises ConfigError (one line)."""
    rules, problems = _read(path)
    if problems:
        more = len(problems) - 1
        tail = f" (and {more} more: run `newswatch rules check`)" if more else ""
        raise ConfigError(problems[0] + tail)
    return rules


def check_rules(path: Path) -> list[str]:
    """Every problem in the rules file, one line each (empty when the file is good)."""
    return _read(path)[1]


def dump_rules(rules: Sequence[Rule]) -> str:
    """The rules as a YAML document that `load_rules` reads back unchanged."""
    entries: list[dict[str, Any]] = []
    for rule in rules:
        entry: dict[str, Any] = {"name": rule.name, "description": rule.description}
        entry["query"] = rule.query
        entry["enabled"] = rule.enabled
        if rule.urgent:
            entry["urgent"] = True
        if rule.topic is not None:
            entry["topic"] = {
                "intent": rule.topic.intent,
                "positives": list(rule.topic.positives),
                "negatives": list(rule.topic.negatives),
                "threshold": rule.topic.threshold,
            }
            if rule.topic.llm_check:
                entry["topic"]["llm_check"] = True
        entries.append(entry)
    return yaml.safe_dump({"rules": entries}, sort_keys=False, allow_unicode=True, width=100)


def _read(path: Path) -> tuple[list[Rule], list[str]]:
    """The valid rules and every problem found."""
    try:
        entries = _entries(path)
    except _Problem as problem:
        return [], [f"{path}: {problem}"]
    rules: list[Rule] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, 1):
        where = _where(entry, position)
        try:
            rule = _rule(entry)
            if rule.name in seen:
                raise _Problem("name: defined twice; rename one of them or delete the copy")
        except _Problem as problem:
            problems.append(f"{path}: {where}: {problem}")
            continue
        seen.add(rule.name)
        rules.append(rule)
    return rules, problems


def _entries(path: Path) -> list[Any]:
    """The items of the top-level `rules:` list."""
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        reason = os_error_reason(exc, path)
        raise _Problem(
            f"cannot read the rules file: {reason} (set by NEWSWATCH_RULES_FILE or --rules)"
        ) from None
    except UnicodeDecodeError:
        raise _Problem("not UTF-8 text; save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise _Problem(f"{line}invalid YAML ({problem}); check indentation and quoting") from None
    if not isinstance(document, dict) or "rules" not in document:
        raise _Problem('expected a top-level "rules:" list of rules')
    unknown = sorted(str(key) for key in document if key != "rules")
    if unknown:
        raise _Problem(f'unknown top-level key "{unknown[0]}"; only "rules:" is allowed')
    entries = document["rules"]
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise _Problem('"rules:" must be a list of rules, each starting with "- name:"')
    return entries


def _where(entry: Any, position: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"rule '{name}'" if isinstance(name, str) and name else f"rule #{position}"


def _rule(entry: Any) -> Rule:
    """One validated Rule from one YAML mapping."""
    if not isinstance(entry, dict):
        raise _Problem("expected a mapping with at least name: and query: (or topic:)")
    _reject_unknown(entry, RULE_KEYS, "")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _Problem(
            f"name: {describe_value(name)} is not a lowercase identifier; use a-z, 0-9 and _, "
            "starting with a letter, e.g. drone_strike"
        )
    topic = entry.get("topic")
    query = _text(entry, "query", required=topic is None)
    if query:
        try:
            parse_query(query)
        except RuleSyntaxError as exc:
            raise _Problem(f"query: column {exc.column}: {exc.message} — {exc.hint}") from None
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _Problem(
            f"enabled: {describe_value(enabled)} is not true or false; write enabled: false"
        )
    urgent = entry.get("urgent", False)
    if not isinstance(urgent, bool):
        raise _Problem(f"urgent: {describe_value(urgent)} is not true or false; write urgent: true")
    return Rule(
        name=name,
        query=query,
        description=_text(entry, "description", required=False),
        enabled=enabled,
        topic=None if topic is None else _topic(topic),
        urgent=urgent,
    )


def _reject_unknown(mapping: dict[Any, Any], valid: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(str(key) for key in mapping if key not in valid)
    if unknown:
        raise _Problem(f'{prefix}unknown key "{unknown[0]}"; valid keys are {", ".join(valid)}')


def _text(mapping: dict[Any, Any], key: str, *, required: bool, prefix: str = "") -> str:
    value = mapping.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        kind = "a non-empty text" if required else "text"
        raise _Problem(f"{prefix}{key}: expected {kind}; quote it if it has : or #")
    return value


def _texts(mapping: dict[Any, Any], key: str) -> tuple[str, ...]:
    value = mapping.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Problem(f"topic: {key}: expected a list of example sentences (- text)")
    return tuple(value)


def _topic(value: Any) -> Topic:
    """The semantic half of a rule from its `topic:` mapping."""
    if not isinstance(value, dict):
        raise _Problem("topic: expected a mapping with intent:, positives:, negatives:")
    _reject_unknown(value, TOPIC_KEYS, "topic: ")
    threshold = value.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise _Problem(
            f"topic: threshold: {describe_value(threshold)} is not a number; use e.g. 0.5"
        )
    if not 0.0 <= threshold <= 1.0:
        raise _Problem(f"topic: threshold: {threshold} is outside 0..1; use e.g. 0.5")
    llm_check = value.get("llm_check", False)
    if not isinstance(llm_check, bool):
        raise _Problem(f"topic: llm_check: {describe_value(llm_check)} is not true or false")
    return Topic(
        intent=_text(value, "intent", required=True, prefix="topic: "),
        positives=_texts(value, "positives"),
        negatives=_texts(value, "negatives"),
        threshold=float(threshold),
        llm_check=llm_check,
    )
