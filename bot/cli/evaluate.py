"""Rule quality on labelled items: precision, recall, F1 and the confusions.

Used by `newswatch rules eval --input LABELLED.jsonl`: each item carries
`labels`, the rule names that should match it; every other rule should not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.cli.items import Item
from bot.core.errors import ConfigError
from bot.core.model import Match


@dataclass(frozen=True, slots=True)
class Confusion:
    """An item a rule got wrong, with the rule's reason (for false positives)."""

    item_id: str
    title: str
    why: str = ""


@dataclass
class RuleScore:
    """Counts and mistakes of one rule."""

    rule: str
    true_positives: int = 0
    false_positives: list[Confusion] = field(default_factory=list)
    false_negatives: list[Confusion] = field(default_factory=list)

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_positives)
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        relevant = self.true_positives + len(self.false_negatives)
        return self.true_positives / relevant if relevant else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def require_labels(items: Sequence[Item]) -> None:
    """ConfigError naming the first item without `labels` (before anything is scored)."""
    for item in items:
        if item.labels is None:
            raise ConfigError(f"item {item.id} has no 'labels' — evaluation needs labelled items")


def evaluate_rules(
    items: Sequence[Item], rule_names: Sequence[str], match: Callable[[Item], list[Match]]
) -> list[RuleScore]:
    """Score every rule in `rule_names` over labelled items."""
    require_labels(items)
    scores = {name: RuleScore(name) for name in rule_names}
    for item in items:
        assert item.labels is not None  # checked above
        matched = {m.rule: m for m in match(item)}
        for name, score in scores.items():
            expected, got = name in item.labels, name in matched
            if expected and got:
                score.true_positives += 1
            elif got:
                score.false_positives.append(
                    Confusion(item.id, item.story.title, matched[name].why)
                )
            elif expected:
                score.false_negatives.append(Confusion(item.id, item.story.title))
    return list(scores.values())


def report_lines(scores: Sequence[RuleScore], *, confusions: bool = True) -> list[str]:
    """A table of precision/recall/F1 per rule, then each rule's mistakes."""
    lines = [f"{'rule':<16} {'P':>6} {'R':>6} {'F1':>6}  TP  FP  FN"]
    for s in scores:
        lines.append(
            f"{s.rule:<16} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} "
            f"{s.true_positives:3d} {len(s.false_positives):3d} {len(s.false_negatives):3d}"
        )
    if confusions:
        for s in scores:
            for c in s.false_positives:
                lines.append(f"  FP {s.rule}: {c.item_id} {c.title[:90]}  [{c.why[:80]}]")
            for c in s.false_negatives:
                lines.append(f"  FN {s.rule}: {c.item_id} {c.title[:90]}")
    return lines
