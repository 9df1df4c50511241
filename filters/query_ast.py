"""The parsed form of a watch-rule query: small frozen nodes.

`filters.query.parse_query` builds these; `filters.query_eval` evaluates them
against a tokenised story; `filters.rule_index` derives prefilter anchors
from them. `describe` renders a node as a compact S-expression, used by
tests and by `rule show` to display how a query was understood.
`build_term` and `compile_regex` turn the text of one term into its node.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import re2

from bot.core.errors import RuleSyntaxError
from bot.core.text import DEFAULT_FIELDS, Token, iter_tokens
from filters.entities import EntityCatalogue, EntityClass
from filters.morphology import stem

MIN_PREFIX = 3
"""Characters a wildcard needs before its `*`."""


@dataclass(frozen=True, slots=True)
class TokenPattern:
    """One folded query token; `prefix` for a trailing wildcard (`strike*`),
    `stem` for a `~word` (then `text` is the word's stem)."""

    text: str
    prefix: bool = False
    stem: bool = False

    def matches(self, token: str) -> bool:
        """Whether a folded story token satisfies this pattern."""
        if self.stem:
            return stem(token) == self.text
        return token.startswith(self.text) if self.prefix else token == self.text


@dataclass(frozen=True, slots=True)
class Term:
    """A word, wildcard or phrase: consecutive tokens in one of `fields`."""

    tokens: tuple[TokenPattern, ...]
    fields: tuple[str, ...]
    label: str
    """The term as the user wrote it, e.g. `strike*` or `"drone strike"`."""
    column: int
    word_class: str = ""
    """The word class the term came from (`wrongdoing` for `@wrongdoing`), if any."""

    @property
    def hit_label(self) -> str:
        """What an explanation calls the term: its word class if it has one."""
        return f"@{self.word_class}" if self.word_class else self.label


@dataclass(frozen=True, slots=True)
class Regex:
    """An RE2 pattern searched in the folded text of `fields`."""

    pattern: str
    """As written between the slashes (`\\/` kept: RE2 reads it as `/`)."""
    fields: tuple[str, ...]
    column: int
    compiled: Any = field(compare=False, repr=False, default=None)
    """The compiled `re2` pattern (case-insensitive, accents folded)."""

    @property
    def label(self) -> str:
        """The regex as the user wrote it."""
        return f"re:/{self.pattern}/"


@dataclass(frozen=True, slots=True)
class Entity:
    """Any member of an entity class (`@country`, `@money`) in one of `fields`."""

    name: str
    fields: tuple[str, ...]
    column: int
    entity_class: EntityClass = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        """The class as the user wrote it."""
        return f"@{self.name}"

    @property
    def hit_label(self) -> str:
        """What an explanation calls the class: `@country`."""
        return self.label


Operand = Term | Entity
"""What NEAR joins: a term, phrase, wildcard, stem or entity class."""


@dataclass(frozen=True, slots=True)
class OperandIndex:
    """Which operands of a NEAR/BEFORE group a field can hold, found without trying each.

    `exact` and `stems` map an operand's first token (or stem) to the
    operands' positions in the group; `always` lists the ones that must be
    tried (wildcards, entity classes). A group of fifty words costs a set
    intersection per field, not fifty searches.
    """

    exact: dict[str, tuple[int, ...]]
    stems: dict[str, tuple[int, ...]]
    always: tuple[int, ...]
    fields: tuple[str, ...]
    """Every field some operand of the group searches, in order."""


def index_operands(terms: tuple[Operand, ...]) -> OperandIndex:
    """The OperandIndex of one NEAR/BEFORE operand group."""
    exact: dict[str, list[int]] = {}
    stems: dict[str, list[int]] = {}
    always: list[int] = []
    for position, term in enumerate(terms):
        first = term.tokens[0] if isinstance(term, Term) else None
        if first is None or first.prefix:
            always.append(position)
        else:
            (stems if first.stem else exact).setdefault(first.text, []).append(position)
    return OperandIndex(
        {k: tuple(v) for k, v in exact.items()},
        {k: tuple(v) for k, v in stems.items()},
        tuple(always),
        tuple(dict.fromkeys(name for term in terms for name in term.fields)),
    )


@dataclass(frozen=True, slots=True)
class Near:
    """Some `left` operand within `distance` tokens of some `right` operand, same field."""

    left: tuple[Operand, ...]
    right: tuple[Operand, ...]
    distance: int
    column: int
    indexes: tuple[OperandIndex, ...] = field(default=(), compare=False, repr=False)
    """`index_operands` of left and right, built by the parser."""


@dataclass(frozen=True, slots=True)
class Before:
    """Operands in this order, each starting 1..distances[i] tokens after the one before ends.

    `a BEFORE/8 b BEFORE/3 c`: some a, then within 8 tokens some b, then
    within 3 tokens some c, all in one field.
    """

    steps: tuple[tuple[Operand, ...], ...]
    distances: tuple[int, ...]
    column: int
    indexes: tuple[OperandIndex, ...] = field(default=(), compare=False, repr=False)
    """`index_operands` of each step, built by the parser."""


@dataclass(frozen=True, slots=True)
class Not:
    """Matches when `child` does not."""

    child: Node
    column: int


@dataclass(frozen=True, slots=True)
class Sentence:
    """Matches when `child` matches inside one sentence of one field (`sentence:(…)`).

    Each field is cut into sentences (`bot.core.sentences`) and `child` is
    evaluated against each sentence alone, so an exclusion inside it vetoes
    only the sentence it is found in: `sentence:(@us BEFORE/8 @wrongdoing
    -(@us BEFORE/2 @say_verb))` is not undone by "the Pentagon said" elsewhere.
    """

    child: Node
    column: int


@dataclass(frozen=True, slots=True)
class And:
    """Matches when every child does."""

    children: tuple[Node, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Or:
    """Matches when any child does."""

    children: tuple[Node, ...]
    column: int


Node = Term | Regex | Entity | Near | Before | Not | Sentence | And | Or


def _scope(fields: tuple[str, ...]) -> str:
    if fields == DEFAULT_FIELDS:
        return ""
    return "|".join(fields) + ":"


def _describe_terms(terms: tuple[Operand, ...]) -> str:
    if len(terms) == 1:
        return describe(terms[0])
    return "(OR " + " ".join(describe(term) for term in terms) + ")"


def describe(node: Node) -> str:
    """A compact, unambiguous rendering: `(AND title:drone (OR strike* "air raid"))`."""
    if isinstance(node, Term | Regex | Entity):
        return _scope(node.fields) + node.label
    if isinstance(node, Near):
        return f"(NEAR/{node.distance} {_describe_terms(node.left)} {_describe_terms(node.right)})"
    if isinstance(node, Before):
        parts = [_describe_terms(node.steps[0])]
        for distance, step in zip(node.distances, node.steps[1:], strict=True):
            parts.append(f"BEFORE/{distance} {_describe_terms(step)}")
        return "(" + " ".join(parts) + ")"
    if isinstance(node, Not):
        return f"(NOT {describe(node.child)})"
    if isinstance(node, Sentence):
        return f"(SENTENCE {describe(node.child)})"
    name = "AND" if isinstance(node, And) else "OR"
    return f"({name} " + " ".join(describe(child) for child in node.children) + ")"


# ── building atoms from the text as written ──────────────────────────────────


def strip_accents(pattern: str) -> str:
    """Drop combining accents (not case: `\\S` must stay `\\S`), as story text is folded."""
    if pattern.isascii():
        return pattern
    decomposed = unicodedata.normalize("NFKD", pattern)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def compile_regex(pattern: str, *, query: str, column: int) -> Any:
    """Compile a rule regex with RE2 (case-insensitive, accents folded like story text)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    folded = strip_accents(pattern)
    try:
        compiled = re2.compile(folded, options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        fragment = detail.rpartition(": ")[2]
        offset = max(folded.find(fragment), 0) if fragment else 0
        raise RuleSyntaxError(
            f"invalid regex: {detail}",
            query=query,
            column=column + offset,
            hint="RE2 syntax has no lookaround or backreferences; fix or simplify the pattern",
        ) from None
    if compiled.search("") is not None:
        raise RuleSyntaxError(
            "regex matches empty text, so it would match every story",
            query=query,
            column=column,
            hint="make it require at least one character, e.g. drones? instead of (drones)?",
        )
    return compiled


def build_term(
    raw: str,
    *,
    quoted: bool,
    fields: tuple[str, ...],
    query: str,
    column: int,
    stemmed: bool = False,
) -> Term:
    """Turn a word or phrase as written into a Term of folded token patterns.

    `stemmed` (a `~word`, `raw` without the `~`): every token matches by its stem.
    """
    if stemmed:
        return _stemmed_term(raw, fields=fields, query=query, column=column)
    if quoted and "~" in raw:
        raise RuleSyntaxError(
            "a ~ inside quotes",
            query=query,
            column=column + raw.index("~"),
            hint="stems work on single words: ~launch NEAR/1 ~attack",
        )
    found = list(iter_tokens(raw))
    if not found:
        what = "an empty phrase" if quoted else f'"{raw}" has no letters or digits'
        hint = "put words between the quotes" if quoted else "remove it or add letters"
        where = column - 1 if quoted else column
        raise RuleSyntaxError(what, query=query, column=where, hint=hint)
    patterns: list[TokenPattern] = []
    used_stars: set[int] = set()
    for token in found:
        star = token.consumed_end
        prefix = raw[star : star + 1] == "*"
        if prefix:
            used_stars.add(star)
            _check_prefix(token, raw, query=query, column=column)
        patterns.append(TokenPattern(token.text, prefix))
    stray = next((i for i, char in enumerate(raw) if char == "*" and i not in used_stars), None)
    if stray is not None:
        raise RuleSyntaxError(
            'a "*" that does not end a word',
            query=query,
            column=column + stray,
            hint=f"put * right after at least {MIN_PREFIX} letters, e.g. strike*",
        )
    label = f'"{raw}"' if quoted else raw
    return Term(tuple(patterns), fields, label, column - 1 if quoted else column)


def _check_prefix(token: Token, raw: str, *, query: str, column: int) -> None:
    star = token.consumed_end
    after = raw[star + 1 : star + 2]
    if after and not after.isspace():
        raise RuleSyntaxError(
            'a "*" inside a word',
            query=query,
            column=column + star,
            hint="a wildcard only ends a word: strike* matches strike, strikes, striker",
        )
    if len(token.text) < MIN_PREFIX:
        raise RuleSyntaxError(
            f'wildcard "{token.text}*" is too short',
            query=query,
            column=column + token.start,
            hint=f"use at least {MIN_PREFIX} letters before *, or the whole word",
        )


def _stemmed_term(raw: str, *, fields: tuple[str, ...], query: str, column: int) -> Term:
    found = list(iter_tokens(raw))
    if not found:
        raise RuleSyntaxError(
            f'"~{raw}" has no word to stem', query=query, column=column, hint="write ~accuse"
        )
    star = raw.find("*")
    if star >= 0:
        raise RuleSyntaxError(
            "a ~word cannot also end in *",
            query=query,
            column=column + 1 + star,
            hint="use one: ~strike matches strikes, striking; strike* matches any ending",
        )
    patterns = tuple(TokenPattern(stem(token.text), stem=True) for token in found)
    return Term(patterns, fields, f"~{raw}", column)


def build_entity(
    name: str, *, fields: tuple[str, ...], catalogue: EntityCatalogue, query: str, column: int
) -> Entity:
    """The Entity node for `@name`, or RuleSyntaxError naming the known classes."""
    found = catalogue.get(name)
    if found is None:
        known = ", ".join(f"@{known}" for known in catalogue.names)
        what = f'unknown entity class "@{name}"' if name else 'a lone "@"'
        raise RuleSyntaxError(
            what, query=query, column=column, hint=f"use one of {known}, or quote the text"
        )
    return Entity(name, fields, column, found)
