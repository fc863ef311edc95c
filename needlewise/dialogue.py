"""Decides each turn's reply from the understood message and the conversation so far.

Pure Python: `decide` takes plain values, so every path is unit-tested without a tracker.
The conversation state it needs (the last topic, how many fallbacks in a row) is derived from
the replies already sent, so there are no slots to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

from needlewise import language, replies
from needlewise.knowledge import KnowledgeBase
from needlewise.locales import primary
from needlewise.replies import Reply

FALLBACK_INTENT = "nlu_fallback"
#: The reply kind each non-topic intent leads to; topic intents lead to `answer`.
INTENT_KINDS = {
    "urgent": "urgent",
    "personal_decision": "refer_clinician",
    "out_of_scope": "out_of_scope",
    "other_language": "fallback",
    "ask_human": "handoff",
    "greet": "greeting",
    "goodbye": "goodbye",
    "thank": "chitchat",
    "bot_challenge": "chitchat",
    "ask_capabilities": "menu",
    "feedback_helpful": "feedback",
    "feedback_not_helpful": "feedback",
    "followup_duration": "answer",
    "followup_safety": "answer",
    "followup_more": "answer",
    FALLBACK_INTENT: "fallback",
}


def kind_of(intent: Optional[str], topics: Iterable[str]) -> str:
    """The reply kind an intent leads to in a conversation that has had an answer (a follow-up
    with no earlier topic gets a fallback instead); tests/test_dialogue.py holds it to `decide`."""
    if intent in topics:
        return "answer"
    return INTENT_KINDS.get(intent or FALLBACK_INTENT, "fallback")


#: Entity values (from the project's spaCy vocabulary) that point a referral at a topic.
REFERRAL_TOPICS = {"medicine": "blood_thinners", "pregnancy": "pregnancy", "condition": "who_should_avoid"}
#: "How long does that last?" after a topic: which topic answers it.
DURATION_FOLLOWUPS = {
    "common_side_effects": "soreness_duration",
    "soreness_duration": "soreness_duration",
    "does_it_hurt": "soreness_duration",
    "aftercare": "soreness_duration",
    "what_happens": "session_length",
    "session_length": "session_length",
    "needle_details": "session_length",
    "number_of_sessions": "number_of_sessions",
    "when_results": "when_results",
}
DURATION_BY_CATEGORY = {"safety": "soreness_duration", "visit": "session_length"}
#: "Is that safe?" after a topic: which topic answers it.
SAFETY_FOLLOWUPS = {
    "needle_details": "needle_safety",
    "needle_safety": "needle_safety",
    "pregnancy": "pregnancy",
    "blood_thinners": "blood_thinners",
    "who_should_avoid": "who_should_avoid",
    "activity_after": "activity_after",
    "serious_risks": "serious_risks",
    "warning_signs": "warning_signs",
}


@dataclass
class Turn:
    """What the bot knows about the patient's latest message."""

    intent: Optional[str]
    entities: List[Dict[str, Any]] = field(default_factory=list)
    ranking: List[Dict[str, Any]] = field(default_factory=list)
    surface: str = "web"
    #: the words as Rasa keeps them (redacted), to tell their language
    text: str = ""
    #: the page's language (the widget's `data-lang`, the kiosk's choice), if it said one
    page_language: Optional[str] = None


@dataclass
class History:
    """What earlier replies of this conversation said, newest last."""

    customs: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def last_topic(self) -> Optional[str]:
        for past in reversed(self.customs):
            if past.get("topic") and past.get("kind") in ("answer", "refer_clinician"):
                return past["topic"]
        return None

    @property
    def language(self) -> Optional[str]:
        """The primary language of the latest reply (`pt` for `pt-BR`), if any."""
        for past in reversed(self.customs):
            if isinstance(past.get("lang"), str):
                return primary(past["lang"])
        return None

    @property
    def fallbacks_in_a_row(self) -> int:
        count = 0
        for past in reversed(self.customs):
            if past.get("kind") != "fallback":
                break
            count += 1
        return count


def history_from_events(events: Iterable[Dict[str, Any]]) -> History:
    """Reads the `custom` objects of the bot's earlier turns from Rasa tracker events."""
    customs = []
    for event in events:
        if event.get("event") == "session_started":
            customs = []
        elif event.get("event") == "bot":
            payload = (event.get("data") or {}).get("custom")
            if isinstance(payload, dict) and "kind" in payload:
                customs.append(payload)
    return History(customs)


def choose_language(turn: Turn, history: History, served: Sequence[str], default: str) -> str:
    """The primary language to answer this turn in: the message's, else the conversation's, else the page's."""
    return language.reply_language(turn.text, served, history.language, primary(turn.page_language), default)


def _entity_values(turn: Turn, name: str) -> List[str]:
    return [str(e.get("value")) for e in turn.entities if e.get("entity") == name]


def _closest_topics(kb: KnowledgeBase, ranking: Sequence[Dict[str, Any]]) -> List[str]:
    return [r["name"] for r in ranking if r.get("name") in kb.entries]


def _followup(kb: KnowledgeBase, intent: str, history: History) -> Reply:
    last = history.last_topic
    if last is None or last not in kb.entries:
        return replies.simple(kb, "fallback", "followup_unclear", replies.starter_buttons(kb))
    if intent == "followup_more":
        if kb.entry(last).detail:
            return replies.answer(kb, last, more=True)
        return replies.simple(
            kb, "chitchat", "no_more_detail", [replies.topic_button(kb, r) for r in kb.entry(last).related]
        )
    if intent == "followup_duration":
        target = DURATION_FOLLOWUPS.get(last) or DURATION_BY_CATEGORY.get(kb.entry(last).category, "how_long_lasts")
    else:
        target = SAFETY_FOLLOWUPS.get(last, "is_it_safe")
    return replies.answer(kb, target)


def decide(kb: KnowledgeBase, turn: Turn, history: History) -> Reply:
    """The reply for one turn. Every path returns exactly one `custom` with a kind."""
    intent = turn.intent or FALLBACK_INTENT
    if intent == "urgent" or _entity_values(turn, "red_flag"):
        flags = _entity_values(turn, "red_flag")
        return replies.urgent(
            kb, crisis="crisis" in flags, red_flag=flags[0] if flags else None, kiosk=turn.surface == "kiosk"
        )
    if intent in kb.entries:
        return replies.answer(kb, intent)
    if intent in ("followup_more", "followup_duration", "followup_safety"):
        return _followup(kb, intent, history)
    if intent == "greet":
        return replies.greeting(kb)
    if intent == "goodbye":
        return replies.simple(kb, "goodbye", "goodbye")
    if intent == "thank":
        return replies.simple(kb, "chitchat", "thanks")
    if intent == "bot_challenge":
        return replies.simple(kb, "chitchat", "bot_challenge", replies.starter_buttons(kb))
    if intent == "ask_capabilities":
        return replies.menu(kb)
    if intent == "ask_human":
        return replies.handoff(kb)
    if intent == "feedback_helpful":
        return replies.simple(kb, "feedback", "feedback_helpful", helpful=True, about=history.last_topic)
    if intent == "feedback_not_helpful":
        return replies.simple(
            kb,
            "feedback",
            "feedback_not_helpful",
            [replies.button(replies.label(kb, "talk_to_front_desk"), "/ask_human")],
            helpful=False,
            about=history.last_topic,
        )
    if intent == "other_language":
        found = _entity_values(turn, "language")
        return replies.simple(
            kb, "fallback", "other_language", reason="other_language", language=found[0] if found else None
        )
    if intent == "out_of_scope":
        return replies.simple(kb, "out_of_scope", "out_of_scope", replies.starter_buttons(kb))
    if intent == "personal_decision":
        topic = next(
            (REFERRAL_TOPICS[e["entity"]] for e in turn.entities if e.get("entity") in REFERRAL_TOPICS),
            None,
        )
        return replies.refer_clinician(kb, topic)
    if history.fallbacks_in_a_row >= 1:
        return replies.handoff(kb, after_fallbacks=True)
    return replies.fallback(kb, _closest_topics(kb, turn.ranking))
