"""The semantic topic tier with the shipped model: verdicts, evidence, cache, loading errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from bot.core.errors import NewswatchError
from bot.core.model import Rule, Story, Topic
from filters.rules_file import load_rules
from filters.semantic import (
    DEFAULT_MODEL_DIR,
    Embedder,
    SemanticUnavailableError,
    load_embedder,
    semantic_available,
)
from filters.topics import TopicMatrix, TopicScorer, story_units

RULES_FILE = Path(__file__).resolve().parents[1] / "config" / "rules.yaml"
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def seed_rules() -> list[Rule]:
    """The seed rules' topics from config/rules.yaml (topic only: the query is left out)."""
    return [replace(rule, query="") for rule in load_rules(RULES_FILE) if rule.topic is not None]


def story(key: str, title: str, summary: str = "") -> Story:
    return Story(
        key=key,
        title=title,
        summary=summary,
        content="",
        url=f"https://example.test/{key}",
        canonical_url=f"https://example.test/{key}",
        publisher="Example",
        published=NOW,
        fetched_at=NOW,
    )


class CountingEmbedder:
    """Delegates to the real embedder and records every batch it is asked for."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.batches: list[tuple[str, ...]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(tuple(texts))
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder()


@pytest.fixture(scope="module")
def scorer(embedder: Embedder) -> TopicScorer:
    return TopicScorer(embedder, seed_rules())


CLASSIFIER_THRESHOLD = 0.33
"""A bar at which the seed topics, used alone, sort clear headlines (their old common veto).

The seed rules' own thresholds are vetoes under a query, set low (drone_strike's
vetoes no query hit at all), so they do not show that the scores separate."""


@pytest.fixture(scope="module")
def classifier(embedder: Embedder) -> TopicScorer:
    rules = [
        replace(rule, topic=replace(rule.topic, threshold=CLASSIFIER_THRESHOLD))
        for rule in seed_rules()
        if rule.topic is not None
    ]
    return TopicScorer(embedder, rules)


@pytest.mark.parametrize(
    ("rule", "title", "expected"),
    [
        ("drone_strike", "Ukrainian sea drones hit a Russian landing ship off Crimea", True),
        ("drone_strike", "Shahed drones struck a power station in Kharkiv overnight", True),
        ("drone_strike", "A wedding photographer used a drone to film the ceremony", False),
        ("drone_strike", "Retailer expands drone delivery of groceries to two more cities", False),
        ("accusation_us", "Beijing accuses Washington of orchestrating unrest in Hong Kong", True),
        ("accusation_us", "Iran's foreign minister blames the United States for the killing", True),
        ("accusation_us", "Senate Republicans blame the White House for rising inflation", False),
        ("accusation_us", "Bake-off winner shares her favourite lemon cake recipe", False),
        ("aid_package", "Canada announces new $500 million military aid package for Ukraine", True),
        ("aid_package", "European Union approves a 50 billion euro support fund for Kyiv", True),
        ("aid_package", "Israel suspends humanitarian aid deliveries to northern Gaza", False),
        ("aid_package", "Local volunteers raise money for the town's animal shelter", False),
    ],
)
def test_seed_topics_on_clear_headlines(
    scorer: TopicScorer, classifier: TopicScorer, rule: str, title: str, expected: bool
) -> None:
    verdict = classifier.score(story(f"{rule}:{title}", title), [rule])[rule]
    assert verdict.matched is expected, f"{title!r} scored {verdict.score}"
    if expected:  # and the seed rule's own veto lets it through
        assert scorer.score(story(f"{rule}:{title}", title), [rule])[rule].matched


def test_evidence_is_the_best_sentence(scorer: TopicScorer) -> None:
    summary = (
        "Markets were calm on Tuesday. "
        "Overnight, Russian kamikaze drones struck a fuel depot near Odesa, officials said. "
        "The weather stays mild this week."
    )
    verdict = scorer.score(
        story("live", "Live updates: what we know on day 400", summary), ["drone_strike"]
    )
    assert verdict["drone_strike"].matched
    assert verdict["drone_strike"].evidence.startswith("Overnight, Russian kamikaze drones")


def test_scores_rank_by_relevance(scorer: TopicScorer) -> None:
    strike = scorer.score(story("a", "Drone strike kills militant commander"), ["drone_strike"])
    show = scorer.score(story("b", "Drone light show dazzles festival crowd"), ["drone_strike"])
    assert strike["drone_strike"].score > show["drone_strike"].score + 0.1


def test_rules_without_topic_and_unknown_names_are_left_out(embedder: Embedder) -> None:
    rules = [*seed_rules(), Rule(name="query_only", query="drone*")]
    scorer = TopicScorer(embedder, rules)
    verdicts = scorer.score(story("x", "Drones hit Kyiv"), ["query_only", "nope", "drone_strike"])
    assert set(verdicts) == {"drone_strike"}
    assert scorer.rule_names == {"drone_strike", "accusation_us", "aid_package"}
    assert scorer.score(story("y", "Drones hit Kyiv"), ["query_only"]) == {}


def test_story_embedded_once_in_one_batch_and_cached(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder)
    scorer = TopicScorer(counting, seed_rules(), cache_size=2)
    topic_batches = len(counting.batches)
    first = story("s1", "Drones hit Kyiv", "Air defences worked all night. Two people were hurt.")
    scorer.score(first, ["drone_strike"])
    scorer.score(first, ["aid_package", "accusation_us"])
    assert counting.batches[topic_batches:] == [story_units(first.title, first.summary)]
    assert (scorer.cache_hits, scorer.cache_misses) == (1, 1)
    scorer.score(story("s2", "Aid for Ukraine"), ["aid_package"])
    scorer.score(first, ["drone_strike"])  # s1 is most recently used again
    scorer.score(story("s3", "Putin blames Washington"), ["accusation_us"])  # evicts s2
    scorer.score(first, ["drone_strike"])
    scorer.score(story("s2", "Aid for Ukraine"), ["aid_package"])
    assert (scorer.cache_hits, scorer.cache_misses) == (3, 4)


def test_topic_vectors_computed_once(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder)
    scorer = TopicScorer(counting, seed_rules())
    after_build = len(counting.batches)
    for i in range(3):
        scorer.score(story(f"k{i}", "Drones hit Kyiv"), ["drone_strike"])
    assert len(counting.batches) == after_build + 3
    assert after_build == 2  # all positives in one batch, all negatives in another


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Title only", "", ("Title only",)),
        (
            "Drones hit Kyiv",
            "Two were hurt. Power is out in the east.",
            ("Drones hit Kyiv", "Two were hurt.", "Power is out in the east."),
        ),
        (
            "Drones hit Kyiv",
            "Power is out in the east. Power is out in the east. Two were hurt.",
            ("Drones hit Kyiv", "Power is out in the east.", "Two were hurt."),
        ),
        ("Same as title", "Same as title", ("Same as title",)),
        ("", "A sentence that stands alone.", ("A sentence that stands alone.",)),
        (
            "T",
            "Short. Tiny. This one is long enough.",
            ("T", "This one is long enough."),
        ),
    ],
)
def test_story_units(title: str, text: str, expected: tuple[str, ...]) -> None:
    assert story_units(title, text) == expected


def test_story_units_keep_the_lead_sentences_only() -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(1, 8))
    units = story_units("Headline", text)
    assert units == ("Headline", *(f"Sentence number {n} is here." for n in range(1, 4)))


def reference_unit_scores(units: np.ndarray, rules: Sequence[Rule], embed: Embedder) -> np.ndarray:
    """The module docstring's formula, one rule and one unit at a time."""
    scores = np.zeros((len(units), len(rules)))
    for column, rule in enumerate(rules):
        assert rule.topic is not None
        positives = embed.embed([rule.topic.intent, *rule.topic.positives])
        negatives = embed.embed(rule.topic.negatives)
        for row, unit in enumerate(units):
            ranked = sorted((positives @ unit).tolist(), reverse=True)
            positive = float(np.mean(ranked[:2]))
            negative = max((negatives @ unit).tolist(), default=-np.inf)
            scores[row, column] = positive - 0.5 * max(0.0, negative - ranked[0])
    return scores


def test_vectorised_scores_follow_the_formula() -> None:
    """All rules at once (partition for the top two, sentinel padding) = the plain formula."""
    vectors = np.random.default_rng(3).normal(size=(40, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    table = {f"t{i}": vectors[i] for i in range(40)}

    class TableEmbedder:
        def embed(self, texts: Sequence[str]) -> np.ndarray:
            return np.array([table[t] for t in texts], dtype=np.float32).reshape(-1, 16)

    topics = [
        Topic(intent="t0", positives=("t1", "t2", "t3"), negatives=("t4", "t5"), threshold=0.3),
        Topic(intent="t6", positives=(), negatives=(), threshold=0.3),  # intent alone
        Topic(intent="t7", positives=("t8",), negatives=("t9",), threshold=0.3),
        Topic(intent="t10", positives=tuple(f"t{i}" for i in range(11, 20)), threshold=0.3),
    ]
    rules = [Rule(name=f"r{i}", query="", topic=topic) for i, topic in enumerate(topics)]
    matrix = TopicMatrix.build(TableEmbedder(), rules)
    units = vectors[30:36]
    expected = reference_unit_scores(units, rules, TableEmbedder())
    assert np.allclose(matrix.unit_scores(units, np.arange(len(rules))), expected, atol=1e-6)
    subset = matrix.unit_scores(units, np.array([3, 1]))
    assert np.allclose(subset, expected[:, [3, 1]], atol=1e-6)


def test_embeddings_are_unit_rows_in_input_order(embedder: Embedder) -> None:
    texts = [
        "Drones hit Kyiv overnight.",
        "A recipe for lemon cake with a very long list of steps.",
    ]
    together = embedder.embed(texts)
    assert together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    assert np.all(np.sum(together * alone, axis=1) > 0.98)
    assert embedder.embed([]).shape[0] == 0


def test_session_runs_without_a_memory_arena_and_gives_the_arenas_vectors() -> None:
    """No arena keeps a big batch's working memory; the vectors are those of a session with one."""
    import onnxruntime as ort

    from filters.semantic import onnx_backend

    embedder = load_embedder()
    assert isinstance(embedder, onnx_backend.OnnxEmbedder)
    assert embedder._session.get_session_options().enable_cpu_mem_arena is False
    assert onnx_backend.session_options(1).enable_mem_pattern is True
    with_arena = onnx_backend.session_options(1)
    with_arena.enable_cpu_mem_arena = True
    arena_session = ort.InferenceSession(
        str(DEFAULT_MODEL_DIR / "model.onnx"),
        sess_options=with_arena,
        providers=["CPUExecutionProvider"],
    )
    reference = onnx_backend.OnnxEmbedder(arena_session, embedder._tokenizer)
    texts = [f"Story number {n} about the war in Ukraine" for n in range(12)]
    for batch in (texts, texts[:3], texts[:1]):
        assert np.array_equal(embedder.embed(batch), reference.embed(batch))


def test_session_sleeps_between_runs_and_blas_stays_single_threaded() -> None:
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    from filters.semantic.onnx_backend import session_options

    options = session_options(2)
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    load_embedder(threads=2)
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_missing_runtime_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def without_onnxruntime(name: str, *args: Any) -> Any:
        return None if name == "onnxruntime" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_onnxruntime)
    assert not semantic_available()
    with pytest.raises(SemanticUnavailableError) as caught:
        load_embedder()
    message = str(caught.value)
    assert "onnxruntime" in message
    assert "pip install 'newswatch[semantic]'" in message
    assert "\n" not in message
    assert isinstance(caught.value, NewswatchError)


def test_missing_model_directory_names_the_fix(tmp_path: Path) -> None:
    assert not semantic_available(tmp_path)
    with pytest.raises(SemanticUnavailableError, match=r"tools/build_semantic_model\.py"):
        load_embedder(tmp_path)


def test_bad_meta_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({"backend": "tensorflow"}))
    with pytest.raises(SemanticUnavailableError, match="'backend' must be one of"):
        load_embedder(tmp_path)


def test_shipped_model_is_available_and_small() -> None:
    assert semantic_available()
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir())
    assert size < 40_000_000


def test_static_backend_averages_token_vectors(tmp_path: Path) -> None:
    vocabulary = json.loads((DEFAULT_MODEL_DIR / "tokenizer.json").read_text())["model"]["vocab"]
    table = np.random.default_rng(7).normal(size=(len(vocabulary), 8)).astype(np.float32)
    save_file({"embeddings": table}, str(tmp_path / "model.safetensors"))
    shutil.copy(DEFAULT_MODEL_DIR / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "meta.json").write_text(json.dumps({"backend": "static", "max_tokens": 64}))
    static = load_embedder(tmp_path)
    vectors = static.embed(["drone strike", "", "strike drone"])
    expected = table[[vocabulary["drone"], vocabulary["strike"]]].mean(axis=0)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-6)
    assert not vectors[1].any()
    assert np.allclose(vectors[0], vectors[2])  # word order is invisible to a static model
