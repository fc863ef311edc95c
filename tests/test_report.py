"""The staff report (needlewise/report.py, `make report`, `/staff/`) on a store filled by the real bot:
conversations driven through the REST channel, feedback clicks with the buttons' own tokens,
questions it could not answer, a phone number and an e-mail address in a question."""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path
from typing import Dict

import pytest
import requests

from needlewise.report import REVIEW_AGE_DAYS, QuestionGroups, build, reviews
from needlewise.report_html import render
from servers.stack import Stack, StackConfig
from tests.conftest import STAFF_TOKEN, contract_customs, new_sender, stack_env
from tools import report as report_tool

UNANSWERED = ("fallback", "out_of_scope")
#: Questions the bot should not be able to answer; each is asked by the number of conversations given.
#: What it actually did decides what the report must hold: the test reads each reply's kind.
ODD_QUESTIONS = {
    "who won the football last night 07700 900123": 3,
    "my cat is sick what should i feed her, my email is sam.jones@example.com": 2,
    "glorp blat zzkt": 2,
    "is there a wifi password for the waiting room": 1,  # rare: counted, never shown
}
SECRETS = ("07700 900123", "sam.jones@example.com")


@pytest.fixture(scope="module")
def filled(model_path: Path, tmp_path_factory):
    """A stack of its own (its own SQLite store), and the conversations sent to it."""
    database = tmp_path_factory.mktemp("report") / "conversations.db"
    config = StackConfig.free(
        model=model_path,
        log_dir=tmp_path_factory.mktemp("report-logs"),
        extra_env=stack_env(TRACKER_STORE_URL=f"sqlite:///{database}", STAFF_TOKEN=STAFF_TOKEN),
    )
    sent: Dict[str, object] = {"turns": 0, "senders": set(), "kinds": [], "unanswered": {}, "feedback": []}

    with Stack(config) as stack:

        def say(sender: str, text: str, token: str = "", surface: str = "web") -> list:
            body = {"sender": sender, "message": text, "metadata": {"surface": surface}}
            if token:
                body["metadata"]["token"] = token
            reply = requests.post(f"{config.web_url}/webhooks/rest/webhook", json=body, timeout=60)
            assert reply.status_code == 200
            messages = reply.json()
            sent["turns"] += 1
            sent["senders"].add(sender if surface == "web" else f"kiosk:{sender}")
            kind = contract_customs(messages)[0]["kind"]
            sent["kinds"].append(kind)
            return messages

        def click(sender: str, messages: list, payload: str, surface: str = "web") -> list:
            button = next(b for m in messages for b in m.get("buttons", []) if b["payload"] == payload)
            return say(sender, payload, button["token"], surface)

        for helpful in ("/feedback_helpful", "/feedback_helpful", "/feedback_not_helpful"):
            sender = new_sender("rep")
            answer = say(sender, "what is dry needling?")
            click(sender, answer, helpful)
        sender = new_sender("rep")
        click(sender, say(sender, "does it hurt?"), "/feedback_not_helpful")
        kiosk = new_sender("rep-kiosk")
        say(kiosk, "is dry needling safe?", surface="kiosk")
        for question, conversations in ODD_QUESTIONS.items():
            for _ in range(conversations):
                kind = contract_customs(say(new_sender("rep"), question))[0]["kind"]
                sent["unanswered"].setdefault(question, []).append(kind)
        say(new_sender("rep"), "my chest hurts and i cant breathe")  # urgent: counted, its words never shown
        yield stack, database, sent


def test_make_report_counts_what_was_sent(filled, tmp_path):
    _, database, sent = filled
    out = tmp_path / "report"
    assert report_tool.main(["--store", f"sqlite:///{database}", "--out", str(out), "--min-count", "2"]) == 0
    assert {p.name for p in out.iterdir()} == {
        "index.html",
        "report.json",
        "daily.csv",
        "topics.csv",
        "unanswered.csv",
        "reviews.csv",
    }
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    totals = report["totals"]
    assert totals["turns"] == sent["turns"]
    assert totals["conversations"] == len(sent["senders"])
    assert totals["kiosk_turns"] == 1
    assert totals["urgent"] == sent["kinds"].count("urgent") >= 1
    assert totals["unanswered"] == sum(sent["kinds"].count(k) for k in UNANSWERED)
    topics = {t["topic"]: t for t in report["topics"]}
    assert topics["what_is_dry_needling"]["asked"] == 3
    assert (topics["what_is_dry_needling"]["helpful"], topics["what_is_dry_needling"]["not_helpful"]) == (2, 1)
    assert topics["what_is_dry_needling"]["helpful_rate"] == 0.67
    assert (topics["does_it_hurt"]["helpful"], topics["does_it_hurt"]["not_helpful"]) == (0, 1)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    day = next(d for d in report["daily"] if d["date"] == today)
    assert day["widget_turns"] + day["kiosk_turns"] == sent["turns"]
    assert sum(d["widget_turns"] + d["kiosk_turns"] for d in report["daily"]) == totals["turns"]  # every turn a day
    assert len(report["daily"]) == 30 and report["daily"][-1]["date"] == today
    with (out / "daily.csv").open(encoding="utf-8") as handle:
        assert sum(int(r["widget_turns"]) + int(r["kiosk_turns"]) for r in csv.DictReader(handle)) == sent["turns"]


def test_the_unanswered_questions_are_redacted_grouped_and_rare_ones_hidden(filled, stack_kb):
    _, database, sent = filled
    report = build(f"sqlite:///{database}", stack_kb, range_days=30, min_count=2)
    shown = {g["question"]: g["conversations"] for g in report["unanswered"]["shown"]}
    expected = {
        question: len(kinds)
        for question, kinds in sent["unanswered"].items()
        if len(kinds) >= 2 and all(kind in UNANSWERED for kind in kinds)
    }
    assert expected, f"the bot answered every odd question: {sent['unanswered']}"
    for question, conversations in expected.items():
        redacted = question.replace("07700 900123", "[phone]").replace("sam.jones@example.com", "[email]")
        assert shown.get(redacted) == conversations, (redacted, shown)
    assert any("[phone]" in q for q in shown) and any("[email]" in q for q in shown), shown
    assert "is there a wifi password for the waiting room" not in shown
    rare = [kinds for kinds in sent["unanswered"].values() if len(kinds) < 2]
    assert report["unanswered"]["hidden_questions"] == sum(k in UNANSWERED for kinds in rare for k in kinds)
    everything = json.dumps(report) + render(report)
    for secret in SECRETS:
        assert secret not in everything
    for sender in sent["senders"]:
        assert sender not in everything  # no sender id anywhere
    assert "chest" not in everything  # no urgent text


def test_near_duplicate_questions_are_one_group():
    groups = QuestionGroups()
    for conversation, text in enumerate(
        [
            "Is there parking at the clinic?",
            "is there parking at the clinic",
            "Is there any parking at your clinic??",
            "do you validate parking tickets",
            "What time do you close on Sundays?",
        ]
    ):
        groups.add(text, f"c{conversation}")
    ranked = groups.ranked()
    assert ranked[0]["conversations"] == 3 and "parking" in ranked[0]["question"].lower()
    assert len(ranked) == 3


def test_the_staff_page_needs_its_token(filled):
    stack, _, sent = filled
    base = f"{stack.config.web_url}/staff"
    assert requests.get(f"{base}/report.json", timeout=30).status_code == 401
    wrong = requests.get(f"{base}/report.json", headers={"Authorization": "Bearer not-it"}, timeout=30)
    assert wrong.status_code == 401 and wrong.headers["Cache-Control"] == "no-store"
    assert requests.get(f"{base}/report.json?token={STAFF_TOKEN}", timeout=30).status_code == 401  # never in the URL
    right = requests.get(f"{base}/report.json", headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=60)
    assert right.status_code == 200 and right.headers["Cache-Control"] == "no-store"
    assert right.json()["totals"]["turns"] >= sent["turns"]
    page = requests.get(f"{base}/report.html", headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=60)
    assert page.status_code == 200 and "<svg" in page.text
    sign_in = requests.get(f"{base}/", timeout=30)
    assert sign_in.status_code == 200 and "frame-ancestors 'none'" in sign_in.headers["Content-Security-Policy"]
    for patient_page in ("/", "/kiosk.html", "/widget.js", "/kiosk.js", "/needlewise-client.js"):
        assert "/staff" not in requests.get(f"{stack.config.web_url}{patient_page}", timeout=30).text


def test_an_empty_store_says_there_is_nothing_yet(tmp_path, stack_kb):
    report = build(f"sqlite:///{tmp_path / 'none.db'}", stack_kb, range_days=7, min_count=2)
    assert report["totals"]["turns"] == 0 and report["unanswered"]["shown"] == []
    assert "Nothing yet" in render(report)
    out = tmp_path / "out"
    report_tool.write(report, out)
    assert (out / "index.html").exists() and json.loads((out / "report.json").read_text())["totals"]["turns"] == 0


def test_answers_reviewed_over_a_year_ago_are_listed(kb):
    """On the fixture knowledge file: approved entries with their dates, and one draft."""
    stack_kb = kb
    approved = [e for e in stack_kb.entries.values() if e.review.approved]
    drafts = [e.id for e in stack_kb.entries.values() if not e.review.approved]
    assert approved and drafts
    first = min(e.review.on for e in approved)
    on_time = reviews(stack_kb, first + dt.timedelta(days=REVIEW_AGE_DAYS))
    late = reviews(stack_kb, first + dt.timedelta(days=REVIEW_AGE_DAYS + 1))
    oldest = [e.id for e in approved if e.review.on == first]
    assert not {r["topic"] for r in on_time["older_than_a_year"]} & set(oldest)
    assert set(oldest) <= {r["topic"] for r in late["older_than_a_year"]}
    assert [d["topic"] for d in late["drafts"]] == drafts
