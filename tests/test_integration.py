"""The whole bot: the real action server, Rasa server and web server, talking over HTTP.

The servers answer from the knowledge file they read and the fixture clinic (`stack_kb`)."""

from __future__ import annotations

import pytest
import requests

from needlewise.knowledge import load_clinic
from tests.conftest import FIXTURE_CLINIC, new_sender, one_custom, rest_turn


def test_what_is_dry_needling_over_rest(stack, stack_kb):
    status, messages = rest_turn(stack, new_sender(), "what is dry needling?")
    assert status == 200
    custom = one_custom(messages)
    assert custom["kind"] == "answer"
    assert custom["topic"] == "what_is_dry_needling"
    assert custom["sources"] and custom["evidence"]["level"]
    assert messages[0]["text"] == stack_kb.fill(stack_kb.entry("what_is_dry_needling").answer)


def test_greeting_then_goodbye(stack, stack_kb):
    who = new_sender()
    _, hello = rest_turn(stack, who, "hello there")
    assert one_custom(hello)["kind"] == "greeting"
    assert stack_kb.clinic.emergency_number in hello[0]["text"]
    _, bye = rest_turn(stack, who, "bye")
    assert one_custom(bye)["kind"] == "goodbye"


def test_follow_up_resolves_against_the_last_topic(stack, stack_kb):
    who = new_sender()
    rest_turn(stack, who, "what is dry needling?")
    _, more = rest_turn(stack, who, "/followup_more")
    custom = one_custom(more)
    assert custom["topic"] == "what_is_dry_needling"
    assert more[0]["text"] == stack_kb.fill(stack_kb.entry("what_is_dry_needling").detail)


def test_a_reported_emergency_gets_the_urgent_reply(stack, stack_kb):
    _, messages = rest_turn(stack, new_sender(), "my chest hurts and i cant breathe properly")
    custom = one_custom(messages)
    assert custom["kind"] == "urgent"
    assert stack_kb.clinic.emergency_number in messages[0]["text"]


@pytest.mark.parametrize(
    "text",
    [
        "can dry needling cause a collapsed lung?",
        "I fainted once as a teenager at the dentist, does that matter for DN?",
    ],
)
def test_an_ordinary_question_with_alarming_words_is_not_urgent(stack, text):
    _, messages = rest_turn(stack, new_sender(), text)
    assert one_custom(messages)["kind"] != "urgent"


def test_a_question_in_a_language_not_served_says_which_languages_are_with_the_phone(stack, stack_kb):
    _, messages = rest_turn(stack, new_sender(), "¿cuánto cuesta una sesión de punción seca para el cuello?")
    custom = one_custom(messages)
    assert (custom["kind"], custom["topic"], custom["reason"], custom["language"], custom["lang"]) == (
        "fallback",
        None,
        "other_language",
        "es",
        "en",
    )
    assert messages[0]["text"] == stack_kb.message("other_language")


@pytest.mark.parametrize(
    "text, tag",
    [
        ("oi, quanto custa uma sessão de agulhamento seco no pescoço?", "pt-BR"),
        ("كم سعر جلسة الإبر الجافة للرقبة؟", "ar"),
    ],
)
def test_a_question_in_portuguese_or_arabic_is_answered_in_that_language(stack, stack_locales, text, tag):
    sender = new_sender()
    _, messages = rest_turn(stack, sender, text)
    custom = one_custom(messages)
    assert (custom["kind"], custom["topic"], custom["lang"]) == ("answer", "cost", tag)
    kb = stack_locales.get(tag).knowledge_base()
    assert messages[0]["text"] == kb.fill(kb.entry("cost").answer)
    # a short reply keeps the conversation's language
    _, messages = rest_turn(stack, sender, "ok")
    assert one_custom(messages)["lang"] == tag


@pytest.mark.parametrize(
    "text, tag",
    [("estou com muita falta de ar e dor no peito agora", "pt-BR"), ("ما اقدر اتنفس وصدري يوجعني الحين", "ar")],
)
def test_an_emergency_in_portuguese_or_arabic_gets_the_urgent_reply_in_that_language(stack, stack_locales, text, tag):
    _, messages = rest_turn(stack, new_sender(), text)
    custom = one_custom(messages)
    assert (custom["kind"], custom["lang"]) == ("urgent", tag)
    assert messages[0]["text"] == stack_locales.get(tag).knowledge_base().message("urgent")


def test_someone_who_wants_a_person_gets_the_front_desk(stack, stack_kb):
    _, messages = rest_turn(stack, new_sender(), "this bot is useless, can a real person call me back please")
    assert one_custom(messages)["kind"] == "handoff"
    assert stack_kb.clinic.phone in messages[0]["text"] and stack_kb.clinic.hours in messages[0]["text"]


def test_the_web_server_serves_the_clinic_page(stack):
    response = requests.get(f"{stack.config.web_url}/", timeout=10)
    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    config = requests.get(f"{stack.config.web_url}/config.json", timeout=10)
    # no internal address: the pages call the bot on their own origin, which forwards to Rasa
    assert config.json()["rasaUrl"] == ""
    assert "127.0.0.1" not in config.text


def test_the_servers_use_the_clinic_file_they_are_given(stack, stack_kb):
    """CLINIC_FILE reaches every server: the test stack runs with the fixture clinic, not the shipped one."""
    assert stack_kb.clinic == load_clinic(FIXTURE_CLINIC)
    clinic = stack_kb.clinic
    config = requests.get(f"{stack.config.web_url}/config.json", timeout=10).json()
    assert config["clinic"] == {
        "name": clinic.name,
        "phone": clinic.phone,
        "emergencyNumber": clinic.emergency_number,
        "crisisLine": clinic.crisis_line,
        "frontDesk": clinic.front_desk,
        "bookingUrl": clinic.booking_url,
    }
    _, booking = rest_turn(stack, new_sender(), "/booking")
    assert one_custom(booking)["sources"][0]["url"] == clinic.booking_url
    assert booking[0]["text"] == stack_kb.fill(stack_kb.entry("booking").answer)


def test_every_turn_is_answered_while_the_action_server_is_down(stack, stack_kb):
    """Stops the real action server: urgent replies still work, other turns hand off; then it recovers."""
    stack.stop_one("actions")
    try:
        _, urgent = rest_turn(stack, new_sender(), "i fainted after my session and feel awful")
        assert one_custom(urgent)["kind"] == "urgent"
        assert stack_kb.clinic.emergency_number in urgent[0]["text"]
        _, spanish = rest_turn(stack, new_sender(), "me duele mucho el pecho y no puedo respirar")
        assert one_custom(spanish)["kind"] == "urgent"
        _, crisis = rest_turn(stack, new_sender(), "i want to kill myself")
        crisis_custom = one_custom(crisis)
        assert crisis_custom["kind"] == "urgent" and crisis_custom["crisis_line"] == stack_kb.clinic.crisis_line
        _, other = rest_turn(stack, new_sender(), "what is dry needling?")
        custom = one_custom(other)
        assert custom["kind"] == "handoff"
        assert stack_kb.clinic.phone in other[0]["text"]
    finally:
        stack.start_one("actions")
        stack.wait_ready(["actions"])
    _, back = rest_turn(stack, new_sender(), "what is dry needling?")
    assert one_custom(back)["topic"] == "what_is_dry_needling"


def story_turns() -> list:
    """(story name, [(user text, expected kind), ...]) from the Rasa test stories."""
    from pathlib import Path

    import yaml

    from needlewise.dialogue import kind_of
    from needlewise.knowledge import load_topic_spec

    topics = load_topic_spec()
    stories = []
    for file in sorted((Path(__file__).parent / "stories").glob("*.yml")):
        for story in yaml.safe_load(file.read_text())["stories"]:
            turns = [
                (step["user"].strip(), kind_of(step["intent"], topics)) for step in story["steps"] if "user" in step
            ]
            stories.append((story["story"], turns))
    return stories


@pytest.mark.parametrize(("name", "turns"), story_turns(), ids=[s[0] for s in story_turns()])
def test_every_turn_of_every_test_story_carries_one_custom_of_the_right_kind(stack, name, turns):
    who = new_sender()
    previous = None
    for text, kind in turns:
        status, messages = rest_turn(stack, who, text)
        assert status == 200
        # a fallback right after a fallback hands off to the front desk, by design
        expected = "handoff" if kind == "fallback" and previous == "fallback" else kind
        got = one_custom(messages)["kind"]
        assert got == expected, (text, got)
        previous = got
        assert any(m.get("text") for m in messages), f"no words for {text!r}"


# --- the pages' own origin: the web server forwards the REST channel, and reports every part -------------


def test_the_web_server_forwards_turns_and_forget_me_to_rasa(stack, stack_kb):
    sender = new_sender("proxy")
    base = f"{stack.config.web_url}/webhooks/rest"
    reply = requests.post(f"{base}/webhook", json={"sender": sender, "message": "what is dry needling?"}, timeout=30)
    assert reply.status_code == 200
    assert one_custom(reply.json())["topic"] == "what_is_dry_needling"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    bad = requests.post(f"{base}/webhook", data="not json", timeout=30)
    assert bad.status_code == 400 and "error" in bad.json()  # Rasa's own answer, passed on
    forgot = requests.post(f"{base}/forget", json={"sender": sender}, timeout=30)
    assert forgot.status_code == 200 and forgot.json() == {"deleted": True}
    assert requests.post(f"{base}/elsewhere", json={}, timeout=30).status_code == 404


def test_the_clinics_site_may_send_turns_from_the_browser(stack):
    """A preflight from the allowed clinic site is answered; from another site it gets no CORS grant."""
    url = f"{stack.config.web_url}/webhooks/rest/webhook"
    asks = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = requests.options(url, headers={"Origin": stack.clinic_site, **asks}, timeout=10)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == stack.clinic_site
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    other = requests.options(url, headers={"Origin": "http://elsewhere.example", **asks}, timeout=10)
    assert "Access-Control-Allow-Origin" not in other.headers


def test_health_reports_every_part_of_make_run(stack):
    response = requests.get(f"{stack.config.web_url}/health", timeout=10)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    parts = response.json()["components"]
    assert set(parts) == {"knowledge", "rasa", "actions", "tracker_store", "lock_store"}
    assert all(part["ok"] for part in parts.values()), parts
    assert parts["tracker_store"]["state"] == "sqlite" and "memory" in parts["lock_store"]["state"]
