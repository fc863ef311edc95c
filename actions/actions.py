"""The custom action: a thin layer between Rasa's tracker and the pure dialogue module."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from needlewise.dialogue import Turn, choose_language, decide, history_from_events
from needlewise.locales import Locales
from needlewise.replies import Reply

logger = logging.getLogger(__name__)

#: The languages of this action-server process; each reloads its files when they change.
LOCALES = Locales()


def turn_from_tracker(tracker: Tracker) -> Turn:
    message = tracker.latest_message or {}
    metadata = message.get("metadata") or {}
    return Turn(
        intent=(message.get("intent") or {}).get("name"),
        entities=list(message.get("entities") or []),
        ranking=list(message.get("intent_ranking") or []),
        surface="kiosk" if metadata.get("surface") == "kiosk" else "web",
        text=str(message.get("text") or ""),
        page_language=metadata.get("lang") if isinstance(metadata.get("lang"), str) else None,
    )


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    for message in reply:
        if "custom" in message:
            dispatcher.utter_message(json_message=message["custom"])
        else:
            dispatcher.utter_message(text=message["text"], buttons=message.get("buttons", []))


class ActionRespond(Action):
    """Answers every turn from the curated knowledge file, by the reply contract."""

    def name(self) -> str:
        return "action_respond"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        turn, history = turn_from_tracker(tracker), history_from_events(tracker.events)
        served = [locale.key for locale in LOCALES.served()]
        kb = LOCALES.get(choose_language(turn, history, served, LOCALES.default.key)).knowledge_base()
        send(dispatcher, decide(kb, turn, history))
        return []
