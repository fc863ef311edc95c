"""tools/tune_fallback.py: the folds and the cost it scores thresholds by."""

from __future__ import annotations

from collections import Counter

from tests.conftest import ROOT
from tools.tune_fallback import THRESHOLDS, configured, cost, folds


def test_folds_split_every_example_once_and_keep_each_intent_spread():
    examples = [(f"{intent} {n}", intent) for intent, count in (("a", 10), ("b", 7), ("c", 3)) for n in range(count)]
    parts = folds(examples, 5, seed=1)
    assert sorted(e for part in parts for e in part) == sorted(examples)
    for intent in ("a", "b"):
        per_fold = [Counter(i for _, i in part)[intent] for part in parts]
        assert max(per_fold) - min(per_fold) <= 1, (intent, per_fold)
    assert folds(examples, 5, seed=1) == parts  # the same seed, the same folds


def test_cost_counts_wrong_answers_and_needless_fallbacks():
    answers = [
        ("a", [("a", 0.9), ("b", 0.05)]),  # right, confident: answered
        ("a", [("b", 0.8), ("a", 0.1)]),  # wrong, confident: a wrong answer
        ("a", [("a", 0.35), ("b", 0.3)]),  # right but unsure: falls back at 0.4 (needless)
        ("b", [("a", 0.3), ("b", 0.29)]),  # wrong and unsure: falls back at 0.4 (rightly)
    ]
    row = cost(answers, threshold=0.4, ambiguity=0.0)
    assert row["wrong_answer_rate"] == 0.25 and row["needless_fallback_rate"] == 0.25
    assert row["fallback_rate"] == 0.5 and row["cost"] == 0.5
    assert cost(answers, 0.4, 0.0, wrong_cost=3.0)["cost"] == 1.0
    loose = cost(answers, threshold=0.2, ambiguity=0.0)
    assert loose["wrong_answer_rate"] == 0.5 and loose["fallback_rate"] == 0.0
    # the ambiguity margin: 0.35 vs 0.30 is within 0.1, so it falls back even at a low threshold
    assert cost(answers, threshold=0.2, ambiguity=0.1)["fallback_rate"] == 0.5


def test_the_configured_threshold_is_read_from_config_and_lies_on_the_curve():
    threshold, ambiguity = configured(ROOT / "config.yml")
    assert 0 < ambiguity < threshold < 1
    assert threshold in THRESHOLDS
