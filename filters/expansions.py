"""What a query's terms reach, for `newswatch rules check`: word classes, stems, entity classes.

@wrongdoing → ~meddle, "war crime*", brib*

~accuse → any word with the stem "accus" (accuse, accused, accuses, accusing, …),
          accusation included
@country → 1,012 names of 250 entities (Afghanistan, Afghan, …)
"""

from __future__ import annotations

from collections.abc import Iterator

from filters.morphology import expansions
from filters.query_ast import And, Before, Entity, Near, Node, Not, Or, Sentence, Term


def _operands(node: Node) -> Iterator[Term | Entity]:
    if isinstance(node, Term | Entity):
        yield node
    elif isinstance(node, Near):
        yield from node.left + node.right
    elif isinstance(node, Before):
        for step in node.steps:
            yield from step
    elif isinstance(node, Not | Sentence):
        yield from _operands(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _operands(child)


def _stem_line(term: Term) -> str:
    words = term.label.removeprefix("~").split()
    stems = " ".join(pattern.text for pattern in term.tokens)
    forms = [", ".join(expansions(word.lower())) for word in words]
    return f'{term.label} → any word with the stem "{stems}" ({"; ".join(forms)}, …)'


def expansion_lines(node: Node) -> list[str]:
    """One line per word class, stem term and entity class in the query, in order of use."""
    words: dict[str, dict[str, None]] = {}
    for operand in _operands(node):
        if isinstance(operand, Term) and operand.word_class:
            words.setdefault(operand.word_class, {})[operand.label] = None
    lines: dict[str, None] = {
        f"@{name} → {', '.join(members)}": None for name, members in words.items()
    }
    for operand in _operands(node):
        if isinstance(operand, Entity):
            lines[operand.entity_class.summary()] = None
        elif any(pattern.stem for pattern in operand.tokens):
            lines[_stem_line(operand)] = None
    return list(lines)
