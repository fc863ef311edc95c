"""`make eval`'s scoring: each language against its own thresholds, the reply's language counted."""

from __future__ import annotations

from pathlib import Path

from tools.evaluate import TRANSLATED_THRESHOLDS, Result, language_of, reply_language, score

TOPICS = {"booking": "clinic", "does_it_hurt": "safety"}


def results(right: int, wrong: int, spoken: str) -> list:
    """`right` topic questions answered right and `wrong` ones wrong, and one of each other kind."""
    cases = [Result(f"q{i}", "booking", "booking", 0.9, spoken) for i in range(right)]
    cases += [Result(f"w{i}", "booking", "does_it_hurt", 0.9, spoken) for i in range(wrong)]
    cases += [
        Result("help now", "urgent", "urgent", 1.0, spoken),
        Result("person", "ask_human", "ask_human", 1.0, spoken),
    ]
    cases += [
        Result("x", "out_of_scope", "out_of_scope", 1.0, spoken),
        Result("y", "personal_decision", "personal_decision", 1.0, spoken),
    ]
    return cases


def test_a_held_out_file_names_its_language():
    assert [language_of(Path(p)) for p in ("heldout.yml", "heldout_pt.yml", "tests/nlu/heldout_ar.yml")] == [
        "en",
        "pt",
        "ar",
    ]


def test_a_translated_set_is_held_to_its_own_thresholds_without_other_language():
    report = score(results(9, 1, "pt"), TOPICS, "pt")
    assert report["thresholds"] == TRANSLATED_THRESHOLDS
    assert "other_language_recall" not in report["metrics"]
    assert report["metrics"]["topic_accuracy"] == 0.9
    assert report["failures"] == []
    failing = score(results(8, 2, "pt"), TOPICS, "pt")
    assert failing["failures"] == ["pt: topic_accuracy 0.800 is below 0.85"]


def test_a_reply_in_the_wrong_language_fails_the_set():
    report = score(results(10, 0, "en"), TOPICS, "ar")
    assert report["metrics"]["reply_language_accuracy"] == 0.0
    assert any("reply_language_accuracy" in failure for failure in report["failures"])


def test_english_still_needs_its_other_language_examples():
    report = score(results(10, 0, "en"), TOPICS, "en")
    assert report["metrics"]["other_language_recall"] == 0.0
    assert any("other_language_recall" in failure for failure in report["failures"])


def test_the_reply_language_is_the_messages_when_the_page_says_nothing():
    assert reply_language("quanto custa uma sessão de agulhamento seco na clínica de vocês?") == "pt"
    assert reply_language("كم سعر جلسة الإبر الجافة؟") == "ar"
    assert reply_language("how much is a session?") == "en"


def test_another_language_example_in_a_language_answered_now_is_left_out_of_its_set():
    from tools.evaluate import answered_elsewhere

    cases = [
        Result("quanto custa?", "other_language", "cost", 0.9, "pt"),
        Result("¿cuánto?", "other_language", "other_language", 1.0, "en"),
    ]
    kept, left_out = answered_elsewhere(cases, "en")
    assert [r.text for r in kept] == ["¿cuánto?"] and left_out == ["quanto custa?"]
    assert answered_elsewhere(cases, "pt")[1] == []


def test_only_the_gated_languages_fail_the_run_and_the_others_are_printed(monkeypatch, tmp_path, capsys):
    from tools import evaluate

    async def fake_predict(model, sets):
        return {lang: results(10, 0 if lang == "en" else 5, lang) for lang in sets}

    monkeypatch.setattr(evaluate, "predict", fake_predict)
    monkeypatch.setattr(evaluate, "load_examples", lambda path: [])
    monkeypatch.setattr(evaluate, "THRESHOLDS", {**evaluate.THRESHOLDS, "other_language_recall": 0.0})
    monkeypatch.setattr("rasa_addons.patches.apply_all", lambda: None)
    sets = [tmp_path / "heldout.yml", tmp_path / "heldout_pt.yml"]
    args = ["--model", "m", "--out", str(tmp_path / "out"), "--heldout", *map(str, sets)]
    assert evaluate.main([*args, "--gate", "en"]) == 0
    assert "reported only" in capsys.readouterr().out
    assert evaluate.main(args) == 1


def test_a_measure_reported_only_does_not_fail_its_gated_language():
    from tools.evaluate import gates

    failure = "ar: out_of_scope_recall 0.833 is below 0.85"
    assert gates(failure, ["en", "ar"], [])
    assert not gates(failure, ["en", "ar"], ["ar:out_of_scope_recall"])
    assert not gates(failure, ["en"], [])
    assert gates("ar: topic_accuracy 0.800 is below 0.85", ["ar"], ["ar:out_of_scope_recall"])
    assert gates("pt: out_of_scope_recall 0.800 is below 0.85", None, ["ar:out_of_scope_recall"])
    assert gates("ar: urgent_false_alarm_rate 0.020 is above 0.01", None, ["ar:out_of_scope_recall"])
