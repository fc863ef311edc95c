"""Which language a message is in: another language only on clear evidence, English when in doubt."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from needlewise.language import LanguageDetector, default_detector, load_known_words, readable
from rasa_addons.components import LanguageGuard

FIXTURE = LanguageDetector(
    scripts={"ar": ["Arabic"], "ru": ["Cyrillic"]},
    words={"en": ["the", "is", "my", "does"], "es": ["el", "duele", "cuello", "hola"], "pt": ["dói", "pescoço", "meu"]},
)


@pytest.mark.parametrize(
    "text, language",
    [
        ("me duele el cuello", "es"),
        ("hola", "es"),
        ("meu pescoço dói", "pt"),
        ("ما هذا", "ar"),
        ("что это", "ru"),
        ("does my neck hurt", "en"),
        ("el cuello is the problem my friend", "en"),  # as many English words: English
        ("duele", "es"),
        ("?!", "en"),
        ("DN tmrw", "en"),
    ],
)
def test_the_detector_weighs_scripts_and_words(text, language):
    assert FIXTURE.detect(text).language == language


def test_words_that_yaml_reads_as_booleans_are_refused():
    with pytest.raises(ValueError, match="quotes"):
        LanguageDetector({}, {"en": ["the", True], "es": ["el"]})


@pytest.mark.parametrize(
    "text",
    [
        "does dry needling hurt",
        "is dry neddling safe for pregnent women??",
        "my physio said le trap was tight, what does that mean",
        "whats the cost",
        "DN?",
        "tmrw appt pls",
        "can u do my traps and levator scap",
        "I had dolor in my neck for ages lol",
        "Is it OK to drive after? I live in Santa Monica",
        "ok",
        "si",
    ],
)
def test_english_messages_stay_english(text):
    assert default_detector().detect(text).english, default_detector().detect(text)


@pytest.mark.parametrize(
    "text, language",
    [
        ("hola, me duele el cuello después de la punción seca", "es"),
        ("quanto custa uma sessão de agulhamento a seco?", "pt"),
        ("o agulhamento seco dói muito?", "pt"),
        ("ما هو الوخز بالإبر الجافة", "ar"),
        ("Kann ich nach der Behandlung Auto fahren?", "de"),
        ("est-ce que ça fait mal", "fr"),
        ("Ile kosztuje jedna sesja?", "pl"),
        ("bu tedavi güvenli mi", "tr"),
        ("Châm kim khô có đau không", "vi"),
        ("fa male l'ago secco?", "it"),
        ("针灸疼吗", "zh"),
    ],
)
def test_other_languages_are_recognised(text, language):
    assert default_detector().detect(text).language == language


def parsed(text: str, intent: str) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.8})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.8}])
    message.set("entities", [])
    return message


def test_the_guard_turns_another_language_into_other_language():
    message = LanguageGuard().process([parsed("¿duele mucho la punción seca en el cuello?", "does_it_hurt")])[0]
    assert message.get("intent") == {"name": "other_language", "confidence": 1.0}
    assert message.get("intent_ranking")[1]["name"] == "does_it_hurt"
    assert {"entity": "language", "value": "es"}.items() <= message.get("entities")[0].items()


def test_the_guard_never_turns_away_an_english_question():
    message = LanguageGuard().process([parsed("does the needling hurt", "other_language")])[0]
    assert message.get("intent")["name"] == "nlu_fallback"
    message = LanguageGuard().process([parsed("does the needling hurt", "does_it_hurt")])[0]
    assert message.get("intent") == {"name": "does_it_hurt", "confidence": 0.8}
    assert message.get("entities") == []


def test_the_guard_leaves_button_payloads_alone():
    message = LanguageGuard().process([parsed("/other_language", "other_language")])[0]
    assert message.get("intent")["name"] == "other_language"
    assert message.get("entities") == []


def test_letters_that_make_no_known_word_are_not_understood():
    known = frozenset(["neck", "dn", "hurt"])
    assert not readable("qwxz blorp", known)
    assert readable("DN?", known)
    assert readable("qwxz neck", known)
    assert readable("?!", known)
    assert readable("ما هذا", known)  # another script: the language guard's business


def test_the_guard_turns_gibberish_into_a_fallback_but_keeps_an_urgent_vote():
    message = LanguageGuard().process([parsed("zzkj fnarg", "out_of_scope")])[0]
    assert message.get("intent")["name"] == "nlu_fallback"
    message = LanguageGuard().process([parsed("zzkj fnarg", "urgent")])[0]
    assert message.get("intent")["name"] == "urgent"


def test_chat_words_and_the_clinic_vocabulary_are_known():
    known = load_known_words()
    assert {"dn", "tmrw", "eliquis", "trapezius", "traps"} <= known


# --- the second opinion (py3langid) and mixed scripts ---------------------------------------------------


def opinion_of(named: str, probability: float):
    return lambda text: (named, probability)


def with_opinion(named: str, probability: float) -> LanguageDetector:
    return LanguageDetector(
        scripts={"ar": ["Arabic"]},
        words={"en": ["the", "is", "my", "does"], "pt": ["é", "tipo", "meu"]},
        second_opinion=opinion_of(named, probability),
        min_probability=0.9,
    )


def test_the_identifier_decides_a_message_with_few_listed_words():
    guess = with_opinion("pt", 0.97).detect("dry needling é acupuntura chinesa ou não")
    assert (guess.language, guess.sure) == ("pt", True)


def test_the_identifier_needs_a_listed_word_of_its_language_and_a_high_probability():
    assert with_opinion("pt", 0.97).detect("whos qualified to do dry needling here").english
    assert with_opinion("pt", 0.80).detect("dry needling é acupuntura chinesa ou não").english


def test_arabic_words_around_the_treatments_english_name_are_arabic():
    guess = FIXTURE.detect("شو يعني dry needling")
    assert (guess.language, guess.sure) == ("ar", True)
    assert FIXTURE.detect("what does the word شكرا mean in my language").english


ARABIZI_FIXTURE = LanguageDetector(
    scripts={"ar": ["Arabic"]},
    words={"en": ["the", "is", "my", "i", "had", "at", "dry", "needling"], "es": ["el", "mi"], "ar": ["shu", "kif"]},
    second_opinion=opinion_of("es", 0.99),
)


@pytest.mark.parametrize(
    "text, language",
    [
        ("ma 2dert atnafas mn el sob7 w el 7aleh sa3be", "ar"),  # an identifier's "Spanish" does not win
        ("masa el 5eir", "ar"),  # one Arabizi word and no English word
        ("y3awer el dry needling?", "ar"),  # the treatment's English name does not make it English
        ("kif el 7al", "ar"),  # one Arabizi word and a listed one
        ("i had my 2nd session at 10am", "en"),  # ordinals and times are not Arabizi
        ("is my 400mg dose 3x the dry needling one", "en"),
        ("el cuello mi amigo", "es"),  # no Arabizi-shaped word: the rules as before
    ],
)
def test_arabizi_is_read_by_its_digits(text, language):
    assert ARABIZI_FIXTURE.detect(text).language == language


def test_the_identifiers_model_must_have_the_pinned_checksum():
    from needlewise.language import py3langid_opinion

    with pytest.raises(ValueError, match="SHA-256"):
        py3langid_opinion({"model_sha256": "0" * 64, "languages": ["en", "pt"]})


@pytest.mark.parametrize(
    "text, language",
    [
        ("shu ya3ni dry needling w kif bi sa3ed", "ar"),
        ("3ndi waja3 bl ra2ba mn 2 jum3a", "ar"),
        ("min by3mal el dry needling 3ndkom", "ar"),
        ("oi, vcs fazem agulhamento seco pra dor no pescoço?", "pt"),
        ("ponto gatilho existe mesmo ou é invenção?", "pt"),
        ("I had 3 sessions and my neck is still sore", "en"),
    ],
)
def test_the_shipped_detector_reads_arabizi_and_informal_portuguese(text, language):
    assert default_detector().detect(text).language == language


def test_a_redaction_mark_does_not_make_nonsense_readable():
    known = frozenset({"phone", "neck"})
    assert not readable("glorp blat zzkt [phone]", known)
    assert readable("my neck [phone]", known)


def test_the_guard_leaves_the_models_languages_to_the_classifier():
    guard = LanguageGuard.from_config({"languages": ["en", "pt", "ar"]})
    portuguese = guard.process([parsed("quanto tempo dura a dor depois do agulhamento seco?", "soreness_duration")])[0]
    assert portuguese.get("intent")["name"] == "soreness_duration"
    arabic = guard.process([parsed("كم يوم يستمر الألم بعد الإبر الجافة؟", "other_language")])[0]
    assert arabic.get("intent")["name"] == "nlu_fallback"  # understood language, so never "another language"
    spanish = guard.process([parsed("¿cuánto dura el dolor después de la punción seca?", "soreness_duration")])[0]
    assert spanish.get("intent")["name"] == "other_language"
