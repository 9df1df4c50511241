"""Prefilter anchors: what a story must contain for a rule to be worth evaluating.

`anchor_groups(node)` derives, from a parsed query, up to `GROUPS` *anchor
groups*: sets of tokens, wildcard prefixes, stems, entity classes or regexes
such that any story the rule matches contains at least one anchor of every
group. `drone (strike* OR attack)` gives `{drone}` and `{strike*, attack}`;
`~accuse NEAR @us` gives `{~accus}` and `{@us}`. A NOT contributes nothing;
an OR unions its branches' groups. When a query has more groups than
`GROUPS`, the most selective are kept (long, uncommon tokens before short or
common ones, exact before prefix, anything before an entity class, which
nearly every story holds) — this only affects speed, never results.

`StoryAnchors` is what one story offers: its distinct tokens, and, computed
only when a rule asks, their prefixes (bisect), their stems (one call into
the stemmer), the entity classes whose names can start at one of its tokens
(`class_tokens`: first token → classes), and the regexes of one RE2 set scan
per field. A class anchor is a superset test; the exact class match, with
its rules about capitals, is the evaluator's.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from bot.core.text import StoryText
from filters.entities import EntityClass
from filters.morphology import stems
from filters.query_ast import (
    And,
    Before,
    Entity,
    Near,
    Node,
    Not,
    Operand,
    Or,
    Regex,
    Sentence,
    Term,
    TokenPattern,
    strip_accents,
)

GROUPS = 2
"""Anchor groups kept per rule: a rule is evaluated only if all are present."""

Anchor = tuple[str, str]
"""(`t`, token) | (`p`, prefix) | (`s`, stem) | (`c`, entity class) | (`r`, regex pattern)."""
Group = frozenset[Anchor]

_COMMON_WORDS = (
    "a an the of in on at to for from by with and or not is are was were be has have had "
    "it its as that this he she they we you his her their new says said after over up out "
    "us about more than into will would could can no yes one two all but who what when how"
)
_COMMON = frozenset(_COMMON_WORDS.split())
"""Words too common to be a useful anchor (they are still matched exactly)."""


CLASS_COST = 0.8
"""An entity class is in most stories (nearly every story names a country)."""


def _anchor_cost(anchor: Anchor) -> float:
    """Rough chance that a story contains the anchor; lower is more selective."""
    kind, value = anchor
    if kind == "r":
        return 0.5
    if kind == "c":
        return CLASS_COST
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


def _pattern_anchor(pattern: TokenPattern) -> Anchor:
    return ("s" if pattern.stem else "p" if pattern.prefix else "t", pattern.text)


def _term_groups(term: Operand) -> list[Group]:
    if isinstance(term, Entity):
        return [frozenset({term.entity_class.anchor()})]
    return [frozenset({_pattern_anchor(pattern)}) for pattern in term.tokens]


def anchor_groups(node: Node) -> list[Group] | None:
    """Up to GROUPS anchor groups every match of `node` satisfies; None if none can be derived."""
    if isinstance(node, Term | Entity):
        return _best(_term_groups(node))
    if isinstance(node, Regex):
        return [frozenset({("r", strip_accents(node.pattern))})]
    if isinstance(node, Near | Before):
        steps = (node.left, node.right) if isinstance(node, Near) else node.steps
        sides = [_union([_best(_term_groups(t)) for t in side]) for side in steps]
        return _best(group for side in sides for group in side)
    if isinstance(node, Not):
        return None
    if isinstance(node, Sentence):  # a match in one sentence is a match in the story
        return anchor_groups(node.child)
    derived = [anchor_groups(child) for child in node.children]
    if isinstance(node, And):
        known = [group for groups in derived if groups for group in groups]
        return _best(known) if known else None
    if any(groups is None for groups in derived):
        return None
    return _union([groups for groups in derived if groups is not None])


@dataclass(frozen=True, slots=True)
class GroupCheck:
    """One anchor group as sets, to test against a story's anchors."""

    tokens: frozenset[str]
    prefixes: frozenset[str]
    regexes: frozenset[int]
    stems: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()


def entity_classes(node: Node) -> dict[str, EntityClass]:
    """Every entity class a query uses, by name."""
    if isinstance(node, Entity):
        return {node.name: node.entity_class}
    if isinstance(node, Near | Before):
        steps = (node.left, node.right) if isinstance(node, Near) else node.steps
        return {t.name: t.entity_class for s in steps for t in s if isinstance(t, Entity)}
    if isinstance(node, Not | Sentence):
        return entity_classes(node.child)
    if isinstance(node, And | Or):
        found: dict[str, EntityClass] = {}
        for child in node.children:
            found.update(entity_classes(child))
        return found
    return {}


class StoryAnchors:
    """What a story offers the prefilter: tokens, prefixes, stems, classes, regex hits."""

    __slots__ = (
        "_class_tokens",
        "_classes",
        "_regex_set",
        "_regexes",
        "_sorted",
        "_stems",
        "text",
        "tokens",
    )

    def __init__(
        self, text: StoryText, regex_set: Any, class_tokens: Mapping[str, frozenset[str]]
    ) -> None:
        self.text = text
        self.tokens = text.distinct_tokens()
        self._regex_set = regex_set
        self._class_tokens = class_tokens
        self._sorted: list[str] | None = None
        self._regexes: set[int] | None = None
        self._stems: set[str] | None = None
        self._classes: set[str] | None = None

    def stems(self) -> set[str]:
        """The stems of the story's distinct tokens (computed once)."""
        if self._stems is None:
            self._stems = set(stems(list(self.tokens)))
        return self._stems

    def classes(self) -> set[str]:
        """Entity classes with a name that starts at one of the story's tokens."""
        if self._classes is None:
            self._classes = set()
            for token in self.tokens:
                found = self._class_tokens.get(token)
                if found:
                    self._classes.update(found)
        return self._classes

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

    def has(self, group: GroupCheck) -> bool:
        """Whether any anchor of the group occurs in the story."""
        return (
            not group.tokens.isdisjoint(self.tokens)
            or bool(group.prefixes and self.has_prefix(group.prefixes))
            or bool(group.stems and not group.stems.isdisjoint(self.stems()))
            or bool(group.classes and not group.classes.isdisjoint(self.classes()))
            or bool(group.regexes and not group.regexes.isdisjoint(self.regexes()))
        )


def regex_set(patterns: list[str]) -> Any:
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
