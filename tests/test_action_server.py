"""Contract tests of the action server through rasa-sdk's own app and Sanic's test client.

The action answers from the fixture knowledge file and clinic (tests/fixtures/)."""

from __future__ import annotations

import pytest
import yaml
from rasa_sdk.endpoint import create_app

from tests.conftest import ROOT, fixture_locales


@pytest.fixture(scope="module")
def client():
    from actions import actions

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(actions, "LOCALES", fixture_locales())
        yield create_app("actions").test_client


def domain_actions() -> set:
    names = set()
    for file in (ROOT / "bot" / "domain").glob("*.yml"):
        names.update(yaml.safe_load(file.read_text()).get("actions") or [])
    return names


def webhook_body(intent: str, text: str, entities=None, events=None, metadata=None) -> dict:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "metadata": metadata or {},
    }
    return {
        "next_action": "action_respond",
        "sender_id": "contract-test",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "contract-test",
            "slots": {},
            "latest_message": latest,
            "events": events or [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_health(client):
    _, response = client.get("/health")
    assert response.status == 200
    assert response.json == {"status": "ok"}


def test_registered_actions_match_the_domain(client):
    _, response = client.get("/actions")
    assert {a["name"] for a in response.json} == domain_actions()


def test_answer_by_the_contract(client, kb):
    _, response = client.post("/webhook", json=webhook_body("what_is_dry_needling", "what is dry needling?"))
    assert response.status == 200
    messages = response.json["responses"]
    customs = [m["custom"] for m in messages if m.get("custom")]
    assert len(customs) == 1
    assert customs[0]["kind"] == "answer"
    assert customs[0]["topic"] == "what_is_dry_needling"
    assert customs[0]["sources"]
    assert messages[0]["text"] == kb.fill(kb.entry("what_is_dry_needling").answer)


def test_urgent_by_the_contract(client, kb):
    body = webhook_body("urgent", "my chest hurts", entities=[{"entity": "red_flag", "value": "chest_pain"}])
    _, response = client.post("/webhook", json=body)
    customs = [m["custom"] for m in response.json["responses"] if m.get("custom")]
    assert [c["kind"] for c in customs] == ["urgent"]
    assert customs[0]["call"] == kb.clinic.emergency_number
    assert response.json["responses"][0]["text"] == kb.message("urgent")


def test_kiosk_urgent_sends_the_patient_to_the_front_desk(client, kb):
    body = webhook_body("urgent", "i fainted", metadata={"surface": "kiosk"})
    _, response = client.post("/webhook", json=body)
    assert kb.message("urgent_kiosk") in response.json["responses"][0]["text"]


def test_unknown_action_is_refused(client):
    body = webhook_body("greet", "hi")
    body["next_action"] = "action_does_not_exist"
    _, response = client.post("/webhook", json=body)
    assert response.status == 404
