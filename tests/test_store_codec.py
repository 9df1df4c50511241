"""The JSON codec of stored documents: exact round trips and clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.errors import StoreError
from bot.core.model import Alert, Hit, Match, Rule, Topic
from bot.store.codec import (
    alert_from_dict,
    alert_to_dict,
    decode_alert,
    decode_time,
    encode_alert,
    encode_time,
    rule_from_dict,
    rule_to_dict,
)
from tests.store_samples import T0, make_alert, make_story

KYIV = timezone(timedelta(hours=2))

ALERTS = {
    "plain": make_alert(make_story("a")),
    "no matches, no guid, empty url": Alert(
        story=make_story("b", guid=None, canonical_url="", feed_id=None),
        matches=(),
        summary="",
    ),
    "unicode, extreme numbers, several hits": Alert(
        story=make_story(
            "c",
            title="Дрони атакували склад «Нафтогаз» — 3 загиблих 🚀",
            published=datetime(2025, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
            feed_id=2**31 - 1,
            fingerprint=-(2**63),
        ),
        matches=(
            Match(
                rule="drone_strike",
                score=0.1 + 0.2,
                hits=(Hit("дрон*", "title", "Дрони"), Hit("strike", "summary", "Strike")),
                evidence=None,
                why='title: "Дрони"',
            ),
            Match(rule="aid_package", score=1e-300),
        ),
        summary='<b>not markup</b> & "quotes"\nline two',
    ),
    "largest unsigned fingerprint": make_alert(make_story("d", fingerprint=2**64 - 1)),
}


@pytest.mark.parametrize("alert", ALERTS.values(), ids=ALERTS.keys())
def test_alert_round_trip_is_exact(alert: Alert) -> None:
    assert decode_alert(encode_alert(alert)) == alert
    assert alert_from_dict(json.loads(json.dumps(alert_to_dict(alert)))) == alert


def test_times_are_written_as_utc_iso_8601() -> None:
    alert = make_alert(make_story("k", published=datetime(2025, 3, 1, 14, 0, tzinfo=KYIV)))
    story = alert_to_dict(alert)["story"]
    assert story["published"] == "2025-03-01T12:00:00+00:00"
    decoded = decode_alert(encode_alert(alert)).story.published
    assert decoded == alert.story.published and decoded.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "stored alert is not JSON"),
        ('{"matches": [], "summary": ""}', "stored alert is malformed (KeyError: 'story')"),
        (json.dumps({**alert_to_dict(ALERTS["plain"]), "matches": 3}), "malformed (TypeError"),
    ],
)
def test_malformed_alerts_raise_one_clear_store_error(text: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        decode_alert(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [T0, datetime(2025, 1, 1, tzinfo=KYIV), datetime(1999, 12, 31, 23, 0, 0, 1, tzinfo=UTC)],
)
def test_time_round_trip(value: datetime) -> None:
    assert decode_time(encode_time(value)) == value
    assert encode_time(value).endswith("+00:00")


@pytest.mark.parametrize("bad", ["encode", "decode"])
def test_naive_times_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"naive datetime|no UTC offset"):
        if bad == "encode":
            encode_time(datetime(2025, 1, 1))
        else:
            decode_time("2025-01-01T00:00:00")


RULES = [
    Rule(name="aid_package", query="aid AND package"),
    Rule(
        name="drone_strike",
        query='drone NEAR/3 strike NOT "drone show"',
        description="Drone strikes",
        enabled=False,
        topic=Topic("drone attacks", ("a drone hit a depot",), ("light show",), 0.42),
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_round_trip_is_exact(rule: Rule) -> None:
    assert rule_from_dict(json.loads(json.dumps(rule_to_dict(rule)))) == rule
