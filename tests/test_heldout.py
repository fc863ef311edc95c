"""The held-out set measures understanding only if training never saw any of its examples."""

from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Dict, List

import pytest

from needlewise.knowledge import load_topic_spec
from tests.conftest import ROOT
from tools.evaluate import HELDOUT, load_examples, normalised

NLU_DATA = ROOT / "data" / "nlu"


def by_text(path: Path) -> Dict[str, List[str]]:
    found: Dict[str, List[str]] = collections.defaultdict(list)
    for text, intent in load_examples(path):
        found[normalised(text)].append(intent)
    return found


def test_normalised_ignores_case_punctuation_and_spacing():
    assert normalised("  Does it HURT?!  ") == normalised("does it hurt")
    assert normalised("what's dry-needling") == normalised("whats dryneedling")
    assert normalised("¿Duele?") == normalised("duele")
    # the model reads words spelling-neutral, so the leak test does too
    assert normalised("Agulhamento dói?") == normalised("agulhamento doi")
    assert normalised("أنت روبوت؟") == normalised("انت روبوت")
    assert normalised("في أمان الله") == normalised("في امان الله")
    assert normalised("does it hurt") != normalised("does it hurt a lot")


def test_the_leak_check_finds_a_shared_example(tmp_path):
    train = tmp_path / "train.yml"
    train.write_text('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - Is it SAFE?\n    - other\n')
    held = tmp_path / "held.yml"
    held.write_text('version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - is it safe\n    - new one\n')
    assert set(by_text(held)) & set(by_text(train)) == {"is it safe"}


#: every held-out set: English, and Portuguese and Arabic (written before any model of those languages)
HELDOUT_SETS = sorted(HELDOUT.parent.glob("heldout*.yml"))


@pytest.mark.parametrize("heldout", HELDOUT_SETS, ids=lambda p: p.name)
def test_no_heldout_example_appears_in_the_training_data(heldout: Path):
    assert HELDOUT in HELDOUT_SETS and len(HELDOUT_SETS) >= 3
    held = by_text(heldout)
    trained = by_text(NLU_DATA)
    leaked = sorted(set(held) & set(trained))
    assert not leaked, (
        f"{len(leaked)} held-out examples are also in data/nlu/ (remove them from training): {leaked[:20]}"
    )


@pytest.mark.parametrize("heldout", HELDOUT_SETS, ids=lambda p: p.name)
def test_the_heldout_set_has_no_example_twice(heldout: Path):
    twice = [text for text, intents in by_text(heldout).items() if len(intents) > 1]
    assert not twice, twice


@pytest.mark.parametrize("intent", ["urgent", "out_of_scope", "personal_decision", "ask_human", "other_language"])
def test_the_heldout_set_covers_every_measured_kind(intent):
    intents = collections.Counter(intent for _, intent in load_examples(HELDOUT))
    assert intents[intent] >= 20


def test_every_topic_has_ten_heldout_examples_half_of_them_long():
    """Every topic the model is trained on: those of the project's topic spec (bot/topics.yml)."""
    topics = load_topic_spec()
    assert topics
    examples = collections.defaultdict(list)
    for text, intent in load_examples(HELDOUT):
        examples[intent].append(text)
    for topic in topics:
        assert len(examples[topic]) >= 10, topic
        long = [t for t in examples[topic] if len(re.findall(r"\w+", t)) >= 20]
        assert len(long) * 2 >= len(examples[topic]), f"{topic}: {len(long)} long of {len(examples[topic])}"
