"""The compiled rule index: match one story against every rule at once.

`RuleIndex.build(rules)` parses every enabled rule and derives, from its
AST, up to `GROUPS` *anchor groups*: sets of tokens, wildcard prefixes or
regexes such that any story the rule matches contains at least one anchor of
every group. `drone (strike* OR attack)` gives `{drone}` and
`{strike*, attack}`. A NOT contributes nothing; an OR unions its branches'
groups. When a query has more groups than `GROUPS`, the most selective are
kept (long, uncommon tokens before short or common ones, exact before
prefix) — this only affects speed, never results.

`match(story)` tokenises the story once. Each rule is posted in an inverted
index under the anchors of its most selective group only; the story's
distinct tokens (and, through a 3-character head table, the wildcard
prefixes they start with) look up the posted rules, whose other group is
then checked against the story's token set (bisect for prefixes, one RE2
set scan per field for regexes, done only when needed). The AST
(`filters.query_eval.evaluate`) is walked only for those candidates. Rules
without derivable anchors would be evaluated for every story, but the parser
rejects queries without a positive term, so in practice every rule is
indexed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from bot.core.errors import RuleSyntaxError
from bot.core.model import Hit, Match, Rule, Story
from bot.core.text import StoryText
from filters.query import parse_query
from filters.query_ast import MIN_PREFIX, And, Near, Node, Not, Regex, Term, strip_accents
from filters.query_eval import build_match, evaluate

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
    """Groups for an OR: group i is the union of every branch's i-th best group."""
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
        compiled.pop(rule.name, None)
        if not rule.enabled:
            continue
        try:
            compiled[rule.name] = CompiledRule(rule, parse_query(rule.query))
        except RuleSyntaxError as exc:
            if not lenient:
                raise exc.with_rule(rule.name) from None
            errors.append(exc.with_rule(rule.name))
    return list(compiled.values()), errors


@dataclass(frozen=True, slots=True)
class _GroupCheck:
    """One anchor group as sets, to test against a story's anchors."""

    tokens: frozenset[str]
    prefixes: frozenset[str]
    regexes: frozenset[int]


class _StoryAnchors:
    """What a story offers the prefilter: its tokens, their prefixes, its regex hits."""

    __slots__ = ("_regex_set", "_regexes", "_sorted", "text", "tokens")

    def __init__(self, text: StoryText, regex_set: Any) -> None:
        self.text = text
        self.tokens = text.distinct_tokens()
        self._regex_set = regex_set
        self._sorted: list[str] | None = None
        self._regexes: set[int] | None = None

    def has_prefix(self, prefixes: frozenset[str]) -> bool:
        """Whether any token starts with any of `prefixes` (bisect in sorted tokens)."""
        if self._sorted is None:
            self._sorted = sorted(self.tokens)
        ordered = self._sorted
        for prefix in prefixes:
            at = bisect_left(ordered, prefix)
            if at < len(ordered) and ordered[at].startswith(prefix):
                return True
        return False

    def regexes(self) -> set[int]:
        """Numbers of the anchor regexes found in any field (one RE2 set scan per field)."""
        if self._regexes is None:
            self._regexes = set()
            for field in self.text.fields.values():
                if field.text and self._regex_set is not None:
                    self._regexes.update(self._regex_set.Match(field.folded()[0]) or ())
        return self._regexes

    def has(self, group: _GroupCheck) -> bool:
        """Whether any anchor of the group occurs in the story."""
        return (
            not group.tokens.isdisjoint(self.tokens)
            or bool(group.prefixes and self.has_prefix(group.prefixes))
            or bool(group.regexes and not group.regexes.isdisjoint(self.regexes()))
        )


class RuleIndex:
    """Every enabled rule, compiled once; `match` finds the rules a story satisfies.

    Each rule is posted under the anchors of its most selective group only;
    a rule found that way becomes a candidate if its other group also occurs.
    """

    def __init__(self, compiled: Sequence[CompiledRule]) -> None:
        """Index already-parsed rules; use `build` or `build_lenient` from plain rules."""
        self._rules = tuple(compiled)
        self._tokens: dict[str, list[int]] = {}
        self._heads: dict[str, list[tuple[str, list[int]]]] = {}
        self._regex_rules: dict[int, list[int]] = {}
        self._rest: list[tuple[_GroupCheck, ...]] = []
        self._always: list[int] = []
        self._patterns: dict[str, int] = {}
        prefixes: dict[str, list[int]] = {}
        for number, item in enumerate(self._rules):
            groups = anchor_groups(item.node) or []
            checks = [self._check(group) for group in groups]
            self._rest.append(tuple(checks[1:]))
            if not checks:
                self._always.append(number)
                continue
            for token in checks[0].tokens:
                self._tokens.setdefault(token, []).append(number)
            for prefix in checks[0].prefixes:
                prefixes.setdefault(prefix, []).append(number)
            for pattern_number in checks[0].regexes:
                self._regex_rules.setdefault(pattern_number, []).append(number)
        for prefix, numbers in prefixes.items():
            self._heads.setdefault(prefix[:MIN_PREFIX], []).append((prefix, numbers))
        self._regex_set = _regex_set(list(self._patterns))

    def _check(self, group: Group) -> _GroupCheck:
        regexes = [
            self._patterns.setdefault(value, len(self._patterns))
            for kind, value in group
            if kind == "r"
        ]
        return _GroupCheck(
            frozenset(value for kind, value in group if kind == "t"),
            frozenset(value for kind, value in group if kind == "p"),
            frozenset(regexes),
        )

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
        anchors = _StoryAnchors(text, self._regex_set)
        posted: set[int] = set()
        for token in anchors.tokens:
            numbers = self._tokens.get(token)
            if numbers:
                posted.update(numbers)
            heads = self._heads.get(token[:MIN_PREFIX])
            if heads:
                for prefix, numbers in heads:
                    if token.startswith(prefix):
                        posted.update(numbers)
        if self._regex_rules:
            for pattern_number in anchors.regexes():
                posted.update(self._regex_rules.get(pattern_number, ()))
        found = [n for n in posted if all(anchors.has(group) for group in self._rest[n])]
        return sorted(found + self._always)


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
