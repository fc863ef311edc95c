"""The shipped content: properties of bot/knowledge/en.yml, bot/clinic.yml and bot/topics.yml.

A clinic edits its answers and its clinic file and then runs `make test`, so these tests check
what any good version of those files has: it loads with the real loader and schema, covers every
topic, cites its sources, reads plainly, and sends patients to the clinic's own numbers. They
never check the wording, the clinic's name or its numbers. The code is tested on the small files
of tests/fixtures/ instead.
"""

from __future__ import annotations

import re
import statistics
from typing import List

import pytest
import yaml

from needlewise.knowledge import (
    ANSWER_WORDS,
    DEFAULT_CLINIC_FILE,
    DEFAULT_KNOWLEDGE_FILE,
    TOPICS_FILE,
    KnowledgeBase,
    count_words,
    load_clinic,
    load_knowledge,
    load_topic_spec,
)
from tests.conftest import SHARED_SPEC
from tools import check_knowledge
from tools.readability import grade

TOPIC_SPEC = load_topic_spec()


def _entry_ids() -> List[str]:
    """The entry ids as written in the shipped file (read without our loader, for parametrising)."""
    try:
        return [entry["id"] for entry in yaml.safe_load(DEFAULT_KNOWLEDGE_FILE.read_text(encoding="utf-8"))["entries"]]
    except Exception:  # a broken file is reported by test_the_shipped_files_load_with_the_real_loader
        return []


ENTRY_IDS = _entry_ids()
#: The clinic facts each message must take from the clinic file, so that a patient is always sent
#: to this clinic's own numbers (the placeholder, not a number typed into the message).
MESSAGES_NAME = {
    "greeting": ["emergency_number"],
    "urgent": ["emergency_number"],
    "urgent_crisis": ["emergency_number", "crisis_line"],
    "urgent_kiosk": ["front_desk"],
    "other_language": ["phone", "emergency_number"],
    "refer_clinician": ["phone"],
    "handoff": ["phone", "hours"],
    "handoff_after_fallbacks": ["phone", "hours"],
    "action_server_down": ["phone", "emergency_number"],
}


@pytest.fixture(scope="module")
def shipped_kb() -> KnowledgeBase:
    """The shipped knowledge file with the shipped clinic file, as the servers load them."""
    return load_knowledge(DEFAULT_KNOWLEDGE_FILE, DEFAULT_CLINIC_FILE)


# --- the files load, and cover the topic spec ------------------------------------------------------


def test_the_shipped_files_load_with_the_real_loader(shipped_kb: KnowledgeBase) -> None:
    assert shipped_kb.source == str(DEFAULT_KNOWLEDGE_FILE)
    assert list(shipped_kb.entries) == ENTRY_IDS


def test_the_clinic_file_is_valid_and_its_numbers_can_be_dialled() -> None:
    clinic = load_clinic(DEFAULT_CLINIC_FILE)
    assert all(value.strip() for value in clinic.dict().values())
    assert clinic.booking_url.startswith(("https://", "http://"))
    for number in (clinic.phone, clinic.emergency_number, clinic.crisis_line):
        assert re.search(r"\d", number), f"{number!r} has no digits to dial"


@pytest.mark.parametrize("topic", list(TOPIC_SPEC))
def test_every_topic_has_an_entry_in_its_category(shipped_kb: KnowledgeBase, topic: str) -> None:
    assert topic in shipped_kb.entries
    assert shipped_kb.entry(topic).category == TOPIC_SPEC[topic]


def test_entry_ids_are_unique_and_are_exactly_the_topics() -> None:
    assert ENTRY_IDS
    assert len(ENTRY_IDS) == len(set(ENTRY_IDS))
    assert set(ENTRY_IDS) == set(TOPIC_SPEC)


def test_topics_file_is_the_shared_spec() -> None:
    shared = SHARED_SPEC / "topics.yml"
    if not shared.exists():
        pytest.skip(f"no shared spec at {shared}")
    assert TOPICS_FILE.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8")


# --- sources and related topics ------------------------------------------------------------------


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
def test_every_entry_cites_its_sources(shipped_kb: KnowledgeBase, entry_id: str) -> None:
    entry = shipped_kb.entry(entry_id)
    assert entry.sources and all(s.title for s in entry.sources)
    if entry.category == "clinic":
        # SCHEMA.md: a clinic entry's source is the clinic's own settings
        assert any(s.url == "{booking_url}" for s in entry.sources), entry_id
    else:
        traceable = [s for s in entry.sources if s.pmid or s.doi or (s.url and s.url.startswith("https://"))]
        assert traceable, f"{entry_id} has no source with a pmid, a doi or an https url"


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
def test_related_topics_are_2_to_4_other_entries(shipped_kb: KnowledgeBase, entry_id: str) -> None:
    related = shipped_kb.entry(entry_id).related
    assert 2 <= len(related) <= 4  # SCHEMA.md: 2 to 4 other topic ids
    assert len(set(related)) == len(related)
    assert entry_id not in related
    assert all(r in shipped_kb.entries for r in related)


# --- plain reading: the limits `make check-knowledge` enforces -------------------------------------


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
def test_answer_reads_within_the_grade_limit(shipped_kb: KnowledgeBase, entry_id: str) -> None:
    assert grade(shipped_kb.fill(shipped_kb.entry(entry_id).answer)) <= check_knowledge.MAX_ANSWER_GRADE


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
def test_detail_reads_within_the_grade_limit(shipped_kb: KnowledgeBase, entry_id: str) -> None:
    detail = shipped_kb.entry(entry_id).detail
    if detail is None:
        pytest.skip("this entry has no detail")
    assert grade(shipped_kb.fill(detail)) <= check_knowledge.MAX_ANSWER_GRADE


def test_the_median_answer_reads_within_the_median_limit(shipped_kb: KnowledgeBase) -> None:
    grades = [grade(shipped_kb.fill(entry.answer)) for entry in shipped_kb.entries.values()]
    assert len(grades) == len(TOPIC_SPEC)
    assert statistics.median(grades) <= check_knowledge.MEDIAN_ANSWER_GRADE


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
def test_answer_length_is_within_the_schema_limits(shipped_kb: KnowledgeBase, entry_id: str) -> None:
    low, high = ANSWER_WORDS
    assert low <= count_words(shipped_kb.fill(shipped_kb.entry(entry_id).answer)) <= high


# --- placeholders and the clinic's numbers ---------------------------------------------------------


@pytest.mark.parametrize("entry_id", ENTRY_IDS)
def test_every_placeholder_of_an_entry_fills(shipped_kb: KnowledgeBase, entry_id: str) -> None:
    entry = shipped_kb.entry(entry_id)
    texts = [entry.title, entry.answer, entry.detail or "", entry.evidence.summary]
    texts += [value for source in entry.sources for value in source.dict().values() if value]
    for text in texts:
        filled = shipped_kb.fill(text)
        assert "{" not in filled and "}" not in filled, filled


def test_every_placeholder_of_the_messages_fills(shipped_kb: KnowledgeBase) -> None:
    assert shipped_kb.messages
    for key in shipped_kb.messages:
        filled = shipped_kb.message(key)
        assert "{" not in filled and "}" not in filled, key


@pytest.mark.parametrize(("key", "facts"), MESSAGES_NAME.items(), ids=list(MESSAGES_NAME))
def test_safety_and_handoff_messages_take_the_clinics_numbers(
    shipped_kb: KnowledgeBase, key: str, facts: List[str]
) -> None:
    for fact in facts:
        assert "{" + fact + "}" in shipped_kb.messages[key], f"messages.{key} must say {{{fact}}}"


def test_the_booking_answer_says_how_to_reach_the_clinic(shipped_kb: KnowledgeBase) -> None:
    answer = shipped_kb.entry("booking").answer
    assert "{phone}" in answer or "{booking_url}" in answer


# --- `make check-knowledge` --------------------------------------------------------------------


def test_check_knowledge_passes_on_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_knowledge.main([]) == 0
    out, err = capsys.readouterr()
    count = len(TOPIC_SPEC)
    assert f"Topics covered: {count} of {count}" in out
    assert "The knowledge check passed." in out
    assert "FAILED" not in out + err
    for entry_id in ENTRY_IDS:
        assert re.search(rf"^{entry_id} ", out, re.MULTILINE), entry_id
