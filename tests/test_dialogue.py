"""Every dialogue path of `needlewise.dialogue.decide`, checked against the reply contract.

The replies are built from the fixture knowledge file and clinic (tests/fixtures/), and every
expected text is read from them, so the shipped wording and clinic can change freely.
Conversations are replayed the way the action server sees them: each turn's reply becomes
Rasa tracker events (`user`, `action`, `bot` with `data.custom`), and the next turn reads its
history back with `history_from_events`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pytest
import yaml

from needlewise import replies
from needlewise.dialogue import History, Turn, decide, history_from_events
from needlewise.knowledge import TOPICS_FILE, KnowledgeBase, load_topic_spec
from needlewise.replies import STARTER_TOPICS, Reply
from tests.conftest import FIXTURE_KNOWLEDGE, FIXTURE_TOPICS, one_custom, texts

#: The reply kinds of the contract (the project's topic spec).
KINDS = set(yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))["kinds"])
#: The fixture's topics, and those of its entries that have a "tell me more" detail.
TOPIC_IDS = list(load_topic_spec(FIXTURE_TOPICS))
WITH_DETAIL = [
    e["id"] for e in yaml.safe_load(FIXTURE_KNOWLEDGE.read_text(encoding="utf-8"))["entries"] if e.get("detail")
]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Entity = Dict[str, Any]
#: One patient message: the intent the NLU found, and its entities.
Step = Tuple[Optional[str], Sequence[Entity]]


# --- helpers -------------------------------------------------------------------------------------


def entity(name: str, value: str) -> Entity:
    return {"entity": name, "value": value, "start": 0, "end": len(value), "extractor": "SpacyEntityExtractor"}


def session_start() -> List[Dict[str, Any]]:
    return [
        {"event": "action", "timestamp": 1.0, "name": "action_session_start", "policy": None, "confidence": 1.0},
        {"event": "session_started", "timestamp": 1.1},
        {"event": "action", "timestamp": 1.2, "name": "action_listen", "policy": None, "confidence": None},
    ]


def user_event(intent: Optional[str], entities: Sequence[Entity] = ()) -> Dict[str, Any]:
    return {
        "event": "user",
        "timestamp": 2.0,
        "text": f"(a message understood as {intent})",
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.93},
            "entities": list(entities),
            "intent_ranking": [{"name": intent, "confidence": 0.93}],
        },
        "input_channel": "rest",
        "message_id": "0f0e0d",
        "metadata": {},
    }


def bot_events(reply: Reply) -> List[Dict[str, Any]]:
    """The `bot` events Rasa records for a reply sent through `dispatcher.utter_message`."""
    events = [{"event": "action", "timestamp": 3.0, "name": "action_respond", "policy": "RulePolicy"}]
    for message in json.loads(json.dumps(reply)):  # as stored by the tracker store
        data = {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None}
        data["buttons"] = message.get("buttons")
        data["custom"] = message.get("custom")
        events.append({"event": "bot", "timestamp": 3.1, "text": message.get("text"), "data": data, "metadata": {}})
    events.append({"event": "action", "timestamp": 3.2, "name": "action_listen", "policy": None})
    return events


def converse(kb: KnowledgeBase, steps: Sequence[Step]) -> Tuple[Reply, List[Dict[str, Any]]]:
    """Plays the steps one by one through `decide`; returns the last reply and all events."""
    events = session_start()
    reply: Reply = []
    for intent, entities in steps:
        events.append(user_event(intent, entities))
        reply = decide(kb, Turn(intent, list(entities)), history_from_events(events))
        events += bot_events(reply)
    return reply, events


def say(kb: KnowledgeBase, *intents: Optional[str]) -> Reply:
    return converse(kb, [(intent, ()) for intent in intents])[0]


def plain(button: Dict[str, str]) -> Dict[str, str]:
    """A button without its signature token (checked in test_every_button_payload_is_signed)."""
    return {k: v for k, v in button.items() if k != "token"}


def buttons(reply: Reply) -> List[Dict[str, str]]:
    return [plain(b) for m in reply for b in m.get("buttons", [])]


def test_every_button_payload_is_signed(kb):
    from needlewise.signing import verify

    reply = replies.answer(kb, "what_is_dry_needling")
    signed = [b for m in reply for b in m.get("buttons", [])]
    assert signed and all(verify(b["payload"], b["token"]) for b in signed)
    assert not verify("/what_is_dry_needling", signed[-1]["token"])


def payloads(reply: Reply) -> List[str]:
    return [b["payload"] for b in buttons(reply)]


# --- every path keeps the contract -----------------------------------------------------------------

PATHS: Dict[str, List[Step]] = {
    **{f"topic-{t}": [(t, ())] for t in TOPIC_IDS},
    "greet": [("greet", ())],
    "goodbye": [("goodbye", ())],
    "thank": [("thank", ())],
    "bot_challenge": [("bot_challenge", ())],
    "ask_capabilities": [("ask_capabilities", ())],
    "ask_human": [("ask_human", ())],
    "feedback_helpful": [("common_side_effects", ()), ("feedback_helpful", ())],
    "feedback_not_helpful": [("common_side_effects", ()), ("feedback_not_helpful", ())],
    "feedback_first": [("feedback_helpful", ())],
    "out_of_scope": [("out_of_scope", ())],
    "refer-medicine": [("personal_decision", [entity("medicine", "warfarin")])],
    "refer-pregnancy": [("personal_decision", [entity("pregnancy", "pregnant")])],
    "refer-condition": [("personal_decision", [entity("condition", "lymphoedema")])],
    "refer-none": [("personal_decision", ())],
    "urgent": [("urgent", ())],
    "urgent-crisis": [("urgent", [entity("red_flag", "crisis")])],
    "red-flag-in-a-topic": [("common_side_effects", [entity("red_flag", "chest_pain")])],
    "followup_more": [("booking", ()), ("followup_more", ())],
    "followup_duration": [("common_side_effects", ()), ("followup_duration", ())],
    "followup_safety": [("pregnancy", ()), ("followup_safety", ())],
    "followup-without-topic": [("followup_duration", ())],
    "followup-after-referral": [("personal_decision", [entity("medicine", "aspirin")]), ("followup_safety", ())],
    "nlu_fallback": [("nlu_fallback", ())],
    "intent-none": [(None, ())],
    "unknown-intent": [("ask_weather", ())],
    "second-fallback": [("nlu_fallback", ()), ("nlu_fallback", ())],
}


def test_reply_kinds_are_the_kinds_of_the_topic_spec() -> None:
    assert set(replies.KINDS) == KINDS


@pytest.mark.parametrize("path", list(PATHS))
def test_every_reply_has_exactly_one_custom_with_a_known_kind(kb: KnowledgeBase, path: str) -> None:
    reply, _ = converse(kb, PATHS[path])
    payload = one_custom(reply)
    assert payload["kind"] in KINDS
    assert "topic" in payload
    if payload["kind"] not in ("answer", "refer_clinician", "urgent"):
        assert payload["topic"] is None
    if payload["topic"] is not None:
        assert payload["topic"] in kb.entries
        assert payload["sources"]
    for message in reply:
        assert ("text" in message) != ("custom" in message), message
        if "text" in message:
            assert isinstance(message["text"], str) and message["text"].strip()
            assert "{" not in message["text"]
        for b in message.get("buttons", []):
            assert b["title"].strip()
            assert re.match(r"^/[a-z_]+$", b["payload"]), b
    assert json.loads(json.dumps(reply)) == reply  # travels as JSON unchanged


def test_a_non_topic_reply_carries_no_entry_facts(kb: KnowledgeBase) -> None:
    for intent in ("greet", "goodbye", "thank", "ask_human", "out_of_scope", "nlu_fallback"):
        payload = one_custom(say(kb, intent))
        assert payload["topic"] is None
        assert not {"evidence", "sources", "related", "review", "reviewed"} & set(payload), intent


# --- topic answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", TOPIC_IDS)
def test_a_topic_intent_gets_its_answer(kb: KnowledgeBase, topic: str) -> None:
    entry = kb.entry(topic)
    reply = say(kb, topic)
    payload = one_custom(reply)
    assert payload["kind"] == "answer"
    assert payload["topic"] == topic
    assert payload["evidence"] == {"level": entry.evidence.level, "summary": kb.fill(entry.evidence.summary)}
    assert payload["evidence"]["summary"]
    assert payload["sources"]
    assert payload["sources"] == [{k: kb.fill(v) for k, v in s.dict().items() if v is not None} for s in entry.sources]
    assert all(s["title"] and ({"url", "pmid", "doi"} & set(s)) for s in payload["sources"])
    assert payload["related"] == entry.related
    assert payload["review"] == entry.review.payload()
    assert "reviewed" not in payload
    if entry.review.approved:
        assert payload["review"]["by"] and payload["review"]["role"] and DATE.match(payload["review"]["on"])
    else:
        assert payload["review"] == {"status": "draft"}

    answer, question = reply[0], reply[1]
    assert answer["text"] == kb.fill(entry.answer)
    assert "{" not in answer["text"]
    for related in entry.related:
        assert {"title": kb.fill(kb.entry(related).title), "payload": f"/{related}"} in buttons([answer])
    more = [b for b in buttons([answer]) if b["payload"] == "/followup_more"]
    if entry.detail:
        assert more == [{"title": kb.message("tell_me_more_label"), "payload": "/followup_more"}]
    else:
        assert more == []
    assert len(answer["buttons"]) == len(entry.related) + (1 if entry.detail else 0)

    assert question["text"] == kb.message("helpful_question")
    assert [b["payload"] for b in question["buttons"]] == ["/feedback_helpful", "/feedback_not_helpful"]


def test_a_clinic_answer_fills_in_the_clinic_settings(kb: KnowledgeBase) -> None:
    reply = say(kb, "booking")
    assert kb.clinic.booking_url in reply[0]["text"]
    assert kb.clinic.phone in reply[0]["text"]
    assert one_custom(reply)["sources"] == [
        {"title": f"{kb.clinic.name} clinic settings", "url": kb.clinic.booking_url}
    ]
    assert one_custom(reply)["evidence"]["summary"] == kb.fill(kb.entry("booking").evidence.summary)
    assert kb.clinic.name in one_custom(reply)["evidence"]["summary"]


# --- small talk, menu, handoff, feedback, scope ----------------------------------------------------


def test_greet_gets_a_greeting_with_the_emergency_number(kb: KnowledgeBase) -> None:
    reply = say(kb, "greet")
    assert one_custom(reply) == {"kind": "greeting", "topic": None, "lang": "en"}
    assert f"call {kb.clinic.emergency_number}" in reply[0]["text"]
    assert reply[0]["text"] == kb.message("greeting")
    assert payloads(reply) == [f"/{t}" for t in STARTER_TOPICS]


@pytest.mark.parametrize(
    ("intent", "kind", "message_key"),
    [
        ("goodbye", "goodbye", "goodbye"),
        ("thank", "chitchat", "thanks"),
        ("bot_challenge", "chitchat", "bot_challenge"),
        ("out_of_scope", "out_of_scope", "out_of_scope"),
    ],
)
def test_small_talk_and_scope(kb: KnowledgeBase, intent: str, kind: str, message_key: str) -> None:
    reply = say(kb, intent)
    assert one_custom(reply) == {"kind": kind, "topic": None, "lang": "en"}
    assert texts(reply) == [kb.message(message_key)]


def test_ask_capabilities_gets_a_menu_of_every_topic(kb: KnowledgeBase) -> None:
    reply = say(kb, "ask_capabilities")
    assert one_custom(reply)["kind"] == "menu"
    assert texts(reply) == [kb.message("menu")]
    assert len(buttons(reply)) == len(TOPIC_IDS)
    assert sorted(payloads(reply)) == sorted(f"/{t}" for t in TOPIC_IDS)
    assert buttons(reply)[0] == {"title": kb.entry(TOPIC_IDS[0]).title, "payload": f"/{TOPIC_IDS[0]}"}


def test_ask_human_gets_a_handoff_with_the_clinic_phone_and_hours(kb: KnowledgeBase) -> None:
    reply = say(kb, "ask_human")
    assert one_custom(reply) == {"kind": "handoff", "topic": None, "lang": "en"}
    (words,) = texts(reply)
    assert words == kb.message("handoff")
    assert kb.clinic.phone in words
    assert kb.clinic.hours in words
    assert kb.clinic.name in words


def test_another_language_gets_english_only_with_the_clinic_phone(kb: KnowledgeBase) -> None:
    reply = converse(kb, [("other_language", [entity("language", "pt")])])[0]
    assert one_custom(reply) == {
        "kind": "fallback",
        "topic": None,
        "reason": "other_language",
        "language": "pt",
        "lang": "en",
    }
    assert texts(reply) == [kb.message("other_language")]
    assert kb.clinic.phone in texts(reply)[0] and kb.clinic.emergency_number in texts(reply)[0]


def test_a_handoff_after_fallbacks_gives_the_phone_and_hours(kb: KnowledgeBase) -> None:
    (words,) = texts(replies.handoff(kb, after_fallbacks=True))
    assert kb.clinic.phone in words and kb.clinic.hours in words


@pytest.mark.parametrize(("intent", "helpful"), [("feedback_helpful", True), ("feedback_not_helpful", False)])
def test_feedback_is_acknowledged_and_names_the_topic(kb: KnowledgeBase, intent: str, helpful: bool) -> None:
    reply = say(kb, "soreness_duration", intent)
    assert one_custom(reply) == {
        "kind": "feedback",
        "topic": None,
        "helpful": helpful,
        "about": "soreness_duration",
        "lang": "en",
    }
    assert texts(reply) == [kb.message(intent)]
    assert payloads(reply) == ([] if helpful else ["/ask_human"])


def test_feedback_without_an_earlier_topic_is_about_nothing(kb: KnowledgeBase) -> None:
    payload = one_custom(say(kb, "feedback_not_helpful"))
    assert (payload["kind"], payload["about"], payload["helpful"]) == ("feedback", None, False)


# --- personal decisions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entities", "topic"),
    [
        ([entity("medicine", "warfarin")], "blood_thinners"),
        ([entity("pregnancy", "pregnant")], "pregnancy"),
        ([entity("condition", "lymphoedema")], "who_should_avoid"),
        ([entity("body_part", "neck"), entity("medicine", "apixaban")], "blood_thinners"),
    ],
)
def test_a_personal_decision_is_referred_with_the_topic_facts(
    kb: KnowledgeBase, entities: List[Entity], topic: str
) -> None:
    reply, _ = converse(kb, [("personal_decision", entities)])
    payload = one_custom(reply)
    entry = kb.entry(topic)
    assert payload["kind"] == "refer_clinician"
    assert payload["topic"] == topic
    assert payload["sources"] == [{k: kb.fill(v) for k, v in s.dict().items() if v is not None} for s in entry.sources]
    assert payload["evidence"]["level"] == entry.evidence.level
    assert texts(reply) == [kb.message("refer_clinician"), kb.fill(entry.answer)]
    assert kb.clinic.phone in texts(reply)[0]
    assert payloads(reply) == [f"/{r}" for r in entry.related]


def test_a_personal_decision_without_an_entity_is_referred_without_a_topic(kb: KnowledgeBase) -> None:
    reply = say(kb, "personal_decision")
    assert one_custom(reply) == {"kind": "refer_clinician", "topic": None, "lang": "en"}
    assert texts(reply) == [kb.message("refer_clinician")]
    assert buttons(reply) == []


# --- urgent ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "red_flag"),
    [
        (("urgent", ()), None),
        (("urgent", [entity("red_flag", "chest_pain")]), "chest_pain"),
        (("common_side_effects", [entity("red_flag", "breathless")]), "breathless"),
        (("nlu_fallback", [entity("red_flag", "fainting")]), "fainting"),
        (("greet", [entity("red_flag", "infection")]), "infection"),
    ],
    ids=["intent", "intent-and-flag", "flag-in-a-topic", "flag-in-a-fallback", "flag-in-a-greeting"],
)
def test_urgent_says_to_call_the_emergency_number(kb: KnowledgeBase, step: Step, red_flag: Optional[str]) -> None:
    reply, _ = converse(kb, [step])
    payload = one_custom(reply)
    assert payload["kind"] == "urgent"
    assert payload["topic"] is None
    assert payload["call"] == kb.clinic.emergency_number
    assert payload["red_flag"] == red_flag
    assert payload["crisis_line"] is None
    assert payload["surface"] == "web"
    (words,) = texts(reply)
    assert words == kb.message("urgent")
    assert kb.clinic.emergency_number in words
    assert kb.clinic.crisis_line not in words
    # never the buttons or the feedback question of a topic answer
    assert buttons(reply) == []
    assert kb.message("helpful_question") not in words


@pytest.mark.parametrize("crisis", [False, True])
def test_urgent_at_the_kiosk_also_sends_the_patient_to_the_front_desk(kb: KnowledgeBase, crisis: bool) -> None:
    flags = [entity("red_flag", "crisis")] if crisis else []
    reply = decide(kb, Turn("urgent", flags, surface="kiosk"), History())
    payload = one_custom(reply)
    assert (payload["kind"], payload["surface"], payload["call"]) == ("urgent", "kiosk", kb.clinic.emergency_number)
    (words,) = texts(reply)
    assert words.startswith(kb.message("urgent_crisis" if crisis else "urgent"))
    assert words.endswith(kb.clinic.front_desk)
    assert (kb.clinic.crisis_line in words) is crisis
    assert buttons(reply) == []


def test_urgent_on_the_web_does_not_mention_the_front_desk(kb: KnowledgeBase) -> None:
    (words,) = texts(say(kb, "urgent"))
    assert kb.clinic.front_desk not in words


@pytest.mark.parametrize("intent", ["urgent", "nlu_fallback", "personal_decision"])
def test_a_crisis_gets_the_crisis_line(kb: KnowledgeBase, intent: str) -> None:
    reply, _ = converse(kb, [(intent, [entity("red_flag", "crisis")])])
    payload = one_custom(reply)
    assert payload["kind"] == "urgent"
    assert payload["red_flag"] == "crisis"
    assert payload["crisis_line"] == kb.clinic.crisis_line
    assert payload["call"] == kb.clinic.emergency_number
    (words,) = texts(reply)
    assert words == kb.message("urgent_crisis")
    assert kb.clinic.crisis_line in words
    assert kb.clinic.emergency_number in words
    assert buttons(reply) == []


def test_an_urgent_turn_after_an_answer_has_no_topic_buttons(kb: KnowledgeBase) -> None:
    reply = converse(kb, [("serious_risks", ()), ("urgent", ())])[0]
    assert one_custom(reply)["kind"] == "urgent"
    assert buttons(reply) == []
    assert "/followup_more" not in json.dumps(reply)


# --- follow-ups --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "followup", "expected"),
    [
        ("common_side_effects", "followup_duration", "soreness_duration"),
        ("does_it_work", "followup_duration", "how_long_lasts"),
        ("what_happens", "followup_duration", "session_length"),
        ("is_it_safe", "followup_duration", "soreness_duration"),
        ("preparation", "followup_duration", "session_length"),
        ("booking", "followup_duration", "how_long_lasts"),
        ("blood_thinners", "followup_safety", "blood_thinners"),
        ("what_happens", "followup_safety", "is_it_safe"),
        ("pregnancy", "followup_safety", "pregnancy"),
    ],
)
def test_a_followup_is_answered_from_the_earlier_topic(
    kb: KnowledgeBase, earlier: str, followup: str, expected: str
) -> None:
    reply = say(kb, earlier, followup)
    payload = one_custom(reply)
    assert (payload["kind"], payload["topic"]) == ("answer", expected)
    assert reply[0]["text"] == kb.fill(kb.entry(expected).answer)


def test_a_followup_uses_the_latest_topic(kb: KnowledgeBase) -> None:
    reply = say(kb, "common_side_effects", "does_it_work", "thank", "followup_duration")
    assert one_custom(reply)["topic"] == "how_long_lasts"


def test_a_followup_after_a_referral_uses_its_topic(kb: KnowledgeBase) -> None:
    reply, _ = converse(kb, [("personal_decision", [entity("medicine", "aspirin")]), ("followup_safety", ())])
    assert one_custom(reply)["topic"] == "blood_thinners"


@pytest.mark.parametrize("topic", WITH_DETAIL)
def test_followup_more_gives_the_detail(kb: KnowledgeBase, topic: str) -> None:
    entry = kb.entry(topic)
    assert entry.detail
    reply = say(kb, topic, "followup_more")
    payload = one_custom(reply)
    assert (payload["kind"], payload["topic"]) == ("answer", topic)
    assert reply[0]["text"] == kb.fill(entry.detail)
    assert reply[0]["text"] != kb.fill(entry.answer)
    assert "{" not in reply[0]["text"]
    assert "/followup_more" not in payloads(reply)
    assert [b["payload"] for b in reply[0]["buttons"]] == [f"/{r}" for r in entry.related]


@pytest.mark.parametrize("topic", sorted(set(TOPIC_IDS) - set(WITH_DETAIL)))
def test_followup_more_without_a_detail_says_so(kb: KnowledgeBase, topic: str) -> None:
    assert kb.entry(topic).detail is None
    first = say(kb, topic)
    assert "/followup_more" not in payloads(first)
    reply = say(kb, topic, "followup_more")
    assert one_custom(reply) == {"kind": "chitchat", "topic": None, "lang": "en"}
    assert texts(reply) == [kb.message("no_more_detail")]
    assert payloads(reply) == [f"/{r}" for r in kb.entry(topic).related]


@pytest.mark.parametrize("followup", ["followup_more", "followup_duration", "followup_safety"])
def test_a_followup_without_an_earlier_topic_asks_which_topic(kb: KnowledgeBase, followup: str) -> None:
    for steps in ([followup], ["greet", followup], ["ask_capabilities", "ask_human", followup]):
        reply = say(kb, *steps)
        assert one_custom(reply) == {"kind": "fallback", "topic": None, "lang": "en"}
        assert texts(reply) == [kb.message("followup_unclear")]
        assert payloads(reply) == [f"/{t}" for t in STARTER_TOPICS]


def test_a_new_session_forgets_the_earlier_topic(kb: KnowledgeBase) -> None:
    _, events = converse(kb, [("common_side_effects", ())])
    assert history_from_events(events).last_topic == "common_side_effects"
    events += [*session_start(), user_event("followup_duration")]
    history = history_from_events(events)
    assert history.customs == []
    reply = decide(kb, Turn("followup_duration"), history)
    assert one_custom(reply) == {"kind": "fallback", "topic": None, "lang": "en"}
    assert texts(reply) == [kb.message("followup_unclear")]


def test_history_reads_only_the_custom_objects_of_bot_events(kb: KnowledgeBase) -> None:
    _, events = converse(kb, [("does_it_work", ()), ("greet", ()), ("nlu_fallback", ())])
    history = history_from_events(events)
    assert [c["kind"] for c in history.customs] == ["answer", "greeting", "fallback"]
    assert history.last_topic == "does_it_work"
    assert history.fallbacks_in_a_row == 1
    # text-only bot events and odd payloads are ignored
    odd = [
        {"event": "bot", "text": "hi", "data": {"custom": None}},
        {"event": "bot", "text": "hi"},
        {"event": "bot", "data": {"custom": {"no_kind": True}}},
        {"event": "bot", "data": None},
        {"event": "user", "parse_data": {"custom": {"kind": "answer", "topic": "cost"}}},
    ]
    assert history_from_events(events + odd).customs == history.customs


# --- fallback and handoff -------------------------------------------------------------------------


@pytest.mark.parametrize("intent", ["nlu_fallback", None, "an_intent_the_bot_does_not_know"])
def test_not_understood_gets_a_fallback_with_topic_buttons(kb: KnowledgeBase, intent: Optional[str]) -> None:
    reply = say(kb, intent)
    assert one_custom(reply) == {"kind": "fallback", "topic": None, "lang": "en"}
    assert texts(reply) == [kb.message("fallback")]
    assert payloads(reply) == [f"/{t}" for t in STARTER_TOPICS[:4]]
    assert buttons(reply)[0] == {"title": kb.entry(STARTER_TOPICS[0]).title, "payload": f"/{STARTER_TOPICS[0]}"}


def test_a_fallback_offers_the_closest_topics_of_the_ranking(kb: KnowledgeBase) -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "pregnancy", "confidence": 0.3},
        {"name": "greet", "confidence": 0.1},
        {"name": "blood_thinners", "confidence": 0.1},
        {"name": "preparation", "confidence": 0.05},
        {"name": "booking", "confidence": 0.03},
        {"name": "session_length", "confidence": 0.02},
    ]
    reply = decide(kb, Turn("nlu_fallback", ranking=ranking), History())
    assert one_custom(reply)["kind"] == "fallback"
    assert payloads(reply) == ["/pregnancy", "/blood_thinners", "/preparation", "/booking"]


def test_a_fallback_tops_up_the_closest_topics_with_starters(kb: KnowledgeBase) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "does_it_work", "confidence": 0.3}]
    ranking += [{"name": "preparation", "confidence": 0.2}]
    reply = decide(kb, Turn(None, ranking=ranking), History())
    assert payloads(reply) == ["/does_it_work", "/preparation", "/what_is_dry_needling", "/common_side_effects"]


def test_a_second_fallback_in_a_row_hands_off(kb: KnowledgeBase) -> None:
    reply = say(kb, "nlu_fallback", None)
    assert one_custom(reply) == {"kind": "handoff", "topic": None, "lang": "en"}
    (words,) = texts(reply)
    assert words == kb.message("handoff_after_fallbacks")
    assert kb.clinic.phone in words
    assert words != kb.message("handoff")


@pytest.mark.parametrize("between", ["greet", "booking", "thank", "ask_human"])
def test_the_fallback_count_resets_after_another_turn(kb: KnowledgeBase, between: str) -> None:
    reply = say(kb, "nlu_fallback", between, "nlu_fallback")
    assert one_custom(reply)["kind"] == "fallback"
    assert texts(reply) == [kb.message("fallback")]


def test_the_fallback_count_resets_in_a_new_session(kb: KnowledgeBase) -> None:
    _, events = converse(kb, [("nlu_fallback", ())])
    events += [*session_start(), user_event("nlu_fallback")]
    reply = decide(kb, Turn("nlu_fallback"), history_from_events(events))
    assert one_custom(reply)["kind"] == "fallback"


# --- the replies module ---------------------------------------------------------------------------


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reply kind 'smalltalk'"):
        replies.custom("smalltalk")


def test_the_action_server_down_reply_is_a_handoff(kb: KnowledgeBase) -> None:
    reply = replies.action_server_down(kb)
    assert one_custom(reply) == {"kind": "handoff", "topic": None, "reason": "knowledge_unavailable", "lang": "en"}
    (words,) = texts(reply)
    assert words == kb.message("action_server_down")
    assert kb.clinic.phone in words and kb.clinic.emergency_number in words


def test_the_kinds_the_evaluation_expects_are_the_kinds_decide_gives(kb):
    """needlewise.dialogue.INTENT_KINDS (used by `make eval` and the integration tests) is kept by hand:
    it must say what `decide` does, for every intent, after an answered question."""
    from needlewise.dialogue import INTENT_KINDS, kind_of

    history = History([{"kind": "answer", "topic": "common_side_effects"}])
    for intent in [*INTENT_KINDS, *kb.entries]:
        reply = decide(kb, Turn(intent), history)
        (custom,) = [m["custom"] for m in reply if "custom" in m]
        assert custom["kind"] == kind_of(intent, kb.entries), intent
