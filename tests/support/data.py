"""Where the tests' files are: all inside the repository (tests/data/, package data)."""

from __future__ import annotations

from pathlib import Path

from bot.cli.replay import BUNDLED_CORPUS

DATA = Path(__file__).resolve().parents[1] / "data"
FEEDS = BUNDLED_CORPUS
"""The real captured feeds, as the package ships them for the demo (SOURCES.md inside)."""
FEEDPARSER_TESTS = DATA / "feedparser"
SEED_STORY_JSONL = DATA / "fixtures" / "seed-story.jsonl"
SEED_STORY_JSON = DATA / "fixtures" / "seed-story.json"
DEV_SET = DATA / "eval" / "dev.jsonl"
GUIDELINE_PROBE = DATA / "guideline_probe.jsonl"
LABELLED_SETS = {
    "dev": DEV_SET,
    "probe": GUIDELINE_PROBE,
    "hard": DATA / "guideline_probe_hard.jsonl",
    **{
        name: DATA / f"guideline_probe_{name}.jsonl"
        for name in (
            "sealed",
            "sealed2",
            "sealed3",
            "sealed4",
            "sealed5",
            "sealed6",
            "sealed7",
            "sealed8",
            "sealed9",
            "sealed10",
            "sealed11",
            "sealed12",
        )
    },
    "accusation_train": DATA / "guideline_accusation_train.jsonl",
    "aid_train": DATA / "guideline_aid_train.jsonl",
    "drone_train": DATA / "guideline_drone_train.jsonl",
    "accusation_train2": DATA / "guideline_accusation_train2.jsonl",
    "aid_train2": DATA / "guideline_aid_train2.jsonl",
    "realnews_train": DATA / "guideline_realnews_train.jsonl",
    "realnews_check": DATA / "guideline_realnews_check.jsonl",
    "realnews_acc_train": DATA / "guideline_realnews_acc_train.jsonl",
    "realnews_acc_check": DATA / "guideline_realnews_acc_check.jsonl",
    "realnews2": DATA / "guideline_realnews2.jsonl",
    "realnews3_train": DATA / "guideline_realnews3_train.jsonl",
    "realnews3_check": DATA / "guideline_realnews3_check.jsonl",
    "realnews4_train": DATA / "guideline_realnews4_train.jsonl",
    "realnews4_check": DATA / "guideline_realnews4_check.jsonl",
    "realnews5_train": DATA / "guideline_realnews5_train.jsonl",
    "realnews5_check": DATA / "guideline_realnews5_check.jsonl",
    "realnews6": DATA / "guideline_realnews6.jsonl",
}
"""Every labelled set by short name (each file's .md beside it says how it was written)."""
REAL_NEWS_CHECKS = (
    "realnews_check",
    "realnews_acc_check",
    "realnews3_check",
    "realnews4_check",
    "realnews5_check",
    "realnews6",
    "realnews2",
)
"""The real-news sets kept out of training and scored as checks (test_seed_quality's floor,
benchmarks/bench_learned_tier.py). realnews2, realnews5_check and realnews6 were never read
while writing the rules; the four 2026-12-04 `_check` halves were read in the second round of
2026-12-06 (README, "Quality of the seed rules")."""
SEALED_PROBES = tuple(LABELLED_SETS[name] for name in ("sealed", "sealed2", "sealed3"))
"""Probes written blind to the rules, scored blind once, then read (README, "Quality")."""
