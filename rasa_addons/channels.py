"""Needlewise's REST and socket.io channels: Rasa's own, with a safety net around every turn.

Before Rasa sees a message it is cleaned, shortened, redacted and checked (needlewise/inputs.py);
empty messages, "forget me" and senders over the rate limit are answered here. After the turn,
if no `custom` reply went out (the action server is down, the tracker store failed, anything
raised), the safety net sends one built from the same knowledge file; a patient who reports a
red flag gets the urgent reply even then.

The URLs stay Rasa's: `POST /webhooks/rest/webhook` (plus `POST /webhooks/rest/forget`) and the
socket.io path `/socket.io`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import OutputChannel, UserMessage, decode_bearer_token
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from needlewise import language, replies, settings, strings
from needlewise.dialogue import history_from_events
from needlewise.inputs import prepare, valid_sender
from needlewise.knowledge import KnowledgeBase, KnowledgeFileError
from needlewise.locales import Locales, primary
from needlewise.red_flags import default_detector, summary
from needlewise.retention import KIOSK_PREFIX
from rasa_addons import encoder
from rasa_addons.rate_limits import RateLimits

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
#: The strings file (needlewise/strings.py), read when this module starts: the safety net's last
#: reply, said only if even the knowledge file cannot be read, comes from it. A strings file that
#: cannot be read at start stops the Rasa server here, naming the file, line and key.
STRINGS = strings.store()
#: The last good copy of that reply, kept in memory: it answers whatever happens to the files later.
LAST_RESORT = STRINGS.get().text("safety_net", "last_resort")
TURN_TIMEOUT_SECONDS = settings.current().turn_timeout_seconds
SURFACES = ("web", "kiosk")
#: socket.io clients pick their session id; shorter ones are replaced by a random one.
MIN_SESSION_ID = 16
#: socket.io sessions whose buttons are remembered (the oldest forgotten first)
MAX_OFFERED_SESSIONS = 10_000

_locales: Optional[Locales] = None
LIMITS = RateLimits.from_settings()


def locales() -> Locales:
    """The languages this Rasa server answers its own replies in (made on first use)."""
    global _locales
    if _locales is None:
        _locales = Locales()
    return _locales


def clean_metadata(metadata: Any) -> Dict[str, Any]:
    """Only what the bot uses from a client: where the patient is, the page's language, a button's token."""
    data = metadata if isinstance(metadata, dict) else {}
    surface = data.get("surface")
    cleaned: Dict[str, Any] = {"surface": surface if surface in SURFACES else "web"}
    if isinstance(data.get("token"), str) and len(data["token"]) <= 64:
        cleaned["token"] = data["token"]
    if primary(data.get("lang")):
        cleaned["lang"] = data["lang"].strip()
    return cleaned


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


def _agent() -> Any:
    try:
        return Sanic.get_app().ctx.agent
    except Exception:
        return None


async def _conversation(sender_id: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """What Rasa's classifier made of the turn, and the conversation's language, if the tracker can be read."""
    agent = _agent()
    try:
        tracker = await agent.tracker_store.retrieve(sender_id)
    except Exception:
        return None, None
    if tracker is None:
        return None, None
    try:
        spoken = history_from_events(event.as_dict() for event in tracker.events).language
    except Exception:
        spoken = None
    intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
    return intent, spoken


async def forget(sender_id: str) -> bool:
    """Deletes a patient's conversation from the tracker store."""
    store = getattr(_agent(), "tracker_store", None)
    while store is not None and getattr(store, "delete", None) is None:
        store = getattr(store, "_tracker_store", None)  # Rasa wraps stores (AwaitableTrackerStore)
    delete = getattr(store, "delete", None)
    if delete is None:
        return False
    await delete(sender_id)
    return True


def _knowledge(
    text: Optional[str] = None, metadata: Optional[Dict[str, Any]] = None, conversation: Optional[str] = None
) -> Optional[KnowledgeBase]:
    """The knowledge of the language to answer in (needlewise/language.py's `choose`), if it can be read."""
    known = locales()
    page = (metadata or {}).get("lang") if isinstance(metadata, dict) else None
    try:
        served = [locale.key for locale in known.served()]
        chosen = language.reply_language(text or "", served, conversation, primary(page), known.default.key)
        return known.get(chosen).knowledge_base()
    except KnowledgeFileError:
        return None


def last_resort_text() -> str:
    """The last line of defence: the strings file's current wording, else the copy kept in memory."""
    global LAST_RESORT
    try:
        LAST_RESORT = STRINGS.get().text("safety_net", "last_resort")
    except Exception as error:  # the store keeps its last good version; this is only in case
        logger.error("The strings file cannot be read (%s); the kept last resort answers.", type(error).__name__)
    return LAST_RESORT


def _last_resort() -> replies.Reply:
    return [{"text": last_resort_text()}, {"custom": {"kind": "handoff", "topic": None, "reason": "no_knowledge"}}]


async def safety_net_reply(
    text: Optional[str], sender_id: Optional[str], metadata: Optional[Dict[str, Any]] = None
) -> replies.Reply:
    """The reply for a turn that produced none: urgent if it may be an emergency, else handoff."""
    flags = default_detector().detect(text or "")
    intent, spoken = await _conversation(sender_id)
    kb = _knowledge(text, metadata, spoken)
    if kb is None:
        return _last_resort()
    if flags or intent == "urgent":
        crisis, category = summary(flags)
        kiosk = isinstance(metadata, dict) and metadata.get("surface") == "kiosk"
        return replies.urgent(kb, crisis=crisis, red_flag=category, kiosk=kiosk)
    return replies.action_server_down(kb)


async def _send(output: OutputChannel, sender_id: str, reply: replies.Reply) -> None:
    for part in reply:
        await output.send_response(sender_id, dict(part))


def guarded(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wraps Rasa's message handler: inputs made safe first, exactly one `custom` per turn."""

    async def handle(message: UserMessage, client: str = "") -> None:
        metadata = clean_metadata(message.metadata)
        sender = message.sender_id or ""
        if metadata["surface"] == "kiosk" and not sender.startswith(KIOSK_PREFIX):
            sender = KIOSK_PREFIX + sender
        output = message.output_channel
        kb = _knowledge(message.text, metadata)
        if not await LIMITS.allow(sender, client):
            logger.warning("Rate limit reached; the message was not processed.")
            reply = replies.simple(kb, "fallback", "rate_limited", reason="rate_limited") if kb else _last_resort()
            await _send(output, sender, reply)
            return
        prepared = prepare(message.text, metadata.pop("token", None))
        if kb is None and (prepared.empty or prepared.forget):
            await _send(output, sender, _last_resort())
            return
        if prepared.empty:
            await _send(output, sender, replies.simple(kb, "fallback", "empty_message", replies.starter_buttons(kb)))
            return
        if prepared.forget:
            deleted = await forget(sender)
            await _send(output, sender, replies.simple(kb, "chitchat", "forget_me_done", deleted=deleted))
            return
        if prepared.truncated and kb is not None:
            await output.send_response(sender, {"text": kb.message("message_too_long")})
        guard = ContractGuard(output)
        wrapped = UserMessage(
            prepared.text,
            guard,
            sender,
            input_channel=message.input_channel,
            message_id=message.message_id,
            metadata=metadata,
        )
        try:
            await encoder.encode_ahead(wrapped.text)
        except Exception as error:  # the pipeline encodes it itself then
            logger.warning("Could not encode a message ahead (%s).", type(error).__name__)
        try:
            await asyncio.wait_for(on_new_message(wrapped), TURN_TIMEOUT_SECONDS)
        except Exception as error:
            logger.error("A turn failed (%s); the safety net answers it.", type(error).__name__)
        if not guard.kinds:
            logger.warning("No reply by the contract for a turn; the safety net answers it.")
            await _send(output, sender, await safety_net_reply(prepared.text, sender, metadata))

    return handle


def _bad_request(reason: str, status: int = 400) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


def _json_body(request: Request) -> Optional[Dict[str, Any]]:
    try:
        body = request.json
    except Exception:
        return None
    return body if isinstance(body, dict) else None


class GuardedRestInput(RestInput):
    """Rasa's REST channel with the safety net, strict request checks and "forget me".

    `POST /webhooks/rest/webhook` takes `{"sender": id, "message": text, "metadata": {...}}`;
    `POST /webhooks/rest/forget` takes `{"sender": id}` and deletes that conversation.
    A malformed request gets a 4xx with a short reason; the server keeps serving.
    """

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        handle = guarded(on_new_message)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = _json_body(request)
            if body is None:
                return _bad_request("The body must be a JSON object.")
            sender, text = body.get("sender"), body.get("message", "")
            if not valid_sender(sender):
                return _bad_request("'sender' must be 1 to 128 letters, digits or . _ : @ -")
            if text is not None and not isinstance(text, str):
                return _bad_request("'message' must be text.")
            if "metadata" in body and not isinstance(body["metadata"], dict):
                return _bad_request("'metadata' must be an object.")
            collector = _Collector()
            await handle(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=body.get("metadata")),
                client=request.remote_addr or request.ip or "",
            )
            return response.json(collector.messages)

        @webhook.route("/webhook", methods=["GET", "PUT", "DELETE", "PATCH"])
        async def wrong_method(_: Request) -> HTTPResponse:
            return _bad_request("Use POST with a JSON body.", 405)

        @webhook.route("/forget", methods=["POST"])
        async def forget_route(request: Request) -> HTTPResponse:
            body = _json_body(request)
            if body is None or not valid_sender(body.get("sender")):
                return _bad_request('Send {"sender": "..."}.')
            try:
                deleted = await forget(body["sender"])
            except Exception as error:
                logger.error("Could not delete a conversation (%s).", type(error).__name__)
                return _bad_request("The conversation could not be deleted now; please try again.", 503)
            return response.json({"deleted": deleted})

        return webhook


class _Collector(OutputChannel):
    """Collects a turn's messages for the REST response, buttons (with their tokens) as sent."""

    def __init__(self) -> None:
        self.messages: List[Dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "collector"

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        kept = {k: message[k] for k in ("text", "buttons", "custom", "image", "attachment") if message.get(k)}
        if kept:
            self.messages.append({"recipient_id": recipient_id, **kept})


class ContractSocketIOOutput(SocketIOOutput):
    """Sends a `custom` object as `{"custom": {...}}`, the same shape the REST channel uses, and
    every message to the room of the patient's connection, whatever sender id the turn ran under
    (kiosk conversations run as `kiosk:<id>`)."""

    def __init__(self, sio: Any, bot_message_evt: str, room: str, offered: Optional[Dict[str, str]] = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.room = room
        self.offered = offered  # payload -> token of the buttons sent to this session

    async def _send_message(self, socket_id: str, response: Any) -> None:
        await super()._send_message(self.room, response)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        if self.offered is not None:
            self.offered.update({b["payload"]: b["token"] for b in buttons if isinstance(b.get("token"), str)})
        await self._send_message(recipient_id, {"text": text, "buttons": buttons})


def client_address(environ: Dict[str, Any]) -> str:
    """A socket.io client's address, as the REST channel sees it (engine.io's REMOTE_ADDR is
    always 127.0.0.1 under Sanic): the proxy's forwarded address if trusted, else the peer's."""
    request = environ.get("sanic.request")
    return (request.remote_addr or request.ip or "") if request is not None else ""


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (same events, path and options) with the safety net, checked input
    and contract-shaped `custom` messages.

    Rasa 3.6's own handlers are replaced: they crash on a message that is not text, drop a message
    without a session id in silence, and do not await `enter_room`, a coroutine since
    python-socketio 5.10, so with session persistence no reply ever reached the patient.
    """

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        handle = guarded(on_new_message)
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        socket = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        clients: Dict[str, str] = {}  # connection -> client address (for the rate limit)
        sessions: Dict[str, str] = {}  # connection -> the session id it was confirmed
        # session -> payload -> token of the buttons sent to it: a client that sends back only a
        # button's payload (rasa-webchat does) gets the token put back, as our pages send it
        offered: Dict[str, Dict[str, str]] = {}

        @socket.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: Dict[str, Any], auth: Optional[Dict[str, Any]] = None) -> bool:
            if self.jwt_key:
                token = auth.get("token") if isinstance(auth, dict) else None
                if not token or not decode_bearer_token(token, self.jwt_key, self.jwt_algorithm):
                    return False
            clients[sid] = client_address(environ)
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            clients.pop(sid, None)
            sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            wanted = data.get("session_id") if isinstance(data, dict) else None
            # joining a session's room means hearing its replies: only long, unguessable ids are taken
            session_id = wanted if valid_sender(wanted) and len(wanted) >= MIN_SESSION_ID else uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(entered):
                    await entered
                sessions[sid] = session_id
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            data = data if isinstance(data, dict) else {}
            # the session this connection was confirmed, not whatever id a message names; without
            # one the conversation is the connection's own (and so is its room)
            sender = sessions.get(sid, sid)
            text = data.get("message")
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = None
            metadata = metadata if isinstance(metadata, dict) else {}
            if sender not in offered and len(offered) >= MAX_OFFERED_SESSIONS:
                offered.pop(next(iter(offered)))
            buttons = offered.setdefault(sender, {})
            if "token" not in metadata and isinstance(text, str) and text in buttons:
                metadata = {**metadata, "token": buttons[text]}
            message = UserMessage(
                text if isinstance(text, str) else "",
                ContractSocketIOOutput(sio, self.bot_message_evt, room=sender, offered=buttons),
                sender,
                input_channel=self.name(),
                metadata=metadata,
            )
            await handle(message, client=clients.get(sid, ""))

        socket.listener("before_server_stop")(stop_pings)
        return socket


async def stop_pings(*_: Any) -> None:
    """engine.io leaves a ping task asleep for up to 25 s after each connection; cancelled here at
    shutdown, so stopping the server does not log them as destroyed while pending."""
    pings = [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") == "AsyncSocket._send_ping"]
    for task in pings:
        task.cancel()
    await asyncio.gather(*pings, return_exceptions=True)
