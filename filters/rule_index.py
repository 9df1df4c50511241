"""The compiled rule index: match one story against every rule at once.

`RuleIndex.build(rules)` parses every enabled rule and derives, from its
AST, up to `GROUPS` *anchor groups*: sets of tokens, wildcard prefixes or
regexes such that any story the rule matches contains at least one anchor of
every group. `drone (strike* OR attack)` gives `{drone}` and
`{strike*, attack}`. A NOT contributes nothing; an OR unions its branches'
groups. When a query has more groups than `GROUPS`, the most selective are
kept (long, uncommon tokens before short or common ones, exact before
prefix) — this only affects speed, never results.

`match(story)` tokenises the story once, looks every distinct token (and its
prefixes) up in the inverted index, runs one RE2 set over the fields for
regex anchors, and walks the AST (`filters.query_eval.evaluate`) only for
the rules whose every group was seen. Rules without derivable anchors would
be evaluated for every story, but the parser rejects queries without a
positive term, so in practice every rule is indexed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from bot.errors import RuleSyntaxError
from bot.model import Hit, Match, Rule, Story
from filters.query import parse_query
from filters.query_ast import And, Near, Node, Not, Regex, Term, strip_accents
from filters.query_eval import build_match, evaluate
from filters.text import StoryText

GROUPS = 2
"""Anchor groups kept per rule: a rule is evaluated only if all are present."""

Anchor = tuple[str, str]
"""(`t`, token) | (`p`, prefix) | (`r`, regex pattern)."""
Group = frozenset[Anchor]

_COMMON_WORDS = (
    "a an the of in on at to for from by with and or not is are was were be has have had "
    "it its as that this he she they we you his her their new says said after over up out "
    "us about more than into will would could can no yes one two all but who what when how"
)
_COMMON = frozenset(_COMMON_WORDS.split())
"""Words too common to be a useful anchor (they are still matched exactly)."""


def _anchor_cost(anchor: Anchor) -> float:
    """Rough chance that a story contains the anchor; lower is more selective."""
    kind, value = anchor
    if kind == "r":
        return 0.5
    if value in _COMMON or value.isdigit():
        return 1.0
    return (2.0 if kind == "p" else 1.0) / len(value)


def _group_cost(group: Group) -> float:
    return sum(_anchor_cost(anchor) for anchor in group)


def _best(groups: Iterable[Group]) -> list[Group]:
    return sorted(set(groups), key=lambda group: (_group_cost(group), sorted(group)))[:GROUPS]


def _union(children: list[list[Group]]) -> list[Group]:
    """Groups for an OR: group i unions branch i's i-th best group."""
    width = min(len(groups) for groups in children)
    return [frozenset().union(*(groups[i] for groups in children)) for i in range(width)]


def _term_groups(term: Term) -> list[Group]:
    return [frozenset({("p" if t.prefix else "t", t.text)}) for t in term.tokens]


def anchor_groups(node: Node) -> list[Group] | None:
    """Up to GROUPS anchor groups every match of `node` satisfies; None if none can be derived."""
    if isinstance(node, Term):
        return _best(_term_groups(node))
    if isinstance(node, Regex):
        return [frozenset({("r", strip_accents(node.pattern))})]
    if isinstance(node, Near):
        sides = [_union([_best(_term_groups(t)) for t in side]) for side in (node.left, node.right)]
        return _best(sides[0] + sides[1])
    if isinstance(node, Not):
        return None
    derived = [anchor_groups(child) for child in node.children]
    if isinstance(node, And):
        known = [group for groups in derived if groups for group in groups]
        return _best(known) if known else None
    if any(groups is None for groups in derived):
        return None
    return _union([groups for groups in derived if groups is not None])


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its parsed query."""

    rule: Rule
    node: Node


def _match_node(name: str, node: Node, text: StoryText) -> Match | None:
    hits: list[Hit] = []
    return build_match(name, hits) if evaluate(node, text, hits) else None


def match_query(query: str, story: Story, *, rule: str = "") -> Match | None:
    """Test one query against one story without an index (for `rule test`).

    Raises RuleSyntaxError if the query does not parse.
    """
    return _match_node(rule, parse_query(query), StoryText.from_story(story))


def _compile(
    rules: Sequence[Rule], *, lenient: bool
) -> tuple[list[CompiledRule], list[RuleSyntaxError]]:
    """Parse enabled rules; a later rule replaces an earlier one of the same name."""
    compiled: dict[str, CompiledRule] = {}
    errors: list[RuleSyntaxError] = []
    for rule in rules:
        if not rule.enabled:
            continue
        compiled.pop(rule.name, None)
        try:
            compiled[rule.name] = CompiledRule(rule, parse_query(rule.query))
        except RuleSyntaxError as exc:
            if not lenient:
                raise exc.with_rule(rule.name) from None
            errors.append(exc.with_rule(rule.name))
    return list(compiled.values()), errors


class RuleIndex:
    """Every enabled rule, compiled once; `match` finds the rules a story satisfies."""

    def __init__(self, compiled: Sequence[CompiledRule]) -> None:
        """Index already-parsed rules; use `build` or `build_lenient` from plain rules."""
        self._rules = tuple(compiled)
        self._needed: list[int] = []
        self._tokens: dict[str, list[int]] = {}
        self._prefixes: dict[str, list[int]] = {}
        self._always: list[int] = []
        regex_codes: dict[str, list[int]] = {}
        for number, item in enumerate(self._rules):
            groups = anchor_groups(item.node)
            self._needed.append(len(groups or ()))
            if not groups:
                self._always.append(number)
                continue
            for slot, group in enumerate(groups):
                code = number * GROUPS + slot
                for kind, value in group:
                    table = {"t": self._tokens, "p": self._prefixes, "r": regex_codes}[kind]
                    table.setdefault(value, []).append(code)
        self._prefix_lengths = sorted({len(prefix) for prefix in self._prefixes})
        self._regex_codes = list(regex_codes.values())
        self._regex_set = _regex_set(list(regex_codes))

    @classmethod
    def build(cls, rules: Sequence[Rule]) -> RuleIndex:
        """Compile enabled rules; the first bad query raises RuleSyntaxError naming its rule."""
        compiled, _ = _compile(rules, lenient=False)
        return cls(compiled)

    @classmethod
    def build_lenient(cls, rules: Sequence[Rule]) -> tuple[RuleIndex, list[RuleSyntaxError]]:
        """Compile the good rules and return the errors of the bad ones, so one bad rule
        never stops the others."""
        compiled, errors = _compile(rules, lenient=True)
        return cls(compiled), errors

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Names of the indexed (enabled, valid) rules, in build order."""
        return tuple(item.rule.name for item in self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, story: Story) -> list[Match]:
        """Every rule the story matches, strongest first (score desc, then rule name)."""
        text = StoryText.from_story(story)
        matches = [
            found
            for number in self.candidates(text)
            if (found := _match_node(self._rules[number].rule.name, self._rules[number].node, text))
        ]
        return sorted(matches, key=lambda found: (-found.score, found.rule))

    def candidates(self, text: StoryText) -> list[int]:
        """Numbers of the rules whose every anchor group occurs in the story."""
        seen: set[int] = set()
        lengths = self._prefix_lengths
        for token in text.distinct_tokens():
            codes = self._tokens.get(token)
            if codes:
                seen.update(codes)
            for length in lengths:
                if length > len(token):
                    break
                codes = self._prefixes.get(token[:length])
                if codes:
                    seen.update(codes)
        if self._regex_set is not None:
            seen.update(self._regex_hits(text))
        counts: dict[int, int] = {}
        for code in seen:
            number = code // GROUPS
            counts[number] = counts.get(number, 0) + 1
        found = [number for number, count in counts.items() if count == self._needed[number]]
        return sorted(found + self._always)

    def _regex_hits(self, text: StoryText) -> Iterable[int]:
        for field in text.fields.values():
            if field.text:
                for pattern_number in self._regex_set.Match(field.folded()[0]) or ():
                    yield from self._regex_codes[pattern_number]


def _regex_set(patterns: list[str]) -> Any:
    """One RE2 set over every regex anchor, so all regexes cost one scan per field."""
    if not patterns:
        return None
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    regex_set = re2.Set.SearchSet(options)
    for pattern in patterns:
        regex_set.Add(pattern)
    regex_set.Compile()
    return regex_set
