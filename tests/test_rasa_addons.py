"""The code that runs inside the Rasa server: the red-flag component and the channel safety net.

The safety net answers from the fixture knowledge file and clinic (tests/fixtures/)."""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.nlu.training_data.message import Message

from rasa_addons import channels
from rasa_addons.channels import ContractGuard, guarded
from rasa_addons.components import RedFlagOverride
from tests.conftest import fixture_locales


@pytest.fixture(autouse=True)
def fixture_knowledge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channels, "_locales", fixture_locales())


def parsed(text: str, intent: str = "serious_risks", confidence: float = 0.9) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}])
    message.set("entities", [{"entity": "symptom", "value": "pain", "start": 0, "end": 4}])
    return message


def test_the_red_flag_component_overrides_the_classifier():
    message = RedFlagOverride().process([parsed("my chest hurts and I can't breathe", "does_it_hurt")])[0]
    assert message.get("intent") == {"name": "urgent", "confidence": 1.0}
    assert message.get("intent_ranking")[0]["name"] == "urgent"
    flags = {e["value"] for e in message.get("entities") if e["entity"] == "red_flag"}
    assert flags == {"chest_pain", "breathing"}
    assert any(e["entity"] == "symptom" for e in message.get("entities"))


def test_the_red_flag_component_leaves_ordinary_questions_alone():
    message = RedFlagOverride().process([parsed("can dry needling cause a collapsed lung?")])[0]
    assert message.get("intent")["name"] == "serious_risks"
    assert not [e for e in message.get("entities") if e["entity"] == "red_flag"]


async def test_the_guard_notes_the_kinds_it_passes_through():
    inner = CollectingOutputChannel()
    guard = ContractGuard(inner)
    await guard.send_response("s", {"text": "hello"})
    await guard.send_response("s", {"custom": {"kind": "greeting", "topic": None}})
    assert guard.kinds == ["greeting"]
    assert inner.messages == [
        {"recipient_id": "s", "text": "hello"},
        {"recipient_id": "s", "custom": {"kind": "greeting", "topic": None}},
    ]
    assert guard.messages is inner.messages


async def test_a_turn_that_raises_still_gets_a_contract_reply(kb):
    async def broken(message: UserMessage) -> None:
        raise ConnectionError("tracker store unavailable")

    collector = CollectingOutputChannel()
    await guarded(broken)(UserMessage("what is dry needling?", collector, "s1"))
    customs = [m["custom"] for m in collector.messages if "custom" in m]
    assert [c["kind"] for c in customs] == ["handoff"]
    assert collector.messages[0]["text"] == kb.message("action_server_down")
    assert kb.clinic.phone in collector.messages[0]["text"]


async def test_a_silent_turn_with_a_red_flag_gets_the_urgent_reply(kb):
    async def silent(message: UserMessage) -> None:
        return None

    collector = CollectingOutputChannel()
    await guarded(silent)(UserMessage("I fainted and my chest hurts", collector, "s2", metadata={"surface": "kiosk"}))
    customs = [m["custom"] for m in collector.messages if "custom" in m]
    assert [c["kind"] for c in customs] == ["urgent"]
    assert kb.clinic.emergency_number in collector.messages[0]["text"]
    assert kb.message("urgent_kiosk") in collector.messages[0]["text"]


async def test_a_turn_that_replied_is_left_alone():
    async def replies(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": "hi"})
        await message.output_channel.send_response(message.sender_id, {"custom": {"kind": "greeting", "topic": None}})

    collector = CollectingOutputChannel()
    await guarded(replies)(UserMessage("hi", collector, "s3"))
    assert [m.get("custom", {}).get("kind") for m in collector.messages] == [None, "greeting"]


async def test_one_client_address_over_its_limit_gets_a_friendly_reply(monkeypatch, kb):
    from rasa_addons.rate_limits import RateLimits

    monkeypatch.setattr(channels, "LIMITS", RateLimits(per_sender=30, per_client=2))
    handled = []

    async def rasa(message: UserMessage) -> None:
        handled.append(message.sender_id)
        await message.output_channel.send_response(message.sender_id, {"custom": {"kind": "greeting"}})

    handle = guarded(rasa)
    kinds = []
    for number in range(3):
        collector = CollectingOutputChannel()
        await handle(UserMessage("hello", collector, f"patient-{number}"), client="203.0.113.9")
        kinds.append(next(m["custom"] for m in collector.messages if "custom" in m))
    assert handled == ["patient-0", "patient-1"]
    assert kinds[2]["kind"] == "fallback" and kinds[2]["reason"] == "rate_limited"
    collector = CollectingOutputChannel()
    await handle(UserMessage("hello", collector, "patient-9"), client="198.51.100.7")
    assert handled[-1] == "patient-9"
