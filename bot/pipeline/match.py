"""The rules in force, and the match cascade that applies them.

Rules come from the YAML file overlaid by admins' edits in the database: a
rule edited from chat wins over the YAML rule of the same name; a YAML rule an
admin removed stays removed. One bad rule is logged and left out; the others
keep matching.

Matching is a cascade:

1. the compiled query index (filters.rule_index) finds the rules whose query
   matches, cheaply, for every story;
2. for those of them that carry a topic, and for topic-only rules, the
   semantic tier (filters.topics) scores the story against the topic's intent
   and examples, once per story, and keeps only the rules whose score reaches
   the topic's threshold; the best sentence becomes the match's evidence.

Without the semantic tier (the `semantic` extra not installed, or turned
off), rules with a query and a topic match on their query alone, and
topic-only rules are inactive; `inactive_rules` lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core import metrics
from bot.core.errors import RuleSyntaxError
from bot.core.model import Match, Rule, Story
from bot.core.sentences import split_sentences
from bot.store.base import Store
from filters.entities import EntityCatalogue
from filters.entities_file import default_catalogue
from filters.rule_index import RuleIndex
from filters.rules_file import load_rules

if TYPE_CHECKING:
    from filters.llm_check import LlmChecker
    from filters.semantic import Embedder
    from filters.topics import TopicScorer, TopicVerdict

log = logging.getLogger(__name__)

EVIDENCE_CHARS = 160
"""How much of the evidence sentence a match's `why` quotes."""

FOCUS_SENTENCES = 3
"""Sentences holding a rule's query hits that the topic also judges (see `hit_sentences`)."""


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
    embedder: Embedder | None = None
    """The semantic tier's model, or None when the tier is off or unavailable."""
    llm: LlmChecker | None = None
    """The chat model that confirms matches of rules with `llm_check: true`, if configured."""
    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleSyntaxError] = field(default_factory=list)
    index: RuleIndex = field(default_factory=lambda: RuleIndex.build([]))
    scorer: TopicScorer | None = None
    entities: EntityCatalogue = field(default_factory=default_catalogue)
    """The entity classes queries use: config/entities.yaml, pycountry, admins' additions."""

    async def reload(self, store: Store) -> None:
        """Re-read the YAML file, the database overlay and the entity additions; recompile."""
        file_rules = load_rules(self.rules_file)
        db_rules = await store.list_rules()
        deleted = await store.deleted_rule_names()
        added = await store.list_entity_names()
        self.entities = default_catalogue().with_names(
            (entry.entity_class, entry.name, entry.entity) for entry in added
        )
        self.compile(merge_rules(file_rules, db_rules, deleted))

    def compile(self, rules: Sequence[Rule]) -> None:
        """Compile `rules`; a rule that does not parse is logged and left out."""
        self.rules = list(rules)
        queries = [r for r in self.rules if r.query]
        self.index, self.errors = RuleIndex.build_lenient(queries, entities=self.entities)
        for error in self.errors:
            log.error("rule left out: %s", error)
        topic_rules = [r for r in self.rules if r.enabled and r.topic is not None]
        self.scorer = None
        if self.embedder is not None and topic_rules:
            from filters.topics import TopicScorer

            self.scorer = TopicScorer(self.embedder, topic_rules)

    @classmethod
    def from_file(cls, path: Path, *, embedder: Embedder | None = None) -> RuleBook:
        """The rules of one YAML file alone (no database overlay), e.g. for `rules test`."""
        book = cls(path, embedder=embedder)
        book.compile(load_rules(path))
        return book

    @property
    def topics_active(self) -> bool:
        return self.embedder is not None

    def rule(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)

    def inactive_rules(self) -> list[str]:
        """Enabled topic-only rules that cannot match because the semantic tier is off."""
        if self.topics_active:
            return []
        return [r.name for r in self.rules if r.enabled and not r.query and r.topic is not None]

    def match_story(self, story: Story) -> list[Match]:
        """Every enabled rule that matches the story, strongest first."""
        with metrics.MATCH_SECONDS.time():
            matches = {match.rule: match for match in self.index.match(story)}
            if self.scorer is not None:
                matches = self._confirm_topics(story, matches)
            return strongest_first(matches.values())

    async def confirm_matches(self, story: Story, matches: Sequence[Match]) -> list[Match]:
        """The matches after the optional LLM check (the cascade's last, slowest step).

        Only rules whose topic says `llm_check: true` are asked, and only when
        a model is configured. A "no" drops the match; a "yes" adds the
        model's one-line reason to the why; no answer (timeout, error,
        unreadable reply) keeps the semantic verdict, so a flaky model never
        loses an alert.
        """
        if self.llm is None:
            return list(matches)
        kept: list[Match] = []
        for match in matches:
            rule = self.rule(match.rule)
            if rule is None or rule.topic is None or not rule.topic.llm_check:
                kept.append(match)
                continue
            verdict = await self.llm.check(rule, story)
            if verdict is None:
                kept.append(match)
            elif verdict.confirmed:
                kept.append(replace(match, why=f"{match.why} · model: {verdict.reason}"))
            else:
                log.info("llm check rejected %s for %s: %s", rule.name, story.key, verdict.reason)
        return kept

    def match_query_only(self, story: Story) -> list[Match]:
        """The first tier alone (for evaluation and `rule test`)."""
        return strongest_first(self.index.match(story))

    def _confirm_topics(self, story: Story, matches: dict[str, Match]) -> dict[str, Match]:
        assert self.scorer is not None
        topic_names = self.scorer.rule_names
        topic_only = {r.name for r in self.rules if not r.query and r.name in topic_names}
        candidates = [name for name in matches if name in topic_names] + sorted(topic_only)
        if not candidates:
            return matches
        verdicts = self.scorer.score(story, candidates)
        confirmed = {name: m for name, m in matches.items() if name not in topic_names}
        for name in candidates:
            verdict = verdicts.get(name)
            if (verdict is None or not verdict.matched) and name in matches:
                verdict = self._focused_verdict(story, matches[name]) or verdict
            if verdict is not None and verdict.matched:
                confirmed[name] = with_topic_evidence(name, matches.get(name), verdict)
        return confirmed

    def cascade_scores(self, story: Story) -> tuple[frozenset[str], dict[str, float]]:
        """The rules whose query matched, and each topic's score, whatever the thresholds.

        For evaluation that tunes thresholds: a rule with a query and a topic
        matches at threshold t when its query matched and its score ≥ t; a
        topic-only rule when its score ≥ t. The score is the one the cascade
        compares with the threshold: the lead's, or, where the query matched,
        the better of that and the score of the sentences the query hit.
        """
        matched = {match.rule: match for match in self.index.match(story)}
        if self.scorer is None:
            return frozenset(matched), {}
        topic_names = self.scorer.rule_names
        topic_only = {r.name for r in self.rules if not r.query and r.name in topic_names}
        candidates = sorted((set(matched) & topic_names) | topic_only)
        verdicts = self.scorer.score(story, candidates)
        scores: dict[str, float] = {}
        for name in candidates:
            best = verdicts[name].score if name in verdicts else float("-inf")
            focused = self._focused_verdict(story, matched[name]) if name in matched else None
            scores[name] = max(best, focused.score) if focused is not None else best
        return frozenset(matched), scores

    def _focused_verdict(self, story: Story, match: Match) -> TopicVerdict | None:
        """The topic's verdict on the sentences where the query hit, when the lead missed.

        The topic tier reads a story's title and lead; in a long article the
        event a rule watches for may sit far below them (a wire story on a
        drone attack that reports a new aid package in its 20th paragraph).
        The query has already found where: those sentences are judged too.
        """
        assert self.scorer is not None
        focus = hit_sentences(story, match)
        if not focus:
            return None
        key = f"{story.key}#focus:{match.rule}"
        return self.scorer.score_text(key, "", "\n\n".join(focus), [match.rule]).get(match.rule)


def hit_sentences(story: Story, match: Match, limit: int = FOCUS_SENTENCES) -> list[str]:
    """The story's summary and content sentences holding most of the match's hits, in order.

    Only sentences that hold at least two distinct hits, or the only hit there
    is, count: one stray word ("aid") is no sign that the sentence is about the topic.
    """
    terms = {hit.text.casefold() for hit in match.hits if hit.field in ("summary", "content")}
    if not terms:
        return []
    needed = min(2, len(terms))
    seen: dict[str, int] = {}
    for text in (story.summary, story.content):
        for sentence in split_sentences(text):
            folded = sentence.casefold()
            count = sum(term in folded for term in terms)
            if count >= needed and sentence not in seen:
                seen[sentence] = count
    best = sorted(seen, key=lambda sentence: -seen[sentence])[:limit]
    return [sentence for sentence in seen if sentence in best]


def strongest_first(matches: Iterable[Match]) -> list[Match]:
    """Highest score first; rule name breaks ties, so the order is stable."""
    return sorted(matches, key=lambda match: (-match.score, match.rule))


def with_topic_evidence(rule: str, match: Match | None, verdict: TopicVerdict) -> Match:
    """The query match (if any) carrying the topic score and evidence sentence."""
    evidence = verdict.evidence.strip()
    quoted = evidence if len(evidence) <= EVIDENCE_CHARS else evidence[: EVIDENCE_CHARS - 1] + "…"
    topic_why = f'topic {verdict.score:.2f}: "{quoted}"'
    if match is None:
        return Match(rule=rule, score=verdict.score, evidence=evidence, why=topic_why)
    return replace(match, score=verdict.score, evidence=evidence, why=f"{match.why} · {topic_why}")
