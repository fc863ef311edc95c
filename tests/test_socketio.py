"""The socket.io channel on the real servers, over a real websocket: the same contract and
safety net as the REST channel (../shared/spec/reply_contract.md)."""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, List

import pytest
import socketio

from tests.conftest import contract_customs, log_path

TIMEOUT = 20.0


def in_order(eio: Any) -> None:
    """python-engineio's client hands each incoming message to a new thread, so under load the
    test could see a turn's messages out of the order the server sent them in. Handle them one at
    a time, on the reading thread, so the order checks below read the server's order."""
    trigger = eio._trigger_event

    def one_at_a_time(event: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["run_async"] = False
        return trigger(event, *args, **kwargs)

    eio._trigger_event = one_at_a_time


class Patient:
    """One socket.io connection with a persistent session, as a web client would open it."""

    def __init__(self, url: str, session_id: Any = "") -> None:
        self.client = socketio.SimpleClient()
        self.client.connect(url, socketio_path="/socket.io", transports=["websocket"], wait_timeout=TIMEOUT)
        in_order(self.client.client.eio)
        self.client.emit("session_request", {"session_id": session_id or f"sio-{uuid.uuid4().hex[:12]}"})
        event, self.session_id = self.client.receive(timeout=TIMEOUT)
        assert event == "session_confirm"

    def say(self, message: Any = None, **data: Any) -> List[Dict[str, Any]]:
        """Sends one turn; returns the `bot_uttered` messages up to the one `custom` that ends it."""
        payload = {"session_id": self.session_id, **data}
        if message is not None:
            payload["message"] = message
        self.client.emit("user_uttered", payload)
        messages: List[Dict[str, Any]] = []
        while not any("custom" in m for m in messages):
            event, body = self.client.receive(timeout=TIMEOUT)
            assert event == "bot_uttered"
            messages.append(body)
        with pytest.raises(socketio.exceptions.TimeoutError):  # nothing after the turn's one `custom`
            self.client.receive(timeout=0.3)
        return messages

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def patient(stack):
    opened = Patient(stack.config.rasa_url)
    yield opened
    opened.close()


def test_a_question_gets_the_answer_and_one_contract_object(patient, stack_kb):
    reply = patient.say("what is dry needling?")
    (custom,) = contract_customs(reply)
    assert custom["kind"] == "answer" and custom["topic"] == "what_is_dry_needling"
    assert custom["sources"] and custom["review"] == stack_kb.entry("what_is_dry_needling").review.payload()
    assert reply[0]["text"] == stack_kb.fill(stack_kb.entry("what_is_dry_needling").answer)


def test_an_emergency_gets_the_urgent_reply(patient):
    reply = patient.say("I suddenly can't breathe properly after the needling")
    assert [c["kind"] for c in contract_customs(reply)] == ["urgent"]


def test_a_pressed_button_works_with_its_signed_token(patient):
    greeting = patient.say("hello")
    buttons = [b for m in greeting for b in m.get("buttons") or []]
    assert buttons and all(b.get("token") for b in buttons)
    button = next(b for b in buttons if b["payload"] == "/does_it_work")
    (custom,) = contract_customs(patient.say(button["payload"], metadata={"token": button["token"]}))
    assert custom["kind"] == "answer" and custom["topic"] == "does_it_work"


def test_a_follow_up_uses_the_same_conversation(patient):
    patient.say("what are the common side effects?")
    (custom,) = contract_customs(patient.say("how long does that last?"))
    assert custom["kind"] == "answer" and custom["topic"] == "soreness_duration"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"message": 123}, "fallback"),
        ({"message": None}, "fallback"),
        ({"message": ""}, "fallback"),
        ({"message": ["what", "is", "it"]}, "fallback"),
        ({"message": "\x00\x01\x02"}, "fallback"),
        ({"message": "does it hurt?", "metadata": "{not json"}, "answer"),
        ({"message": "does it hurt?", "metadata": [1, 2]}, "answer"),
    ],
)
def test_odd_messages_get_a_friendly_reply(patient, data, kind):
    assert [c["kind"] for c in contract_customs(patient.say(**data))] == [kind]


def test_a_message_is_answered_in_the_session_its_connection_was_given(patient):
    patient.session_id = None  # a message that names no session, or another one, changes nothing
    (custom,) = contract_customs(patient.say("does dry needling hurt?"))
    assert custom["kind"] == "answer"
    patient.session_id = "someone-elses-session-id"
    (custom,) = contract_customs(patient.say("how long does that last?"))
    assert custom["kind"] == "answer" and custom["topic"] == "soreness_duration"  # the same conversation


def test_a_kiosk_conversation_over_socketio_gets_its_replies(patient):
    """Kiosk turns run under a `kiosk:` sender id; the replies still reach the connection."""
    reply = patient.say("I have chest pain and feel faint", metadata={"surface": "kiosk"})
    assert [c["kind"] for c in contract_customs(reply)] == ["urgent"]


def test_a_closed_websocket_leaves_no_error_in_the_log(stack):
    log = log_path(stack, "rasa")
    before = log.read_text(errors="replace")
    opened = Patient(stack.config.rasa_url)
    opened.say("hi")
    opened.close()
    Patient(stack.config.rasa_url).close()
    time.sleep(2)  # the server notices the closed sockets within milliseconds; give it ample time
    after = log.read_text(errors="replace")[len(before) :]
    assert "Invalid response type" not in after and "Traceback" not in after


def test_a_short_guessable_session_id_is_replaced_by_a_random_one(stack):
    opened = Patient(stack.config.rasa_url, session_id="patient-1")
    try:
        assert opened.session_id != "patient-1" and len(opened.session_id) >= 16
        (custom,) = contract_customs(opened.say("does dry needling hurt?"))
        assert custom["kind"] == "answer"
    finally:
        opened.close()


def test_the_address_limit_sees_each_clients_own_address():
    """engine.io reports 127.0.0.1 for every socket.io client; the limit needs the real address."""
    from types import SimpleNamespace

    from rasa_addons.channels import client_address

    environ = {"REMOTE_ADDR": "127.0.0.1", "sanic.request": SimpleNamespace(remote_addr="", ip="203.0.113.9")}
    assert client_address(environ) == "203.0.113.9"
    environ["sanic.request"] = SimpleNamespace(remote_addr="198.51.100.7", ip="10.0.0.2")  # behind a proxy
    assert client_address(environ) == "198.51.100.7"
    assert client_address({}) == ""


async def test_shutdown_cancels_engineio_pings_and_nothing_else():
    import asyncio
    from types import SimpleNamespace

    from engineio.async_socket import AsyncSocket

    from rasa_addons.channels import stop_pings

    socket = AsyncSocket.__new__(AsyncSocket)
    socket.server, socket.closing, socket.closed = SimpleNamespace(ping_interval=25), False, True
    ping = asyncio.create_task(socket._send_ping())
    other = asyncio.create_task(asyncio.sleep(25))
    await asyncio.sleep(0)
    await stop_pings()
    assert ping.cancelled()
    assert not other.done()
    other.cancel()
