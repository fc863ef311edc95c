"""The deterministic red-flag layer: fires on reported emergencies, not on ordinary questions."""

from __future__ import annotations

import pytest

from rasa_addons.red_flags import RedFlagDetector, default_detector, load_patterns, normalise

REPORTED = [
    ("i cant breathe properly since the session", "breathing"),
    ("Short of breath after my neck was needled this morning", "breathing"),
    ("it hurts when I breathe in, sharp pain on the right", "breathing"),
    ("my chest feels tight and heavy", "chest_pain"),
    ("chest pain after needling", "chest_pain"),
    ("I passed out in the car park after my appointment", "fainting"),
    ("i feel faint and the room is spinning", "fainting"),
    ("the needle spot is red and the redness is spreading", "infection"),
    ("there is pus coming out where the needle went in", "infection"),
    ("I have a fever and chills since yesterday's session", "infection"),
    ("my left arm has gone weak since the needling", "weakness_numbness"),
    ("i cant lift my arm above my head anymore", "weakness_numbness"),
    ("numbness down my arm into my fingers, started an hour ago", "weakness_numbness"),
    ("it's bleeding and won't stop", "bleeding"),
    ("it has been bleeding for twenty minutes", "bleeding"),
    ("my lips are swelling up and i have hives", "allergic"),
    ("my throat feels like it's closing", "allergic"),
    ("I want to kill myself", "crisis"),
    ("sometimes i think everyone would be better off without me", "crisis"),
    ("i don't want to be alive anymore", "crisis"),
    ("I keep thinking about ending my life", "crisis"),
    ("is it normal that my chest hurts this much?", "chest_pain"),
    ("what should I do? I fainted twice today", "fainting"),
]

NOT_REPORTED = [
    "can dry needling cause a collapsed lung?",
    "how common is a pneumothorax after needling",
    "has anyone ever fainted during dry needling",
    "what are the warning signs after a session?",
    "what should i do if i get short of breath later?",
    "when should I worry about chest pain after treatment",
    "could needling the neck make my arm weak",
    "is it possible to get an infection from the needles",
    "will i bruise or bleed afterwards",
    "is a bit of bleeding normal",
    "can i go for a run after my session",
    "i plan to do it again next week",
    "i'm a bit nervous i might faint",
    "how long does the soreness last",
    "what is dry needling",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def detector() -> RedFlagDetector:
    return default_detector()


@pytest.mark.parametrize(("text", "category"), REPORTED)
def test_reported_emergencies_fire(detector, text, category):
    assert category in [flag.category for flag in detector.detect(text)]


@pytest.mark.parametrize("text", NOT_REPORTED)
def test_ordinary_questions_do_not_fire(detector, text):
    assert detector.detect(text) == []


def test_crisis_comes_first_when_several_fire(detector):
    flags = detector.detect("my chest hurts and i want to end my life")
    assert flags[0].category == "crisis" and flags[0].crisis
    assert {"crisis", "chest_pain"} <= {f.category for f in flags}


def test_contractions_are_spelled_out():
    assert (
        normalise("I can\u2019t breathe, I'm scared, it won't stop")
        == "i can not breathe, i am scared, it will not stop"
    )


def test_every_category_has_patterns_that_compile():
    patterns = load_patterns()
    assert set(patterns) == {
        "breathing",
        "chest_pain",
        "fainting",
        "infection",
        "weakness_numbness",
        "bleeding",
        "allergic",
        "crisis",
    }
    detector = RedFlagDetector(patterns)
    assert detector.pattern_count > 100


def test_a_small_custom_pattern_file_works():
    detector = RedFlagDetector({"test": ["sharp|stabbing * pain", "passed_out"]})
    assert [f.category for f in detector.detect("a stabbing awful pain")] == ["test"]
    assert [f.matched for f in detector.detect("i passed out")] == ["passed out"]
    assert detector.detect("can it cause stabbing pain?") == []
