"""The rules in force: the YAML file overlaid by admins' edits in the database.

A rule edited from chat is stored in the database and wins over the YAML rule
of the same name; a YAML rule an admin removed stays removed. One bad rule is
logged and left out; the others keep matching.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import RuleSyntaxError
from bot.model import Match, Rule, Story
from bot.store.base import Store
from filters.rule_index import RuleIndex
from filters.rules_file import load_rules

log = logging.getLogger(__name__)


def merge_rules(
    file_rules: Sequence[Rule], db_rules: Sequence[Rule], deleted: set[str]
) -> list[Rule]:
    """File rules, replaced by database rules of the same name, minus deleted names."""
    merged = {rule.name: rule for rule in file_rules if rule.name not in deleted}
    merged.update({rule.name: rule for rule in db_rules})
    return sorted(merged.values(), key=lambda rule: rule.name)


@dataclass
class RuleBook:
    """The compiled rules; `reload` after any admin change."""

    rules_file: Path
    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleSyntaxError] = field(default_factory=list)
    index: RuleIndex = field(default_factory=lambda: RuleIndex.build([]))

    async def reload(self, store: Store) -> None:
        """Re-read the YAML file and the database overlay and recompile the index."""
        file_rules = load_rules(self.rules_file)
        db_rules = await store.list_rules()
        deleted = await store.deleted_rule_names()
        self.compile(merge_rules(file_rules, db_rules, deleted))

    def compile(self, rules: Sequence[Rule]) -> None:
        """Compile `rules`; a rule that does not parse is logged and left out."""
        self.rules = list(rules)
        self.index, self.errors = RuleIndex.build_lenient(self.rules)
        for error in self.errors:
            log.error("rule left out: %s", error)

    @classmethod
    def from_file(cls, path: Path) -> RuleBook:
        """The rules of one YAML file alone (no database overlay), e.g. for `rules test`."""
        book = cls(path)
        book.compile(load_rules(path))
        return book

    def rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def match_story(self, story: Story) -> list[Match]:
        """Every enabled rule that matches the story, strongest first."""
        matches = self.index.match(story)
        return sorted(matches, key=lambda match: (-match.score, match.rule))
