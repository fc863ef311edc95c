"""Builds the bot's replies by the reply contract (../shared/spec/reply_contract.md).

A reply is a list of message dicts as Rasa sends them: `text` (with optional `buttons`) and
exactly one `custom` describing the turn. Pure Python: the action server and the Rasa-side
safety net both build their replies here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from needlewise import strings
from needlewise.knowledge import KnowledgeBase, load_reply_kinds
from needlewise.locales import primary
from needlewise.signing import sign
from needlewise.translations import strings_file_of

Message = Dict[str, Any]
Reply = List[Message]

#: The reply kinds of the reply contract, read from bot/topics.yml (the one place they are written).
KINDS = load_reply_kinds()
#: The topics a menu, a greeting and a fallback offer first, in this order.
STARTER_TOPICS = (
    "what_is_dry_needling",
    "does_it_work",
    "common_side_effects",
    "is_it_safe",
    "what_happens",
    "booking",
)


def button(title: str, payload: str) -> Dict[str, str]:
    """A button; its payload carries a token that proves it came from us (see needlewise/signing.py)."""
    return {"title": title, "payload": payload, "token": sign(payload)}


def topic_button(kb: KnowledgeBase, topic: str) -> Dict[str, str]:
    return button(kb.fill(kb.entry(topic).title), f"/{topic}")


def custom(kind: str, topic: Optional[str] = None, kb: Optional[KnowledgeBase] = None, **extra: Any) -> Message:
    """The one `custom` object of a turn, saying the language of `kb` (`lang`, BCP 47).

    With a topic, it carries the entry's facts: evidence, sources, related, review."""
    if kind not in KINDS:
        raise ValueError(f"unknown reply kind {kind!r}")
    payload: Dict[str, Any] = {"kind": kind, "topic": topic}
    if kb is not None:
        payload["lang"] = kb.language
    if topic is not None and kb is not None:
        entry = kb.entry(topic)
        payload["evidence"] = {"level": entry.evidence.level, "summary": kb.fill(entry.evidence.summary)}
        payload["sources"] = [
            {k: kb.fill(v) for k, v in source.dict().items() if v is not None} for source in entry.sources
        ]
        payload["related"] = list(entry.related)
        payload["review"] = entry.review.payload()
    payload.update(extra)
    return {"custom": payload}


def text(words: str, buttons: Sequence[Dict[str, str]] = ()) -> Message:
    message: Message = {"text": words}
    if buttons:
        message["buttons"] = list(buttons)
    return message


def label(kb: KnowledgeBase, key: str) -> str:
    """A button label of the strings file's `replies` group, with the clinic's details filled in."""
    return ui_strings(kb).text("replies", key, kb.clinic.placeholders())


def ui_strings(kb: KnowledgeBase) -> strings.UiStrings:
    """The strings of the knowledge's language: the STRINGS_FILE setting's, or a translation's own
    `<lang>.strings.yml` beside its knowledge file (needlewise/locales.py serves only those that have one)."""
    default = strings.current()
    if primary(kb.language) == primary(default.language):
        return default
    return strings.store(strings_file_of(Path(kb.source))).get()


def feedback_question(kb: KnowledgeBase) -> Message:
    return text(
        kb.message("helpful_question"),
        [
            button(label(kb, "feedback_yes"), "/feedback_helpful"),
            button(label(kb, "feedback_no"), "/feedback_not_helpful"),
        ],
    )


def answer(kb: KnowledgeBase, topic: str, more: bool = False) -> Reply:
    """A topic's answer (or its "tell me more" detail), with follow-up buttons."""
    entry = kb.entry(topic)
    buttons = []
    if entry.detail and not more:
        buttons.append(button(kb.message("tell_me_more_label"), "/followup_more"))
    buttons += [topic_button(kb, related) for related in entry.related]
    words = kb.fill(entry.detail if more and entry.detail else entry.answer)
    return [text(words, buttons), feedback_question(kb), custom("answer", topic, kb)]


def simple(
    kb: KnowledgeBase, kind: str, message_key: str, buttons: Sequence[Dict[str, str]] = (), **extra: Any
) -> Reply:
    return [text(kb.message(message_key), buttons), custom(kind, None, kb, **extra)]


def starter_buttons(kb: KnowledgeBase, topics: Sequence[str] = STARTER_TOPICS) -> List[Dict[str, str]]:
    return [topic_button(kb, t) for t in topics if t in kb.entries]


def menu(kb: KnowledgeBase) -> Reply:
    return simple(kb, "menu", "menu", [topic_button(kb, t) for t in kb.entries])


def greeting(kb: KnowledgeBase) -> Reply:
    return simple(kb, "greeting", "greeting", starter_buttons(kb))


def fallback(kb: KnowledgeBase, suggestions: Sequence[str] = (), count: int = 4) -> Reply:
    """ "I did not understand", with buttons for the closest topics (topped up with starters)."""
    topics = [t for t in dict.fromkeys([*suggestions, *STARTER_TOPICS]) if t in kb.entries][:count]
    return simple(kb, "fallback", "fallback", starter_buttons(kb, topics))


def handoff(kb: KnowledgeBase, after_fallbacks: bool = False) -> Reply:
    return simple(kb, "handoff", "handoff_after_fallbacks" if after_fallbacks else "handoff")


def urgent(
    kb: KnowledgeBase,
    crisis: bool = False,
    red_flag: Optional[str] = None,
    kiosk: bool = False,
) -> Reply:
    """What to do right now, with the clinic's emergency number (and crisis line for a crisis).

    At the front-desk kiosk the patient is also told to speak to the front desk now.
    """
    lines = [kb.message("urgent_crisis" if crisis else "urgent")]
    if kiosk:
        lines.append(kb.message("urgent_kiosk"))
    return [
        text(" ".join(lines)),
        custom(
            "urgent",
            None,
            kb,
            red_flag=red_flag,
            call=kb.clinic.emergency_number,
            crisis_line=kb.clinic.crisis_line if crisis else None,
            surface="kiosk" if kiosk else "web",
        ),
    ]


def refer_clinician(kb: KnowledgeBase, topic: Optional[str] = None) -> Reply:
    """We do not make personal medical decisions; a related topic's general facts may follow."""
    reply: Reply = [text(kb.message("refer_clinician"))]
    if topic:
        entry = kb.entry(topic)
        reply.append(text(kb.fill(entry.answer), [topic_button(kb, r) for r in entry.related]))
    reply.append(custom("refer_clinician", topic, kb))
    return reply


def action_server_down(kb: KnowledgeBase) -> Reply:
    return simple(kb, "handoff", "action_server_down", reason="knowledge_unavailable")


def custom_of(reply: Sequence[Message]) -> List[Dict[str, Any]]:
    """The `custom` objects of a reply (the contract wants exactly one)."""
    return [m["custom"] for m in reply if isinstance(m.get("custom"), dict)]
