"""The custom action: a thin layer between Rasa's tracker and the pure dialogue module."""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from needlewise.dialogue import Turn, decide, history_from_events
from needlewise.knowledge import KnowledgeStore
from needlewise.replies import Reply

logger = logging.getLogger(__name__)

#: One store per action-server process; it reloads the knowledge file when it changes.
STORE = KnowledgeStore()


def turn_from_tracker(tracker: Tracker) -> Turn:
    message = tracker.latest_message or {}
    metadata = message.get("metadata") or {}
    return Turn(
        intent=(message.get("intent") or {}).get("name"),
        entities=list(message.get("entities") or []),
        ranking=list(message.get("intent_ranking") or []),
        surface="kiosk" if metadata.get("surface") == "kiosk" else "web",
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
        kb = STORE.get()
        send(dispatcher, decide(kb, turn_from_tracker(tracker), history_from_events(tracker.events)))
        return []
