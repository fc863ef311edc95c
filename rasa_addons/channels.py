"""Needlewise's REST and socket.io channels: Rasa's own, with a safety net around every turn.

The safety net makes the reply contract hold whatever else fails: if a turn ends without a
`custom` message (the action server is down, the tracker store failed, anything raised), it
sends one itself, built from the same knowledge file. A patient who reports a red flag gets
the urgent reply even then.

The URLs stay Rasa's: `/webhooks/rest/webhook` and the socket.io path `/socket.io`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Sanic

from actions import replies
from actions.knowledge import KnowledgeFileError, KnowledgeStore
from rasa_addons.red_flags import default_detector, summary

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
#: Said only if even the knowledge file cannot be read: the last line of defence.
LAST_RESORT = (
    "Sorry, I can't answer right now. Please ask the clinic's front desk. "
    "If you feel unwell or it is an emergency, call your local emergency number now."
)
TURN_TIMEOUT_SECONDS = 30.0

_store: Optional[KnowledgeStore] = None


def knowledge_store() -> KnowledgeStore:
    global _store
    if _store is None:
        _store = KnowledgeStore()
    return _store


class ContractGuard(OutputChannel):
    """Passes every message through to the real channel and notes the `custom` kinds sent."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.kinds: List[str] = []

    @classmethod
    def name(cls) -> str:
        return "contract_guard"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        payload = message.get("custom")
        if isinstance(payload, dict) and payload.get("kind"):
            self.kinds.append(payload["kind"])
        await self.inner.send_response(recipient_id, message)


async def _latest_intent(sender_id: Optional[str]) -> Optional[str]:
    """What Rasa's classifier made of the turn, if the tracker can still be read."""
    try:
        agent = Sanic.get_app().ctx.agent
        tracker = await agent.tracker_store.retrieve(sender_id)
    except Exception:
        return None
    if tracker is None:
        return None
    return (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None


async def safety_net_reply(
    text: Optional[str], sender_id: Optional[str], metadata: Optional[Dict[str, Any]] = None
) -> replies.Reply:
    """The reply for a turn that produced none: urgent if it may be an emergency, else handoff."""
    flags = default_detector().detect(text or "")
    try:
        kb = knowledge_store().get()
    except KnowledgeFileError:
        return [{"text": LAST_RESORT}, {"custom": {"kind": "handoff", "topic": None, "reason": "no_knowledge"}}]
    if flags or await _latest_intent(sender_id) == "urgent":
        crisis, category = summary(flags)
        kiosk = isinstance(metadata, dict) and metadata.get("surface") == "kiosk"
        return replies.urgent(kb, crisis=crisis, red_flag=category, kiosk=kiosk)
    return replies.action_server_down(kb)


def guarded(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wraps Rasa's message handler so that every turn ends with exactly one `custom`."""

    async def handle(message: UserMessage) -> None:
        guard = ContractGuard(message.output_channel)
        wrapped = UserMessage(
            message.text,
            guard,
            message.sender_id,
            parse_data=message.parse_data,
            input_channel=message.input_channel,
            message_id=message.message_id,
            metadata=message.metadata,
        )
        try:
            await asyncio.wait_for(on_new_message(wrapped), TURN_TIMEOUT_SECONDS)
        except Exception as error:
            logger.error("A turn failed (%s); the safety net answers it.", type(error).__name__)
        if not guard.kinds:
            logger.warning("No reply by the contract for a turn; the safety net answers it.")
            for part in await safety_net_reply(message.text, message.sender_id, message.metadata):
                await guard.inner.send_response(message.sender_id, dict(part))

    return handle


class GuardedRestInput(RestInput):
    """Rasa's REST channel (`/webhooks/rest/webhook`) with the safety net."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Any:
        return super().blueprint(guarded(on_new_message))


class ContractSocketIOOutput(SocketIOOutput):
    """Sends a `custom` object as `{"custom": {...}}`, the same shape the REST channel uses."""

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with the safety net and contract-shaped `custom` messages."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Any:
        async def with_contract_output(message: UserMessage) -> None:
            output = message.output_channel
            if isinstance(output, SocketIOOutput) and not isinstance(output, ContractSocketIOOutput):
                message.output_channel = ContractSocketIOOutput(output.sio, output.bot_message_evt)
            await on_new_message(message)

        return super().blueprint(guarded(with_contract_output))
