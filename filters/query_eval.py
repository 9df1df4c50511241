"""Evaluating a parsed query against one tokenised story, with evidence.

`evaluate` walks the AST exactly (the rule index only narrows which rules
are walked). It appends a `Hit` for every positive term, phrase, proximity
pair or regex that matched; hits under a NOT, or in a branch that failed,
are never kept. `sentence:(…)` is evaluated against each sentence of each
field alone (`sentence_views`). `build_match` turns the hits into a `Match`:

- **score** = 1 − ∏(1 − w) over the distinct (field, matched text) hits,
  with `w` from `FIELD_WEIGHTS` (title 0.5 > summary 0.3 > content 0.2 …).
  It lies in (0, 1], and every extra distinct hit raises it, so callers can
  sort by it. One title hit scores 0.5; title + summary 0.65.
- **why** is one line grouping the matched text by field in the order the
  hits were found: `title: "drone" · summary: "strike", "attack"`, at most
  `WHY_PER_FIELD` texts per field and `WHY_LIMIT` characters in all.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from bot.core.model import Hit, Match
from bot.core.sentences import iter_sentences
from bot.core.text import FIELDS, FieldTokens, StoryText, fold
from filters.morphology import stem_index, stem_positions
from filters.query_ast import (
    And,
    Before,
    Entity,
    Near,
    Node,
    Not,
    Operand,
    OperandIndex,
    Regex,
    Sentence,
    Term,
    TokenPattern,
)

FIELD_WEIGHTS: dict[str, float] = {
    "title": 0.5,
    "summary": 0.3,
    "content": 0.2,
    "publisher": 0.2,
    "url": 0.1,
}
WHY_LIMIT = 200
WHY_PER_FIELD = 4
MAX_HITS = 20
_HIT_TEXT_LIMIT = 60


def _positions(pattern: TokenPattern, field: FieldTokens) -> list[int]:
    if pattern.stem:
        return stem_positions(field, pattern.text)
    return field.positions_of(pattern.text, prefix=pattern.prefix)


def term_spans(term: Term, field: FieldTokens) -> list[tuple[int, int]]:
    """(first, last) token positions of every occurrence of `term` in `field`."""
    starts = _positions(term.tokens[0], field)
    if len(term.tokens) == 1:
        return [(start, start) for start in starts]
    length = len(term.tokens)
    tokens = field.tokens
    return [
        (start, start + length - 1)
        for start in starts
        if start + length <= len(tokens)
        and all(
            pattern.matches(tokens[start + offset])
            for offset, pattern in enumerate(term.tokens[1:], 1)
        )
    ]


def _evaluate_term(term: Term, text: StoryText, hits: list[Hit]) -> bool:
    found = False
    for name in term.fields:
        field = text.fields[name]
        spans = term_spans(term, field)
        if spans:
            hits.append(Hit(term.hit_label, name, field.original(*spans[0])))
            found = True
    return found


def operand_spans(operand: Operand, field: FieldTokens) -> list[tuple[int, int]]:
    """(first, last) positions of every occurrence of a term or class, sorted, in `field`."""
    if isinstance(operand, Term):
        return term_spans(operand, field)
    return [(span.first, span.last) for span in operand.entity_class.spans(field)]


def entity_hit(entity: Entity, name: str, field: FieldTokens) -> Hit | None:
    """The first member of the class in the field, as a Hit, if any."""
    spans = entity.entity_class.spans(field)
    if not spans:
        return None
    return _entity_hit(entity, name, field, spans[0].first, spans[0].last)


def _entity_hit(entity: Entity, name: str, field: FieldTokens, first: int, last: int) -> Hit:
    """A Hit naming the class; money shows the amount as written (with its symbol)."""
    found = next((s for s in entity.entity_class.spans(field) if s.first == first), None)
    if entity.name == "money" and found is not None:
        return Hit(entity.label, name, found.entity)
    return Hit(entity.label, name, field.original(first, last))


def _evaluate_entity(entity: Entity, text: StoryText, hits: list[Hit]) -> bool:
    found = False
    for name in entity.fields:
        hit = entity_hit(entity, name, text.fields[name])
        if hit is not None:
            hits.append(hit)
            found = True
    return found


def _evaluate_regex(regex: Regex, text: StoryText, hits: list[Hit]) -> bool:
    found = False
    for name in regex.fields:
        field = text.fields[name]
        if not field.text:
            continue
        folded, offsets = field.folded()
        result = regex.compiled.search(folded)
        if result is not None:
            start, end = result.span()
            original = field.text[offsets[start] : offsets[end - 1] + 1] if end > start else ""
            hits.append(Hit(regex.label, name, original))
            found = True
    return found


LabelledSpan = tuple[int, int, Operand]
"""(first, last, operand): one occurrence of a NEAR operand's term or class."""


_NO_OCCURRENCES: tuple[list[LabelledSpan], list[LabelledSpan]] = ([], [])


def _present(
    terms: tuple[Operand, ...], index: OperandIndex | None, field: FieldTokens
) -> list[int]:
    """Positions in `terms` of the operands that may occur in the field, in order."""
    if index is None:
        return list(range(len(terms)))
    found = list(index.always)
    for token in index.exact.keys() & field.positions.keys():
        found.extend(index.exact[token])
    if index.stems:
        for token in index.stems.keys() & stem_index(field).keys():
            found.extend(index.stems[token])
    return sorted(found)


def _occurrences(
    terms: tuple[Operand, ...], index: OperandIndex | None, name: str, field: FieldTokens
) -> tuple[list[LabelledSpan], list[LabelledSpan]]:
    """Every occurrence of any of `terms` in the field: sorted by first, and by last position.

    Only the operands `index` says may be there are searched. Each term's
    own spans come sorted by both (a term has one length; a class's
    occurrences never overlap), so a k-way merge orders them without a sort.
    """
    if not field.tokens:
        return _NO_OCCURRENCES
    per_term = []
    for position in _present(terms, index, field):
        term = terms[position]
        if name in term.fields and (spans := operand_spans(term, field)):
            per_term.append([(first, last, term) for first, last in spans])
    if len(per_term) <= 1:
        only = per_term[0] if per_term else []
        return only, only
    return (
        list(heapq.merge(*per_term, key=lambda span: span[0])),
        list(heapq.merge(*per_term, key=lambda span: span[1])),
    )


def _index(indexes: tuple[OperandIndex, ...], step: int) -> OperandIndex | None:
    return indexes[step] if indexes else None


def _pair_in_order(
    before: list[LabelledSpan], after: list[LabelledSpan], distance: int
) -> tuple[LabelledSpan, LabelledSpan] | None:
    """The first `after` span that starts 1..distance tokens after some `before` span ends.

    `before` is sorted by last position, `after` by first: one merge pass.
    For each `after` span, the `before` span ending latest before it starts
    is the only one worth checking, and the pointer to it only moves forward.
    """
    latest: LabelledSpan | None = None
    index = 0
    for span in after:
        while index < len(before) and before[index][1] < span[0]:
            latest = before[index]
            index += 1
        if latest is not None and span[0] - latest[1] <= distance:
            return latest, span
    return None


def _near_pair(near: Near, name: str, field: FieldTokens) -> list[Hit]:
    """Hits for a left/right pair within the distance in this field, if any.

    Linear in the field's length (for a fixed query): one left-before-right
    and one right-before-left merge pass over the sorted occurrences, never
    every left occurrence against every right one. Of the pairs found, the
    one that starts earlier is shown, left operand first.
    """
    right, right_by_last = _occurrences(near.right, _index(near.indexes, 1), name, field)
    if not right:
        return []
    left, left_by_last = _occurrences(near.left, _index(near.indexes, 0), name, field)
    if not left:
        return []
    pairs: list[tuple[LabelledSpan, LabelledSpan]] = []
    forward = _pair_in_order(left_by_last, right, near.distance)
    if forward is not None:
        pairs.append(forward)
    backward = _pair_in_order(right_by_last, left, near.distance)
    if backward is not None:
        pairs.append((backward[1], backward[0]))
    if not pairs:
        return []
    left_span, right_span = min(pairs, key=lambda pair: min(pair[0][0], pair[1][0]))
    return [_operand_hit(left_span, name, field), _operand_hit(right_span, name, field)]


def _operand_hit(span: LabelledSpan, name: str, field: FieldTokens) -> Hit:
    first, last, operand = span
    if isinstance(operand, Entity):
        return _entity_hit(operand, name, field, first, last)
    return Hit(operand.hit_label, name, field.original(first, last))


def _chain_end(node: Before, name: str, field: FieldTokens) -> list[LabelledSpan]:
    """One occurrence per step of a chain that holds in this field (empty if none).

    Step by step, the occurrences that some chain reaches are kept (sorted
    by last position) with the occurrence they were reached from; each step
    is one merge pass, as in `_pair_in_order`, so the chain is linear in the
    field's length.
    """
    reached = _occurrences(node.steps[0], _index(node.indexes, 0), name, field)[1]
    back: dict[LabelledSpan, LabelledSpan] = {}
    for number, distance in enumerate(node.distances, 1):
        if not reached:
            return []
        step = node.steps[number]
        candidates, by_last = _occurrences(step, _index(node.indexes, number), name, field)
        latest: LabelledSpan | None = None
        index = 0
        kept: set[LabelledSpan] = set()
        for span in candidates:
            while index < len(reached) and reached[index][1] < span[0]:
                latest = reached[index]
                index += 1
            if latest is not None and span[0] - latest[1] <= distance:
                kept.add(span)
                back[span] = latest
        reached = [span for span in by_last if span in kept]
        if not reached:
            return []
    chain = [min(reached, key=lambda span: span[0])]
    while chain[-1] in back:
        chain.append(back[chain[-1]])
    return chain[::-1]


def _evaluate_before(node: Before, text: StoryText, hits: list[Hit]) -> bool:
    # A chain starts with the first step: its fields are the only ones to search.
    names = node.indexes[0].fields if node.indexes else _step_fields(node.steps[0])
    found = False
    for name in names:
        field = text.fields[name]
        chain = _chain_end(node, name, field)
        hits.extend(_operand_hit(span, name, field) for span in chain)
        found = found or bool(chain)
    return found


def _step_fields(terms: tuple[Operand, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for term in terms for name in term.fields))


def _evaluate_near(near: Near, text: StoryText, hits: list[Hit]) -> bool:
    # A pair needs both operands in one field: the left group's fields are enough.
    names = near.indexes[0].fields if near.indexes else _step_fields(near.left)
    found = False
    for name in names:
        pair = _near_pair(near, name, text.fields[name])
        hits.extend(pair)
        found = found or bool(pair)
    return found


def evaluate(node: Node, text: StoryText, hits: list[Hit]) -> bool:
    """Whether `node` matches the story; positive evidence is appended to `hits`."""
    if isinstance(node, Term):
        return _evaluate_term(node, text, hits)
    if isinstance(node, Regex):
        return _evaluate_regex(node, text, hits)
    if isinstance(node, Entity):
        return _evaluate_entity(node, text, hits)
    if isinstance(node, Near):
        return _evaluate_near(node, text, hits)
    if isinstance(node, Before):
        return _evaluate_before(node, text, hits)
    if isinstance(node, Sentence):
        results = [evaluate(node.child, view, hits) for view in sentence_views(text)]
        return any(results)
    mark = len(hits)
    if isinstance(node, Not):
        matched = evaluate(node.child, text, hits)
        del hits[mark:]
        return not matched
    if isinstance(node, And):
        for child in node.children:
            if not evaluate(child, text, hits):
                del hits[mark:]
                return False
        return True
    results = [evaluate(child, text, hits) for child in node.children]
    return any(results)


_SENTENCE_VIEWS = "sentence-views"
"""Key of a field's sentence views in its `derived`."""


def sentence_views(text: StoryText) -> list[StoryText]:
    """One StoryText per sentence of each field, holding only that sentence.

    What `sentence:(…)` is evaluated against: a hit in a view names the field
    the sentence came from. Each field's views are made once, kept in its
    `derived` like the other per-field views.
    """
    views: list[StoryText] = []
    for name in FIELDS:
        field = text.fields[name]
        own = field.derived.get(_SENTENCE_VIEWS)
        if own is None:
            own = [StoryText({name: sentence}) for sentence in iter_sentences(field.text)]
            field.derived[_SENTENCE_VIEWS] = own
        views.extend(own)
    return views


def _distinct(hits: Sequence[Hit]) -> list[Hit]:
    seen: set[tuple[str, str]] = set()
    distinct: list[Hit] = []
    for hit in hits:
        key = (hit.field, fold(hit.text))
        if key not in seen:
            seen.add(key)
            distinct.append(hit)
    return distinct


def score_hits(hits: Sequence[Hit]) -> float:
    """1 − ∏(1 − field weight) over distinct hits: in [0, 1], rising with every hit."""
    miss = math.prod(1.0 - FIELD_WEIGHTS.get(hit.field, 0.1) for hit in _distinct(hits))
    return round(1.0 - miss, 4)


def _quoted(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _HIT_TEXT_LIMIT:
        flat = flat[: _HIT_TEXT_LIMIT - 1] + "…"
    return f'"{flat}"'


def explain_hits(hits: Sequence[Hit], limit: int = WHY_LIMIT) -> str:
    """One line: matched text grouped by field, `title: "drone" · summary: "strike"`.

    At most `WHY_PER_FIELD` texts per field (then `(+n)`), so every field shows.
    """
    by_field: dict[str, list[str]] = {}
    for hit in _distinct(hits):
        shown = _quoted(hit.text)
        if hit.term.startswith("@"):
            shown = f"{hit.term}: {shown[1:-1]}"
        by_field.setdefault(hit.field, []).append(shown)
    parts = []
    for name, texts in by_field.items():
        more = len(texts) - WHY_PER_FIELD
        shown = ", ".join(texts[:WHY_PER_FIELD]) + (f" (+{more})" if more > 0 else "")
        parts.append(f"{name}: {shown}")
    line = " · ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def build_match(rule: str, hits: Sequence[Hit]) -> Match:
    """The Match for a rule that matched with these hits (score, why, capped hits)."""
    distinct = _distinct(hits)
    return Match(
        rule=rule,
        score=score_hits(distinct),
        hits=tuple(distinct[:MAX_HITS]),
        why=explain_hits(distinct),
    )
