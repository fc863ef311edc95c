"""The report benchmark's generator (tools/bench_report.py) and the staff report (needlewise/report.py) agree.

A small year (2,000 turns) of the fixture clinic is generated into a fresh SQLite tracker store;
`build` must count exactly what was generated. The timing is `make bench-report`'s business, not
a test's.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from needlewise import settings
from needlewise.inputs import redact
from needlewise.report import build, count_rows
from tests.conftest import load_fixture_kb
from tools import bench_report
from tools.bench_report import Generated, generate

TURNS = 2_000
NOW = time.time()


@pytest.fixture(scope="module")
def kb():
    return load_fixture_kb()


@pytest.fixture()
def year(tmp_path: Path, kb):
    """(store URL, what was generated): TURNS turns over the 365 days before NOW."""
    path = tmp_path / "conversations.db"
    made = generate(path, TURNS, kb, now=NOW, seed=7)
    return f"sqlite:///{path}", made


def report(year, kb, min_count: int = 2) -> dict:
    url, _ = year
    return build(url, kb, 365, min_count, now=NOW)


def test_the_generator_writes_the_turns_asked_for_in_conversations_of_3_to_8_turns(year):
    url, made = year
    assert made.turns == TURNS
    with sqlite3.connect(url[len("sqlite:///") :]) as connection:
        per_sender = Counter(
            sender for (sender,) in connection.execute("SELECT sender_id FROM events WHERE type_name = 'user'")
        )
        (events,) = connection.execute("SELECT count(*) FROM events").fetchone()
    assert sum(per_sender.values()) == TURNS
    assert len(per_sender) == made.conversations
    lengths = sorted(per_sender.values())
    assert lengths[-1] <= 8 and lengths[1] >= 3  # the last conversation may be cut short to make TURNS
    assert 4.5 <= TURNS / made.conversations <= 5.5
    assert events == made.events == count_rows(url, 365, now=NOW)


def test_the_mix_of_turns_is_a_clinics(year):
    _, made = year
    share = {kind: count / made.turns for kind, count in made.kinds.items()}
    assert 0.64 <= share["answer"] <= 0.76
    assert 0.07 <= share["feedback"] <= 0.13
    assert 0.05 <= share["fallback"] + share["out_of_scope"] <= 0.11
    assert 0.01 <= share["handoff"] <= 0.04
    assert 0.002 <= share["urgent"] <= 0.025
    assert 0.14 <= made.surface_turns["kiosk"] / made.turns <= 0.26
    assert len(made.asked) >= 10  # most of the fixture's 14 topics are asked


def test_the_report_counts_exactly_the_generated_turns_conversations_and_replies(year, kb):
    _, made = year
    totals = report(year, kb)["totals"]
    assert totals == made.expected_totals()
    assert totals["turns"] == TURNS
    assert totals["conversations"] == made.conversations


def test_the_report_counts_the_answers_and_the_feedback_of_each_topic(year, kb):
    _, made = year
    topics = {row["topic"]: row for row in report(year, kb)["topics"]}
    assert set(topics) == set(made.asked) | set(made.helpful) | set(made.not_helpful)
    for topic, row in topics.items():
        assert (row["asked"], row["helpful"], row["not_helpful"]) == (
            made.asked[topic],
            made.helpful[topic],
            made.not_helpful[topic],
        ), topic
    assert sum(made.helpful.values()) > sum(made.not_helpful.values()) > 0


def test_the_report_counts_each_day_by_surface(year, kb):
    _, made = year
    result = report(year, kb)
    listed = {row["date"] for row in result["daily"]}
    for row in result["daily"]:
        day = row["date"]
        expected = {
            "widget_turns": made.daily.get(day, Counter())["widget_turns"],
            "kiosk_turns": made.daily.get(day, Counter())["kiosk_turns"],
            "widget_conversations": len(made.daily_senders.get((day, "widget"), ())),
            "kiosk_conversations": len(made.daily_senders.get((day, "kiosk"), ())),
            "urgent": made.daily.get(day, Counter())["urgent"],
            "handoff": made.daily.get(day, Counter())["handoff"],
        }
        assert {key: row[key] for key in expected} == expected, day
    # what the daily rows leave out can only be the start of the range, before its first listed day
    assert all(day < result["from"] for day in set(made.daily) - listed)


def wordings_by_group(result: dict) -> list:
    return [[group["question"], *group["other_wordings"]] for group in result["unanswered"]["shown"]]


def test_the_unanswered_questions_are_all_counted_and_near_duplicates_grouped(year, kb):
    _, made = year
    result = report(year, kb, min_count=1)
    shown = result["unanswered"]["shown"]
    assert result["unanswered"]["hidden_groups"] == result["unanswered"]["hidden_questions"] == 0
    assert sum(group["times"] for group in shown) == len(made.unanswered) == result["totals"]["unanswered"]
    asked = {text for text, _ in made.unanswered}
    assert len(shown) < len(asked)  # near-duplicates share a group
    senders_of = defaultdict(set)
    times_of = Counter()
    for text, sender in made.unanswered:
        senders_of[text].add(sender)
        times_of[text] += 1
    for wordings in wordings_by_group(result):
        assert set(wordings) <= asked
    for group, wordings in zip(shown, wordings_by_group(result), strict=True):
        if len(wordings) < 5:  # every wording of the group is listed: its counts can be checked
            assert group["times"] == sum(times_of[w] for w in wordings)
            assert group["conversations"] == len(set().union(*(senders_of[w] for w in wordings)))


@pytest.mark.parametrize("min_count", [2, 3, 6])
def test_a_question_group_from_fewer_than_min_count_conversations_is_counted_but_not_shown(year, kb, min_count):
    _, made = year
    everything = report(year, kb, min_count=1)["unanswered"]["shown"]
    result = report(year, kb, min_count=min_count)["unanswered"]
    assert all(group["conversations"] >= min_count for group in result["shown"])
    below = [group for group in everything if group["conversations"] < min_count]
    assert below, "the generated tail has groups below min_count"
    assert result["shown"] == [group for group in everything if group["conversations"] >= min_count]
    assert result["hidden_groups"] == len(below)
    assert result["hidden_questions"] == sum(group["times"] for group in below)
    assert sum(group["times"] for group in result["shown"]) + result["hidden_questions"] == len(made.unanswered)


def test_no_sender_id_and_no_urgent_text_reach_the_report(year, kb):
    _, made = year
    text = json.dumps(report(year, kb, min_count=1))
    assert made.kinds["urgent"] > 0
    for _, _, words in bench_report.URGENT_TURNS:
        assert words not in text
    assert not [sender for sender in made.senders if sender in text]


def test_the_stored_questions_are_already_redacted_as_storage_holds_them():
    """So the report (which redacts again) shows them as generated: the counts above can be compared."""
    questions = bench_report.unanswered_questions()
    assert 250 <= len({text for _, text in questions}) <= 350
    assert any("[phone]" in text for _, text in questions) and any("[email]" in text for _, text in questions)
    assert [text for _, text in questions if redact(text) != text] == []


def test_the_events_table_is_the_one_rasas_tracker_store_creates(tmp_path, monkeypatch):
    path = tmp_path / "rasa" / "conversations.db"
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{path}")
    settings.current.cache_clear()
    from rasa_addons.tracker_store import NeedlewiseTrackerStore

    NeedlewiseTrackerStore()
    with sqlite3.connect(path) as connection:
        rasa = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'events'").fetchall())
    assert rasa == {"events": bench_report.EVENTS_DDL, "ix_events_sender_id": bench_report.EVENTS_INDEX}


def test_a_turn_is_stored_as_the_bot_stores_it(year):
    url, _ = year
    with sqlite3.connect(url[len("sqlite:///") :]) as connection:
        sender = connection.execute("SELECT sender_id FROM events ORDER BY id LIMIT 1").fetchone()[0]
        rows = connection.execute(
            "SELECT type_name, action_name, intent_name, timestamp, data FROM events WHERE sender_id = ? ORDER BY id",
            (sender,),
        ).fetchall()
    assert [(t, a) for t, a, *_ in rows[:5]] == [
        ("slot", "session_started_metadata"),
        ("action", "action_session_start"),
        ("session_started", None),
        ("action", "action_listen"),
        ("user", None),
    ]
    for type_name, _, intent, stamp, data in rows:
        event = json.loads(data)
        assert event["event"] == type_name and event["timestamp"] == stamp
        if type_name == "user":
            assert event["parse_data"]["intent"]["name"] == intent
            assert event["metadata"]["surface"] in ("web", "kiosk")
    customs = [json.loads(d)["data"]["custom"] for t, *_, d in rows if t == "bot" and json.loads(d)["data"]["custom"]]
    assert len(customs) == sum(1 for t, *_ in rows if t == "user")  # exactly one `custom` a turn
    assert rows[-1][:2] == ("action", "action_listen")


def test_the_same_seed_writes_the_same_year(tmp_path, kb):
    first = generate(tmp_path / "a.db", 300, kb, now=NOW, seed=3)
    second = generate(tmp_path / "b.db", 300, kb, now=NOW, seed=3)
    assert first.expected_totals() == second.expected_totals() and first.asked == second.asked


def test_the_benchmark_checks_the_counts_and_writes_its_result(tmp_path, kb, capsys):
    out = tmp_path / "bench_report.json"
    result = bench_report.run(400, tmp_path / "kept.db", out, kb=kb)
    assert (tmp_path / "kept.db").exists()
    written = json.loads(out.read_text())
    assert written == result
    assert written["turns"] == written["report_turns"] == 400
    assert written["conversations"] == written["report_conversations"]
    assert written["counts_match"] and written["passed"] and written["target_seconds"] == 60
    assert {"date", "events", "seconds_build", "seconds_total"} <= set(written)
    assert "PASSED" in capsys.readouterr().out


def test_the_benchmark_fails_on_a_wrong_count(year, kb):
    _, made = year
    wrong = Generated(**{**made.__dict__, "turns": made.turns + 1})
    assert bench_report.check(report(year, kb), wrong) == [
        f"totals.turns: the report says {TURNS}, generated {TURNS + 1}"
    ]


def test_the_benchmark_exits_1_when_the_report_is_slower_than_the_target(tmp_path, monkeypatch, capsys):
    from tests.conftest import fixture_store

    monkeypatch.setattr("needlewise.knowledge.KnowledgeStore", fixture_store)
    out = tmp_path / "bench_report.json"
    assert bench_report.main(["--turns", "200", "--out", str(out), "--warm"]) == 0
    monkeypatch.setattr(bench_report, "TARGET_SECONDS", 0.0)
    assert bench_report.main(["--turns", "200", "--out", str(out)]) == 1
    written = json.loads(out.read_text())
    assert written["counts_match"] and not written["passed"]
    assert "FAILED" in capsys.readouterr().out
