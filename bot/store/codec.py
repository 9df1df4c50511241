"""JSON encoding of the dataclasses the store keeps as documents.

Alerts (with their Story, Matches and Hits) are stored on outbox rows, topics
on rules, rule snapshots in the audit trail. Datetimes are ISO-8601 in UTC.
Decoding gives back an equal dataclass: `decode_alert(encode_alert(a)) == a`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core.errors import StoreError
from bot.core.model import Alert, Digest, Hit, Hold, Match, Rule, Source, Story, Topic

JsonObject = dict[str, Any]


def encode_time(value: datetime) -> str:
    """ISO-8601 text of an aware datetime, normalised to UTC."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass timezone-aware UTC times")
    return value.astimezone(UTC).isoformat()


def decode_time(text: str) -> datetime:
    """The UTC datetime written by `encode_time`."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value.astimezone(UTC)


def story_to_dict(story: Story) -> JsonObject:
    """A JSON-ready dict of every Story field."""
    return {
        "key": story.key,
        "title": story.title,
        "summary": story.summary,
        "content": story.content,
        "url": story.url,
        "canonical_url": story.canonical_url,
        "publisher": story.publisher,
        "published": encode_time(story.published),
        "fetched_at": encode_time(story.fetched_at),
        "guid": story.guid,
        "feed_id": story.feed_id,
        "title_key": story.title_key,
        "fingerprint": story.fingerprint,
    }


def story_from_dict(data: Mapping[str, Any]) -> Story:
    """The Story written by `story_to_dict`."""
    return Story(
        key=str(data["key"]),
        title=str(data["title"]),
        summary=str(data["summary"]),
        content=str(data["content"]),
        url=str(data["url"]),
        canonical_url=str(data["canonical_url"]),
        publisher=str(data["publisher"]),
        published=decode_time(data["published"]),
        fetched_at=decode_time(data["fetched_at"]),
        guid=data.get("guid"),
        feed_id=data.get("feed_id"),
        title_key=str(data.get("title_key", "")),
        fingerprint=int(data.get("fingerprint", 0)),
    )


def match_to_dict(match: Match) -> JsonObject:
    """A JSON-ready dict of a Match and its Hits."""
    return {
        "rule": match.rule,
        "score": match.score,
        "hits": [{"term": h.term, "field": h.field, "text": h.text} for h in match.hits],
        "evidence": match.evidence,
        "why": match.why,
    }


def match_from_dict(data: Mapping[str, Any]) -> Match:
    """The Match written by `match_to_dict`."""
    hits = tuple(
        Hit(term=str(h["term"]), field=str(h["field"]), text=str(h["text"]))
        for h in data.get("hits", ())
    )
    return Match(
        rule=str(data["rule"]),
        score=float(data["score"]),
        hits=hits,
        evidence=data.get("evidence"),
        why=str(data.get("why", "")),
    )


def source_to_dict(source: Source) -> JsonObject:
    """A JSON-ready dict of a later outlet's report."""
    return {
        "publisher": source.publisher,
        "url": source.url,
        "title": source.title,
        "published": encode_time(source.published),
    }


def source_from_dict(data: Mapping[str, Any]) -> Source:
    """The Source written by `source_to_dict`."""
    return Source(
        publisher=str(data["publisher"]),
        url=str(data["url"]),
        title=str(data["title"]),
        published=decode_time(data["published"]),
    )


def sources_from_list(data: Any) -> tuple[Source, ...]:
    """The sources of an outbox row's `sources` column; StoreError if malformed."""
    try:
        return tuple(source_from_dict(item) for item in data or ())
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"stored sources are malformed ({type(exc).__name__}: {exc})") from exc


def alert_to_dict(alert: Alert) -> JsonObject:
    """A JSON-ready dict of an Alert, as stored on outbox rows (sources and urgency
    only when set, so documents written before them read the same)."""
    data: JsonObject = {
        "story": story_to_dict(alert.story),
        "matches": [match_to_dict(m) for m in alert.matches],
        "summary": alert.summary,
    }
    if alert.sources:
        data["sources"] = [source_to_dict(source) for source in alert.sources]
    if alert.urgent:
        data["urgent"] = True
    return data


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    """The Alert written by `alert_to_dict`; StoreError if the document is malformed."""
    try:
        return Alert(
            story=story_from_dict(data["story"]),
            matches=tuple(match_from_dict(m) for m in data["matches"]),
            summary=str(data["summary"]),
            sources=tuple(source_from_dict(s) for s in data.get("sources", ())),
            urgent=bool(data.get("urgent", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"stored alert is malformed ({type(exc).__name__}: {exc})") from exc


def digest_to_dict(digest: Digest) -> JsonObject:
    """A JSON-ready dict of a Digest, as stored on its outbox row."""
    return {
        "alerts": [alert_to_dict(alert) for alert in digest.alerts],
        "holds": [hold.value for hold in digest.holds],
    }


def digest_from_dict(data: Mapping[str, Any]) -> Digest:
    """The Digest written by `digest_to_dict`; StoreError if the document is malformed."""
    try:
        holds = tuple(Hold(hold) for hold in data.get("holds", ()))
        return Digest(alerts=tuple(alert_from_dict(a) for a in data["alerts"]), holds=holds)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"stored digest is malformed ({type(exc).__name__}: {exc})") from exc


def encode_alert(alert: Alert) -> str:
    """The Alert as a JSON string."""
    return json.dumps(alert_to_dict(alert), ensure_ascii=False, allow_nan=False)


def decode_alert(text: str) -> Alert:
    """The Alert in a JSON string written by `encode_alert`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"stored alert is not JSON: {exc}") from exc
    return alert_from_dict(data)


def topic_to_dict(topic: Topic) -> JsonObject:
    """A JSON-ready dict of a rule's semantic topic."""
    data: JsonObject = {
        "intent": topic.intent,
        "positives": list(topic.positives),
        "negatives": list(topic.negatives),
        "threshold": topic.threshold,
    }
    if topic.llm_check:  # only when set, so records written before the flag read the same
        data["llm_check"] = True
    return data


def topic_from_dict(data: Mapping[str, Any]) -> Topic:
    """The Topic written by `topic_to_dict`."""
    return Topic(
        intent=str(data["intent"]),
        positives=tuple(str(p) for p in data.get("positives", ())),
        negatives=tuple(str(n) for n in data.get("negatives", ())),
        threshold=float(data.get("threshold", 0.5)),
        llm_check=bool(data.get("llm_check", False)),
    )


def rule_to_dict(rule: Rule) -> JsonObject:
    """A JSON-ready snapshot of a rule, as kept in the audit trail."""
    return {
        "name": rule.name,
        "query": rule.query,
        "description": rule.description,
        "enabled": rule.enabled,
        "topic": topic_to_dict(rule.topic) if rule.topic else None,
        **({"urgent": True} if rule.urgent else {}),
    }


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """The Rule written by `rule_to_dict`."""
    topic = data.get("topic")
    return Rule(
        name=str(data["name"]),
        query=str(data["query"]),
        description=str(data.get("description", "")),
        enabled=bool(data.get("enabled", True)),
        topic=topic_from_dict(topic) if topic else None,
        urgent=bool(data.get("urgent", False)),
    )
