"""The languages the bot answers in: which files serve them, and which one each turn is answered in.

Stand-in translations of the fixture files (tests/conftest.py `write_translations`): every text of
the Portuguese and Arabic files starts with its language's mark, so a reply shows which file it came from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa_sdk.endpoint import create_app

from needlewise import language, replies
from needlewise.dialogue import History, Turn, choose_language, decide
from needlewise.knowledge import KnowledgeFileError
from needlewise.locales import direction, primary
from tests.conftest import STAND_IN_LANGUAGES, fixture_locales, write_translations
from tests.test_action_server import webhook_body

SERVED = ["en", "pt", "ar"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_translations(tmp_path / "knowledge")


@pytest.fixture
def locales(folder: Path):
    return fixture_locales(folder, folder.with_name("en.strings.yml"))


# --- which files serve which language ------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag, key", [("pt-BR", "pt"), ("pt", "pt"), ("PT_br", "pt"), ("ar-AE", "ar"), ("en-GB", "en"), ("", ""), (7, "")]
)
def test_a_tag_names_its_primary_language(tag, key):
    assert primary(tag) == key


def test_arabic_is_right_to_left_and_the_others_are_not():
    assert [direction(tag) for tag in ("ar", "ar-AE", "pt-BR", "en", "he")] == ["rtl", "rtl", "ltr", "ltr", "rtl"]


def test_every_translation_beside_the_knowledge_file_is_served_default_first(locales):
    assert [(locale.key, locale.tag) for locale in locales.served()] == [("en", "en"), ("ar", "ar"), ("pt", "pt-BR")]
    assert locales.get("pt-PT").tag == "pt-BR"
    assert locales.get("de").key == "en"
    assert locales.find("de") is None


def test_a_translation_answers_from_its_own_files(locales):
    kb = locales.get("pt").knowledge_base()
    reply = replies.answer(kb, "booking")
    assert reply[0]["text"].startswith(STAND_IN_LANGUAGES["pt-BR"])
    # the buttons the bot adds come from the translation's own strings file
    assert all(b["title"].startswith(STAND_IN_LANGUAGES["pt-BR"]) for b in reply[1]["buttons"])
    assert replies.custom_of(reply)[0]["lang"] == "pt-BR"


def test_a_translation_without_its_strings_file_is_not_served(folder):
    folder.with_name("ar.strings.yml").unlink()
    assert [locale.key for locale in fixture_locales(folder, folder.with_name("en.strings.yml")).served()] == [
        "en",
        "pt",
    ]


def test_a_broken_translation_is_not_offered_and_its_patients_get_the_default(folder):
    folder.with_name("pt.yml").write_text("- not a knowledge file\n", encoding="utf-8")
    locales = fixture_locales(folder, folder.with_name("en.strings.yml"))
    assert [locale.key for locale in locales.served()] == ["en", "ar"]
    assert locales.get("pt-BR").key == "en"


def test_with_require_approved_a_never_approved_translation_is_not_served(folder):
    from needlewise.locales import Locales
    from tests.conftest import FIXTURE_CLINIC, FIXTURE_TOPICS

    english = yaml.safe_load(folder.read_text())
    for entry in english["entries"]:
        entry["review"] = {"status": "approved", "by": "A. Clinician", "role": "physiotherapist", "on": "2026-01-02"}
    folder.write_text(yaml.safe_dump(english, allow_unicode=True, sort_keys=False))
    locales = Locales(
        folder, folder.with_name("en.strings.yml"), FIXTURE_CLINIC, require_approved=True, topics_path=FIXTURE_TOPICS
    )
    assert [locale.key for locale in locales.served()] == ["en"]
    with pytest.raises(KnowledgeFileError):
        locales._all["pt"].knowledge_base()


# --- which language a turn is answered in ----------------------------------------------------------------


def choose(text: str, conversation=None, page=None) -> str:
    return language.choose(language.default_detector().detect(text), SERVED, conversation, page, "en")


@pytest.mark.parametrize(
    "text, conversation, page, expected",
    [
        # the message decides when its language is clear
        ("oi, quanto tempo dura uma sessão de agulhamento seco?", "en", "en", "pt"),
        ("كم تستغرق جلسة الإبر الجافة؟", "pt", "pt", "ar"),
        ("شكرا", "en", None, "ar"),  # Arabic letters are clear even in one word
        ("how long does a session of dry needling take?", "pt", "pt", "en"),
        # a short or unclear message keeps the conversation's language
        ("ok", "ar", "en", "ar"),
        ("dry needling?", "pt", "en", "pt"),
        ("/booking", "pt", None, "pt"),
        ("obrigado", "en", "en", "en"),
        # at the start, a short message with words of one language only, else the page's language
        ("obrigado", None, "en", "pt"),
        ("ok", None, "pt", "pt"),
        ("/booking", None, "ar", "ar"),
        ("ok", None, None, "en"),
        # a language not served: the conversation's or the page's, and the bot says what it speaks
        ("¿cuánto cuesta una sesión de punción seca para el cuello?", None, "pt", "pt"),
        ("¿cuánto cuesta una sesión de punción seca para el cuello?", None, None, "en"),
    ],
)
def test_the_message_then_the_conversation_then_the_page_decide(text, conversation, page, expected):
    assert choose(text, conversation, page) == expected


def test_the_conversation_language_is_the_latest_replys():
    history = History([{"kind": "answer", "lang": "en"}, {"kind": "greeting", "lang": "pt-BR"}])
    assert history.language == "pt"
    assert History([{"kind": "answer"}]).language is None
    turn = Turn("thank", text="valeu", page_language="en")
    assert choose_language(turn, history, SERVED, "en") == "pt"


def test_a_turn_is_answered_from_the_chosen_languages_files(locales):
    turn = Turn("greet", text="oi, boa tarde, tudo bem com vocês?", page_language="en")
    chosen = choose_language(turn, History(), [locale.key for locale in locales.served()], locales.default.key)
    reply = decide(locales.get(chosen).knowledge_base(), turn, History())
    assert reply[0]["text"].startswith(STAND_IN_LANGUAGES["pt-BR"])
    assert replies.custom_of(reply)[0]["lang"] == "pt-BR"


def test_every_kind_of_reply_says_its_language(locales):
    for locale in locales.served():
        kb = locale.knowledge_base()
        for reply in (
            replies.greeting(kb),
            replies.answer(kb, "booking"),
            replies.urgent(kb, crisis=True),
            replies.refer_clinician(kb),
            replies.fallback(kb),
            replies.handoff(kb),
            replies.action_server_down(kb),
        ):
            assert replies.custom_of(reply)[0]["lang"] == locale.tag


# --- the action server ----------------------------------------------------------------------------------


@pytest.fixture
def client(locales):
    from actions import actions

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(actions, "LOCALES", locales)
        yield create_app("actions").test_client


@pytest.mark.parametrize(
    "text, metadata, tag",
    [
        ("o que é agulhamento seco e como funciona?", {}, "pt-BR"),
        ("ما هي الإبر الجافة وكيف تعمل؟", {"lang": "pt-BR"}, "ar"),
        ("ok", {"lang": "ar"}, "ar"),
        ("what is dry needling and how does it work?", {"lang": "ar"}, "en"),
    ],
)
def test_the_action_server_answers_in_the_turns_language(client, locales, text, metadata, tag):
    _, response = client.post("/webhook", json=webhook_body("what_is_dry_needling", text, metadata=metadata))
    messages = response.json["responses"]
    assert [m["custom"]["lang"] for m in messages if m.get("custom")] == [tag]
    expected = locales.get(tag).knowledge_base()
    assert messages[0]["text"] == expected.fill(expected.entry("what_is_dry_needling").answer)


def test_a_short_message_keeps_the_conversations_language_in_the_action_server(client):
    earlier = [{"event": "bot", "text": "...", "data": {"custom": {"kind": "answer", "lang": "ar"}}}]
    _, response = client.post("/webhook", json=webhook_body("thank", "thanks", events=earlier))
    assert [m["custom"]["lang"] for m in response.json["responses"] if m.get("custom")] == ["ar"]


# --- the Rasa server's own replies (the channel's safety net) -------------------------------------------


@pytest.mark.parametrize(
    "metadata, kept",
    [({"lang": "pt-BR"}, "pt-BR"), ({"lang": "ar"}, "ar"), ({"lang": "<script>"}, None), ({"lang": 3}, None)],
)
def test_the_channel_keeps_only_a_language_tag_from_the_page(metadata, kept):
    from rasa_addons.channels import clean_metadata

    assert clean_metadata(metadata).get("lang") == kept


@pytest.mark.parametrize(
    "text, metadata, tag, key",
    [
        ("estou com falta de ar e dor no peito agora", {}, "pt-BR", "urgent"),
        ("ما هي الإبر الجافة؟", {}, "ar", "action_server_down"),
        ("ok", {"lang": "ar"}, "ar", "action_server_down"),
        ("what is dry needling?", {"lang": "pt-BR"}, "en", "action_server_down"),
    ],
)
async def test_the_safety_net_answers_in_the_patients_language(locales, monkeypatch, text, metadata, tag, key):
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from rasa_addons import channels

    monkeypatch.setattr(channels, "_locales", locales)

    async def silent(message: UserMessage) -> None:  # the turn produced no reply (e.g. action server down)
        return None

    collector = CollectingOutputChannel()
    await channels.guarded(silent)(UserMessage(text, collector, "s1", metadata=metadata))
    assert [m["custom"]["lang"] for m in collector.messages if "custom" in m] == [tag]
    assert collector.messages[0]["text"].startswith(locales.get(tag).knowledge_base().message(key)[:20])
