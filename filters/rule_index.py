"""The compiled rule index: match one story against every rule at once.

`RuleIndex.build(rules)` parses every enabled rule and derives from its AST
up to two anchor groups (`filters.anchors`): sets of tokens, prefixes,
stems, entity classes or regexes, one of which every match must contain.

`match(story)` tokenises the story once. Each rule is posted in an inverted
index under the anchors of its most selective group only; the story's
distinct tokens (and, through a 3-character head table, the wildcard
prefixes they start with; their stems; the entity classes whose names they
start) look up the posted rules, whose other group is then checked against
the story (bisect for prefixes, one RE2 set scan per field for regexes, done
only when needed). The AST (`filters.query_eval.evaluate`) is walked only
for those candidates. Rules without derivable anchors would be evaluated for
every story, but the parser rejects queries without a positive term, so in
practice every rule is indexed.

Entity classes come from an `EntityCatalogue` (default: the shipped
`config/entities.yaml` with pycountry's names); `build(rules, entities=…)`
takes another, e.g. with admins' additions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.errors import RuleSyntaxError
from bot.core.model import Hit, Match, Rule, Story
from bot.core.text import StoryText
from filters.anchors import (
    Group,
    GroupCheck,
    StoryAnchors,
    anchor_groups,
    entity_classes,
    regex_set,
)
from filters.entities import EntityCatalogue
from filters.query import parse_query
from filters.query_ast import MIN_PREFIX, Node
from filters.query_eval import build_match, evaluate

__all__ = ["CompiledRule", "RuleIndex", "anchor_groups", "match_query"]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its parsed query."""

    rule: Rule
    node: Node


def _match_node(name: str, node: Node, text: StoryText) -> Match | None:
    hits: list[Hit] = []
    return build_match(name, hits) if evaluate(node, text, hits) else None


def match_query(
    query: str, story: Story, *, rule: str = "", entities: EntityCatalogue | None = None
) -> Match | None:
    """Test one query against one story without an index (for `rule test`).

    Raises RuleSyntaxError if the query does not parse.
    """
    return _match_node(rule, parse_query(query, entities), StoryText.from_story(story))


def _compile(
    rules: Sequence[Rule], *, lenient: bool, entities: EntityCatalogue | None
) -> tuple[list[CompiledRule], list[RuleSyntaxError]]:
    """Parse enabled rules; a later rule replaces an earlier one of the same name."""
    compiled: dict[str, CompiledRule] = {}
    errors: list[RuleSyntaxError] = []
    for rule in rules:
        compiled.pop(rule.name, None)
        if not rule.enabled:
            continue
        try:
            compiled[rule.name] = CompiledRule(rule, parse_query(rule.query, entities))
        except RuleSyntaxError as exc:
            if not lenient:
                raise exc.with_rule(rule.name) from None
            errors.append(exc.with_rule(rule.name))
    return list(compiled.values()), errors


class _Postings:
    """Rule numbers by anchor, for the anchors rules are posted under."""

    def __init__(self) -> None:
        self.tokens: dict[str, list[int]] = {}
        self.prefixes: dict[str, list[int]] = {}
        self.stems: dict[str, list[int]] = {}
        self.classes: dict[str, list[int]] = {}
        self.regexes: dict[int, list[int]] = {}

    def post(self, number: int, check: GroupCheck) -> None:
        for token in check.tokens:
            self.tokens.setdefault(token, []).append(number)
        for prefix in check.prefixes:
            self.prefixes.setdefault(prefix, []).append(number)
        for stem in check.stems:
            self.stems.setdefault(stem, []).append(number)
        for name in check.classes:
            self.classes.setdefault(name, []).append(number)
        for pattern_number in check.regexes:
            self.regexes.setdefault(pattern_number, []).append(number)


class RuleIndex:
    """Every enabled rule, compiled once; `match` finds the rules a story satisfies.

    Each rule is posted under the anchors of its most selective group only;
    a rule found that way becomes a candidate if its other group also occurs.
    """

    def __init__(self, compiled: Sequence[CompiledRule]) -> None:
        """Index already-parsed rules; use `build` or `build_lenient` from plain rules."""
        self._rules = tuple(compiled)
        self._rest: list[tuple[GroupCheck, ...]] = []
        self._always: list[int] = []
        self._patterns: dict[str, int] = {}
        self._posted = _Postings()
        class_tokens: dict[str, set[str]] = {}
        for number, item in enumerate(self._rules):
            for name, entity_class in entity_classes(item.node).items():
                for token in entity_class.first_tokens():
                    class_tokens.setdefault(token, set()).add(name)
            checks = [self._check(group) for group in anchor_groups(item.node) or []]
            self._rest.append(tuple(checks[1:]))
            if checks:
                self._posted.post(number, checks[0])
            else:
                self._always.append(number)
        self._heads: dict[str, list[tuple[str, list[int]]]] = {}
        for prefix, numbers in self._posted.prefixes.items():
            self._heads.setdefault(prefix[:MIN_PREFIX], []).append((prefix, numbers))
        self._class_tokens = {token: frozenset(names) for token, names in class_tokens.items()}
        self._regex_set = regex_set(list(self._patterns))

    def _check(self, group: Group) -> GroupCheck:
        def values(wanted: str) -> frozenset[str]:
            return frozenset(value for kind, value in group if kind == wanted)

        regexes = [self._patterns.setdefault(value, len(self._patterns)) for value in values("r")]
        return GroupCheck(values("t"), values("p"), frozenset(regexes), values("s"), values("c"))

    @classmethod
    def build(cls, rules: Sequence[Rule], *, entities: EntityCatalogue | None = None) -> RuleIndex:
        """Compile enabled rules; the first bad query raises RuleSyntaxError naming its rule."""
        compiled, _ = _compile(rules, lenient=False, entities=entities)
        return cls(compiled)

    @classmethod
    def build_lenient(
        cls, rules: Sequence[Rule], *, entities: EntityCatalogue | None = None
    ) -> tuple[RuleIndex, list[RuleSyntaxError]]:
        """Compile the good rules and return the errors of the bad ones, so one bad rule
        never stops the others."""
        compiled, errors = _compile(rules, lenient=True, entities=entities)
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
        anchors = StoryAnchors(text, self._regex_set, self._class_tokens)
        posted = self._posted_for(anchors)
        found = [n for n in posted if all(anchors.has(group) for group in self._rest[n])]
        return sorted(found + self._always)

    def _posted_for(self, anchors: StoryAnchors) -> set[int]:
        """Rules posted under any anchor the story offers."""
        postings = self._posted
        posted: set[int] = set()
        for token in anchors.tokens:
            numbers = postings.tokens.get(token)
            if numbers:
                posted.update(numbers)
            heads = self._heads.get(token[:MIN_PREFIX])
            if heads:
                for prefix, numbers in heads:
                    if token.startswith(prefix):
                        posted.update(numbers)
        if postings.stems:
            for stem in anchors.stems():
                posted.update(postings.stems.get(stem, ()))
        if postings.classes:
            for name in anchors.classes():
                posted.update(postings.classes.get(name, ()))
        if postings.regexes:
            for pattern_number in anchors.regexes():
                posted.update(postings.regexes.get(pattern_number, ()))
        return posted
