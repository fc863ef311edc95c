"""The glossary that reads a Portuguese or Arabic message in English for the classifier, and the
pipeline parts that use it (fixture glossaries, never the shipped ones)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from needlewise import glossary
from needlewise.glossary import Glossary, normalised_word

PT = Glossary(
    {"agulhamento seco": "dry needling", "quanto custa": "how much cost", "sessão": "session", "dói": "hurts"}
)
AR = Glossary({"ابرة": "needle", "رقبة": "neck", "كم": "how much", "سعر": "price", "جلسة": "session"})


@pytest.mark.parametrize(
    "word, folded",
    [
        ("أبرة", "ابره"),
        ("إبرة", "ابره"),
        ("آلام", "الام"),
        ("مرحبااا", "مرحبا"),
        ("Não", "nao"),
        ("\u0661\u0665", "15"),
    ],
)
def test_spellings_fold_to_one_form(word, folded):
    assert normalised_word(word) == folded


def test_phrases_win_over_words_and_unknown_words_are_left_out():
    assert PT.gloss("Quanto custa uma sessão de agulhamento seco?") == "how much cost session dry needling"
    assert PT.gloss("nao sei") == ""


def test_arabic_words_are_found_with_their_prefixes_suffixes_and_spellings():
    assert AR.gloss("كم سعر الجلسة؟") == "how much price session"
    assert AR.gloss("بالإبرة في رقبتي") == "needle neck"
    assert AR.gloss("إبرَة") == "needle"  # a diacritic inside the word


def test_coverage_counts_the_words_read():
    assert AR.coverage("كم سعر الجلسة اليوم") == (3, 4)


def test_a_glossary_file_must_hold_a_mapping(tmp_path: Path):
    bad = tmp_path / "xx.yml"
    bad.write_text("- not: a mapping\n", encoding="utf-8")
    with pytest.raises(ValueError, match="glossary"):
        glossary.load(bad)
    good = tmp_path / "pt.yml"
    good.write_text("glossary:\n  dói: hurts\n  'no': in the\n", encoding="utf-8")
    assert glossary.load(good).gloss("Doi no ombro") == "hurts in the"
    assert glossary.for_language("pt", tmp_path) is not None and glossary.for_language("zz", tmp_path) is None


# --- in the pipeline ---------------------------------------------------------------------------------


def tokenised(text: str) -> Message:
    message = Message(data={TEXT: text})
    tokens, start = [], 0
    for word in text.split():
        start = text.index(word, start)
        tokens.append(Token(word, start, lemma=word.lower()))
        start += len(word)
    message.set(TOKENS_NAMES[TEXT], tokens)
    return message


@pytest.fixture
def fixture_glossaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(glossary, "for_language", lambda code: {"pt": PT, "ar": AR}.get(code))


def test_the_word_counts_read_each_word_with_its_english(fixture_glossaries):
    from rasa_addons.components import GlossaryTokens

    message = GlossaryTokens().process([tokenised("quanto tempo dói depois da sessão de agulhamento?")])[0]
    lemmas = [t.lemma for t in message.get(TOKENS_NAMES[TEXT])]
    assert "doi hurts" in lemmas and "sessao session" in lemmas
    english = GlossaryTokens().process([tokenised("Does the session hurt?")])[0]
    assert [t.lemma for t in english.get(TOKENS_NAMES[TEXT])] == ["does", "the", "session", "hurt?"]


def test_the_encoder_reads_english_as_typed_and_other_languages_as_their_gloss(fixture_glossaries):
    from rasa_addons.components import SentenceEncoderFeaturizer

    featurizer = SentenceEncoderFeaturizer.__new__(SentenceEncoderFeaturizer)
    featurizer.languages, featurizer.gloss = frozenset({"en"}), True
    assert featurizer.encoder_text("how much does a session cost?") == "how much does a session cost?"
    assert featurizer.encoder_text("oi, quanto custa uma sessão de agulhamento seco?") == (
        "how much cost session dry needling"
    )
    assert featurizer.encoder_text("كم سعر جلسة الابرة؟") == "how much price session needle"
    assert featurizer.encoder_text("¿cuánto cuesta una sesión de punción seca?") == ""  # no glossary: nothing
    assert featurizer.encoder_text("/booking") == ""
    featurizer.gloss = False
    assert featurizer.encoder_text("كم سعر جلسة الابرة؟") == ""
