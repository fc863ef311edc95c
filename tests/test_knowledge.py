"""The knowledge loader: the checks that refuse broken knowledge and clinic files, and the hot reload.

Everything here runs on the fixture files (`tests/fixtures/`), never on the shipped content, whose
properties tests/test_content.py checks. Broken copies are made in `tmp_path` by editing the text
of `tests/fixtures/knowledge.yml`, and every refusal is checked for what a member of the clinic
staff needs to fix it: the file, the line of the broken place, the entry id and the field.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Optional, Tuple

import pytest
import yaml

from needlewise.knowledge import (
    MESSAGE_KEYS,
    KnowledgeBase,
    KnowledgeFileError,
    KnowledgeStore,
    Problem,
    count_words,
    load_clinic,
    load_knowledge,
    load_topic_spec,
)
from tests.conftest import FIXTURE_CLINIC, FIXTURE_KNOWLEDGE, FIXTURE_TOPICS, fixture_store, load_fixture_kb
from tools import check_knowledge
from tools.readability import grade

FIXTURE = FIXTURE_KNOWLEDGE.read_text(encoding="utf-8")
CLINIC_TEXT = FIXTURE_CLINIC.read_text(encoding="utf-8")
CLINIC = load_clinic(FIXTURE_CLINIC)
#: The fixture clinic's phone line, as written (the clinic-file tests break it).
PHONE_LINE = next(line for line in CLINIC_TEXT.splitlines(keepends=True) if line.startswith("phone:"))
TOPIC_SPEC = load_topic_spec(FIXTURE_TOPICS)
#: The entry ids as written in the fixture (read without our loader, for parametrising).
ENTRY_IDS = [entry["id"] for entry in yaml.safe_load(FIXTURE)["entries"]]


# --- helpers -------------------------------------------------------------------------------------


def line_at(text: str, offset: int) -> int:
    """The 1-based line of `offset` in `text`."""
    return text.count("\n", 0, offset) + 1


def entry_span(text: str, entry_id: str) -> Tuple[int, int]:
    """Start and end offsets of one entry's block (from its `- id:` line to the next entry)."""
    start = text.index(f"  - id: {entry_id}\n")
    ends = [i for i in (text.find("\n  - id: ", start + 1), text.find("\nmessages:", start)) if i != -1]
    return start, min(ends) + 1


def field_block(text: str, entry_id: str, key: str) -> str:
    """The text of one top-level field of an entry, from its key to the next field."""
    start, end = entry_span(text, entry_id)
    pos = text.index(f"\n    {key}:", start, end) + 1
    following = re.compile(r"^    \S", re.MULTILINE).search(text, pos + 1, end)
    return text[pos : following.start() if following else end]


def edit_entry(text: str, entry_id: str, old: str, new: str) -> Tuple[str, int]:
    """Replaces `old` inside one entry; returns the new text and the line where the edit starts."""
    start, end = entry_span(text, entry_id)
    pos = text.index(old, start, end)
    return text[:pos] + new + text[pos + len(old) :], line_at(text, pos)


def edit(text: str, old: str, new: str) -> Tuple[str, int]:
    """Replaces the one occurrence of `old`; returns the new text and the line where it was."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    pos = text.index(old)
    return text.replace(old, new), line_at(text, pos)


def write(tmp_path: Path, text: str, name: str = "en.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path, clinic: Path = FIXTURE_CLINIC, **kwargs) -> KnowledgeFileError:
    with pytest.raises(KnowledgeFileError) as info:
        load_fixture_kb(path, clinic, **kwargs)
    return info.value


def the_problem(error: KnowledgeFileError, entry: Optional[str] = None, field: Optional[str] = None) -> Problem:
    """The one problem of `error` about this entry and field."""
    found = [p for p in error.problems if p.entry == entry and p.field == field]
    assert len(found) == 1, f"expected one problem for entry={entry} field={field}, got:\n{error}"
    return found[0]


def assert_located(
    error: KnowledgeFileError,
    problem: Problem,
    path: Path,
    line: Optional[int],
    entry: Optional[str],
    field: Optional[str],
    says: str,
) -> None:
    """The problem names the file, line, entry and field, and the exception's message shows it."""
    assert problem.file == str(path)
    assert problem.line == line
    assert problem.entry == entry
    assert problem.field == field
    assert says in problem.message
    where = f"{path}:{line}: " if line else f"{path}: "
    what = ", ".join(([f"entry '{entry}'"] if entry else []) + ([f"field '{field}'"] if field else []))
    assert f"{where}{what}: " in str(error)
    assert says in str(error)


@pytest.fixture(scope="module")
def last_review() -> dt.date:
    """The newest review date of the fixture: a `today` that makes every fixture date valid."""
    return max(dt.date.fromisoformat(d) for d in re.findall(r"^      on: (\S+)$", FIXTURE, re.MULTILINE))


# --- a valid file ------------------------------------------------------------------------------------


def test_a_valid_file_loads_with_one_entry_per_topic_in_its_category(kb: KnowledgeBase) -> None:
    assert list(kb.entries) == ENTRY_IDS
    assert {topic: entry.category for topic, entry in kb.entries.items()} == TOPIC_SPEC
    assert kb.messages.keys() == set(MESSAGE_KEYS)
    assert kb.source == str(FIXTURE_KNOWLEDGE)


def test_without_a_topic_spec_a_file_is_held_to_the_projects_topics() -> None:
    """By default the loader and the store check bot/topics.yml, which the fixture covers only in part."""
    with pytest.raises(KnowledgeFileError) as info:
        load_knowledge(FIXTURE_KNOWLEDGE, FIXTURE_CLINIC)
    missing = {p.entry for p in info.value.problems if p.message.endswith("of topics.yml has no entry")}
    assert missing and missing == set(load_topic_spec()) - set(ENTRY_IDS)
    store = KnowledgeStore(FIXTURE_KNOWLEDGE, FIXTURE_CLINIC)
    with pytest.raises(KnowledgeFileError):
        store.get()
    assert fixture_store().get().entries.keys() == set(ENTRY_IDS)


def test_a_freshly_reviewed_file_has_no_warnings(last_review: dt.date) -> None:
    assert load_fixture_kb(today=last_review).warnings == []


def test_grade_tells_easy_from_hard_text() -> None:
    """The measure the reading limits rely on does rank text: short words score low, long ones high."""
    easy = "The cat sat on the mat. It was a big cat. The mat was red."
    hard = (
        "Intramuscular stimulation of myofascial trigger points necessitates comprehensive anatomical "
        "understanding, particularly regarding neurovascular structures and pleural proximity."
    )
    assert grade(easy) < 3 < 10 < grade(hard)


# --- placeholders are filled from the clinic file -------------------------------------------------


def test_placeholders_take_the_clinic_settings(kb: KnowledgeBase) -> None:
    assert kb.clinic == CLINIC
    booking = kb.fill(kb.entry("booking").answer)
    assert kb.clinic.booking_url in booking
    assert kb.clinic.phone in booking
    assert kb.clinic.name in booking
    assert kb.clinic.hours in booking
    assert "{" not in booking and "}" not in booking
    assert kb.fill(kb.entry("booking").sources[0].url) == kb.clinic.booking_url
    assert kb.fill(kb.entry("booking").sources[0].title) == f"{kb.clinic.name} clinic settings"


def test_every_placeholder_of_the_messages_fills(kb: KnowledgeBase) -> None:
    assert kb.messages
    for key in kb.messages:
        filled = kb.message(key)
        assert "{" not in filled and "}" not in filled, key
    assert kb.message("urgent_kiosk") == kb.clinic.front_desk
    assert kb.clinic.emergency_number in kb.message("urgent")


# --- `on:` is a key, not a yes/no value ------------------------------------------------------------


def test_plain_yaml_1_1_would_read_on_as_true() -> None:
    """Why the loader is special: PyYAML's own safe loader turns the key `on` into True."""
    assert yaml.safe_load("on: 2026-01-15") == {True: dt.date(2026, 1, 15)}


def test_unquoted_on_in_review_is_read_as_a_date(tmp_path: Path, last_review: dt.date) -> None:
    text, _ = edit_entry(FIXTURE, "pregnancy", f"      on: {last_review.isoformat()}\n", "      on: 2026-01-15\n")
    kb = load_fixture_kb(write(tmp_path, text), today=last_review)
    assert kb.entry("pregnancy").review.on == dt.date(2026, 1, 15)
    assert kb.entry("pregnancy").review.by == yaml.safe_load(FIXTURE)["entries"][0]["review"]["by"]


# --- review status: drafts name nobody, approvals name who, their role and when ------------------------


def test_the_fixture_has_approved_entries_and_a_draft(kb: KnowledgeBase) -> None:
    statuses = {entry.review.status for entry in kb.entries.values()}
    assert statuses == {"approved", "draft"}


def test_an_approved_entry_sends_who_approved_it_and_when(kb: KnowledgeBase) -> None:
    approved = next(e for e in kb.entries.values() if e.review.approved)
    assert approved.review.payload() == {
        "status": "approved",
        "by": approved.review.by,
        "role": approved.review.role,
        "on": approved.review.on.isoformat(),
    }


def test_a_draft_sends_only_its_status(kb: KnowledgeBase) -> None:
    draft = next(e for e in kb.entries.values() if not e.review.approved)
    assert draft.review.payload() == {"status": "draft"}


@pytest.mark.parametrize("missing", ["by", "role", "on", "next_due"])
def test_an_approval_without_a_name_role_or_dates_is_refused(tmp_path: Path, missing: str) -> None:
    block = field_block(FIXTURE, "booking", "review")
    kept = [line for line in block.splitlines(keepends=True) if not line.startswith(f"      {missing}:")]
    text, line = edit_entry(FIXTURE, "booking", block, "".join(kept))
    problem = the_problem(refusal(write(tmp_path, text)), "booking", "review")
    assert f"missing: {missing}" in problem.message
    assert problem.line == line


def test_a_draft_that_names_a_reviewer_is_refused(tmp_path: Path) -> None:
    block = field_block(FIXTURE, "what_happens", "review")
    text, _ = edit_entry(FIXTURE, "what_happens", block, block + "      by: Someone\n")
    problem = the_problem(refusal(write(tmp_path, text)), "what_happens", "review")
    assert "a draft names no reviewer" in problem.message


def test_a_next_review_before_the_approval_is_refused(tmp_path: Path, last_review: dt.date) -> None:
    text, _ = edit_entry(FIXTURE, "booking", "      next_due: 2027-06-15\n", "      next_due: 2026-01-01\n")
    problem = the_problem(refusal(write(tmp_path, text), today=last_review), "booking", "review")
    assert "next_due must come after" in problem.message


def test_an_unknown_status_is_refused(tmp_path: Path) -> None:
    text, _ = edit_entry(FIXTURE, "what_happens", "      status: draft\n", "      status: reviewed\n")
    the_problem(refusal(write(tmp_path, text)), "what_happens", "review.status")


def test_an_approval_past_its_next_review_is_a_warning_not_an_error(tmp_path: Path, last_review: dt.date) -> None:
    text, line = edit_entry(FIXTURE, "booking", "      next_due: 2027-06-15\n", "      next_due: 2026-06-20\n")
    path = write(tmp_path, text)
    kb = load_fixture_kb(path, today=dt.date(2026, 7, 1))
    assert len(kb.entries) == len(ENTRY_IDS)
    (warning,) = kb.warnings
    assert (warning.file, warning.entry, warning.field, warning.line) == (str(path), "booking", "review.next_due", line)
    assert "due for review on 2026-06-20" in warning.message


def test_an_approval_is_not_overdue_on_its_next_review_day(kb: KnowledgeBase) -> None:
    due = kb.entry("booking").review.next_due
    assert load_fixture_kb(today=due).warnings == []
    overdue = load_fixture_kb(today=due + dt.timedelta(days=1))
    approved = sorted(e.id for e in kb.entries.values() if e.review.approved)
    assert sorted(w.entry for w in overdue.warnings) == approved


def test_a_review_date_in_the_future_is_refused(tmp_path: Path, last_review: dt.date) -> None:
    future = last_review + dt.timedelta(days=1)
    text, line = edit_entry(
        FIXTURE, "session_length", f"      on: {last_review.isoformat()}\n", f"      on: {future.isoformat()}\n"
    )
    path = write(tmp_path, text)
    error = refusal(path, today=last_review)
    assert len(error.problems) == 1
    problem = the_problem(error, "session_length", "review.on")
    assert problem.file == str(path)
    assert problem.message == "the review date is in the future"
    assert problem.line == line


def test_release_problems_name_every_draft_and_every_overdue_approval(kb: KnowledgeBase) -> None:
    drafts = [e.id for e in kb.entries.values() if not e.review.approved]
    assert [(p.entry, p.field) for p in kb.release_problems()] == [(d, "review") for d in drafts]
    late = load_fixture_kb(today=kb.entry("booking").review.next_due + dt.timedelta(days=1))
    problems = late.release_problems()
    assert {p.entry for p in problems} == set(ENTRY_IDS)
    assert all(p.line for p in problems)


# --- broken copies are refused with the place of the problem --------------------------------------


def test_an_entry_without_sources_is_refused(tmp_path: Path) -> None:
    block = field_block(FIXTURE, "what_is_dry_needling", "sources")
    text, line = edit_entry(FIXTURE, "what_is_dry_needling", block, "    sources: []\n")
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "what_is_dry_needling", "sources")
    assert_located(
        error, problem, path, line, "what_is_dry_needling", "sources", "every entry needs at least one source"
    )


def test_a_duplicated_id_is_refused(tmp_path: Path) -> None:
    start, end = entry_span(FIXTURE, "booking")
    copy = FIXTURE[start:end]
    insert_at = FIXTURE.index("\nmessages:") + 1
    text = FIXTURE[:insert_at] + copy + FIXTURE[insert_at:]
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "booking", "id")
    assert_located(error, problem, path, line_at(text, insert_at), "booking", "id", "this id is used twice")
    assert text.splitlines()[problem.line - 1] == "  - id: booking"


def test_an_unknown_related_id_is_refused(tmp_path: Path) -> None:
    text, line = edit_entry(
        FIXTURE,
        "booking",
        "    related: [session_length, what_happens, preparation]",
        "    related: [session_length, price_list, preparation]",
    )
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "booking", "related.1")
    assert_located(error, problem, path, line, "booking", "related.1", "'price_list' is not an entry in this file")


def test_an_entry_related_to_itself_is_refused(tmp_path: Path) -> None:
    text, line = edit_entry(
        FIXTURE,
        "booking",
        "    related: [session_length, what_happens, preparation]",
        "    related: [session_length, booking, preparation]",
    )
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "booking", "related")
    assert_located(error, problem, path, line, "booking", "related", "an entry cannot be related to itself")


def test_a_missing_answer_is_refused(tmp_path: Path) -> None:
    block = field_block(FIXTURE, "common_side_effects", "answer")
    text, _ = edit_entry(FIXTURE, "common_side_effects", block, "")
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "common_side_effects", "answer")
    # The field is not there, so the finding points at the start of its entry.
    entry_line = line_at(text, entry_span(text, "common_side_effects")[0])
    assert_located(error, problem, path, entry_line, "common_side_effects", "answer", "this field is missing")


def test_an_answer_over_120_words_is_refused(tmp_path: Path) -> None:
    block = field_block(FIXTURE, "what_happens", "answer")
    original = yaml.safe_load(block)["answer"]
    extra = "Here are some more words that make the answer far too long. " * 10
    text, line = edit_entry(FIXTURE, "what_happens", block, block + "      " + extra.strip() + "\n")
    path = write(tmp_path, text)
    error = refusal(path)
    words = count_words(original) + count_words(extra)
    assert words > 120
    problem = the_problem(error, "what_happens", "answer")
    assert_located(
        error, problem, path, line, "what_happens", "answer", f"an answer has 40 to 120 words; this one has {words}"
    )


def test_an_answer_under_40_words_is_refused(tmp_path: Path) -> None:
    block = field_block(FIXTURE, "what_happens", "answer")
    text, line = edit_entry(FIXTURE, "what_happens", block, "    answer: Too short to help anyone.\n")
    error = refusal(write(tmp_path, text))
    problem = the_problem(error, "what_happens", "answer")
    assert problem.line == line
    assert problem.message == "an answer has 40 to 120 words; this one has 5"


def test_an_unknown_field_is_refused(tmp_path: Path) -> None:
    text, line = edit_entry(FIXTURE, "preparation", "    answer: >-\n", "    anwser: >-\n")
    path = write(tmp_path, text)
    error = refusal(path)
    problem = the_problem(error, "preparation", "anwser")
    assert_located(error, problem, path, line, "preparation", "anwser", "this field is not known (check its spelling)")
    # ... and the answer it was meant to be is reported missing.
    assert the_problem(error, "preparation", "answer").message == "this field is missing"


def test_a_date_that_is_not_a_date_is_refused(tmp_path: Path, last_review: dt.date) -> None:
    text, line = edit_entry(FIXTURE, "preparation", f"      on: {last_review.isoformat()}\n", "      on: someday\n")
    path = write(tmp_path, text)
    error = refusal(path, today=last_review)
    assert len(error.problems) == 1
    problem = the_problem(error, "preparation", "review.on")
    assert_located(error, problem, path, line, "preparation", "review.on", "invalid date format")


@pytest.mark.parametrize("bad", ["2026-13-45", "2026-02-30"])
def test_an_impossible_date_is_refused(tmp_path: Path, last_review: dt.date, bad: str) -> None:
    text, line = edit_entry(FIXTURE, "preparation", f"      on: {last_review.isoformat()}\n", f"      on: {bad}\n")
    path = write(tmp_path, text)
    error = refusal(path, today=last_review)
    problem = error.problems[0]
    assert problem.file == str(path)
    assert problem.line == line
    assert f"{path}:{line}: " in str(error)


def test_an_unknown_evidence_level_is_refused(tmp_path: Path) -> None:
    text, line = edit_entry(FIXTURE, "does_it_work", "      level: moderate\n", "      level: strong\n")
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "does_it_work", "evidence.level")
    assert_located(error, problem, path, line, "does_it_work", "evidence.level", "permitted: 'moderate'")


def test_clinic_information_level_outside_the_clinic_category_is_refused(tmp_path: Path) -> None:
    text, _ = edit_entry(FIXTURE, "does_it_work", "      level: moderate\n", "      level: clinic information\n")
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, "does_it_work", "evidence.level")
    assert "'clinic information' is the level for clinic entries" in problem.message
    assert problem.line == line_at(text, text.index("    evidence:", entry_span(text, "does_it_work")[0]))


@pytest.mark.parametrize(
    ("entry_id", "field", "old", "new"),
    [
        ("booking", "title", "    title: Booking a visit\n", "    title: Booking a visit for {price}\n"),
        ("booking", "answer", "We are open {hours}.", "We are open {hours}. A visit costs {price}."),
        (
            "booking",
            "detail",
            "When you book, say that the visit is for dry needling.",
            "A visit costs {price}, and I can't book it.",
        ),
    ],
)
def test_an_unknown_placeholder_in_an_entry_is_refused(
    tmp_path: Path, entry_id: str, field: str, old: str, new: str
) -> None:
    text, _ = edit_entry(FIXTURE, entry_id, old, new)
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, entry_id, field)
    # A folded text (`answer: >-`) is located by the line of its key.
    key_line = line_at(text, text.index(f"    {field}:", entry_span(text, entry_id)[0]))
    assert_located(error, problem, path, key_line, entry_id, field, "unknown placeholder '{price}'")
    assert "(known: {clinic_name}, {phone}" in problem.message


def test_an_unknown_placeholder_in_a_message_is_refused(tmp_path: Path) -> None:
    text, line = edit(
        FIXTURE,
        '  handoff: "Test handoff: call the {clinic_name} team',
        '  handoff: "A visit costs {price}. Test handoff: call the {clinic_name} team',
    )
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, None, "messages.handoff")
    assert_located(error, problem, path, line, None, "messages.handoff", "unknown placeholder '{price}'")


def test_a_broken_placeholder_is_refused(tmp_path: Path) -> None:
    text, line = edit_entry(FIXTURE, "booking", "    title: Booking a visit\n", "    title: Booking at {clinic_name\n")
    error = refusal(write(tmp_path, text))
    problem = the_problem(error, "booking", "title")
    assert problem.line == line
    assert problem.message.startswith("broken {placeholder}")


def test_an_unknown_placeholder_in_an_evidence_summary_is_refused(tmp_path: Path) -> None:
    text, line = edit_entry(
        FIXTURE,
        "booking",
        "      summary: These facts come from the settings of {clinic_name}.\n",
        "      summary: A visit costs {price}.\n",
    )
    error = refusal(write(tmp_path, text))
    problem = the_problem(error, "booking", "evidence.summary")
    assert problem.line == line
    assert "unknown placeholder '{price}'" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        # a closing quote that comes too early (the apostrophe ends the quoted title)
        (
            "    title: What is dry needling?\n",
            "    title: 'What's dry needling?'\n",
            "expected <block end>, but found '<scalar>'",
        ),
        # a key indented too far
        (
            "    title: What is dry needling?\n",
            "      title: What is dry needling?\n",
            "mapping values are not allowed",
        ),
        # a key indented too little
        ("    title: What is dry needling?\n", "   title: What is dry needling?\n", "expected <block end>"),
    ],
    ids=["early-closing-quote", "indented-too-far", "indented-too-little"],
)
def test_broken_yaml_is_refused_with_its_line(tmp_path: Path, old: str, new: str, says: str) -> None:
    text, line = edit_entry(FIXTURE, "what_is_dry_needling", old, new)
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    (problem,) = error.problems
    assert problem.line == line
    assert problem.message.startswith("this is not valid YAML")
    assert says in problem.message
    assert str(error).startswith(f"{path}:{line}: this is not valid YAML")


def test_an_unclosed_quote_is_refused_as_invalid_yaml(tmp_path: Path) -> None:
    old = '  rate_limited: "Test reply: you are sending messages too fast."\n'
    text, line = edit(FIXTURE, old, old.replace('fast."', "fast."))
    path = write(tmp_path, text)
    error = refusal(path)
    (problem,) = error.problems
    assert problem.file == str(path)
    assert problem.message == "this is not valid YAML: found unexpected end of stream"
    assert problem.line == line  # the line of the unclosed quote


def test_a_missing_message_is_refused(tmp_path: Path) -> None:
    text, _ = edit(FIXTURE, '  followup_unclear: "Test reply: which topic do you mean?"\n', "")
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 1
    problem = the_problem(error, None, "messages.followup_unclear")
    messages_line = line_at(text, text.index("\nmessages:") + 1)
    assert_located(error, problem, path, messages_line, None, "messages.followup_unclear", "this message is missing")


def test_a_misspelt_message_key_is_refused(tmp_path: Path) -> None:
    text, line = edit(FIXTURE, "  followup_unclear: ", "  folowup_unclear: ")
    path = write(tmp_path, text)
    error = refusal(path)
    assert len(error.problems) == 2
    unknown = the_problem(error, None, "messages.folowup_unclear")
    assert_located(error, unknown, path, line, None, "messages.folowup_unclear", "this message is not known")
    assert the_problem(error, None, "messages.followup_unclear").message == "this message is missing"


def test_a_topic_without_an_entry_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, FIXTURE)
    error = refusal(path, topics={**TOPIC_SPEC, "parking": "clinic"})
    assert len(error.problems) == 1
    problem = the_problem(error, "parking", None)
    assert_located(error, problem, path, None, "parking", None, "topic 'parking' of topics.yml has no entry")


def test_a_deleted_entry_is_refused(tmp_path: Path) -> None:
    start, end = entry_span(FIXTURE, "booking")
    path = write(tmp_path, FIXTURE[:start] + FIXTURE[end:])
    error = refusal(path)
    missing = [p for p in error.problems if p.message == "topic 'booking' of topics.yml has no entry"]
    assert len(missing) == 1 and missing[0].entry == "booking"
    # session_length still points at it
    assert the_problem(error, "session_length", "related.1").message == "'booking' is not an entry in this file"


def test_an_entry_that_is_not_a_topic_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, FIXTURE)
    topics = {k: v for k, v in TOPIC_SPEC.items() if k != "booking"}
    error = refusal(path, topics=topics)
    assert len(error.problems) == 1
    problem = the_problem(error, "booking", "id")
    entry_line = line_at(FIXTURE, entry_span(FIXTURE, "booking")[0])
    assert_located(error, problem, path, entry_line, "booking", "id", "not a topic id of topics.yml")


def test_every_problem_of_a_file_is_listed(tmp_path: Path) -> None:
    block = field_block(FIXTURE, "what_is_dry_needling", "sources")
    text, sources_line = edit_entry(FIXTURE, "what_is_dry_needling", block, "    sources: []\n")
    text, level_line = edit_entry(text, "does_it_work", "      level: moderate\n", "      level: strong\n")
    error = refusal(write(tmp_path, text))
    assert sorted((p.entry, p.field, p.line) for p in error.problems) == [
        ("does_it_work", "evidence.level", level_line),
        ("what_is_dry_needling", "sources", sources_line),
    ]
    assert len(str(error).splitlines()) == 2


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (PHONE_LINE, "", "this field is missing"),
        (PHONE_LINE, 'phone: ""\n', "must not be empty"),
        (PHONE_LINE, "fone" + PHONE_LINE[len("phone") :] + PHONE_LINE, "this field is not known"),
    ],
    ids=["missing-phone", "empty-phone", "misspelt-key"],
)
def test_a_broken_clinic_file_is_refused(tmp_path: Path, old: str, new: str, says: str) -> None:
    text, line = edit(CLINIC_TEXT, old, new)
    clinic = write(tmp_path, text, "clinic.yml")
    error = refusal(FIXTURE_KNOWLEDGE, clinic)
    assert len(error.problems) == 1
    (problem,) = error.problems
    field = "fone" if new.startswith("fone") else "phone"
    expected_line = None if says == "this field is missing" else line
    assert_located(error, problem, clinic, expected_line, None, field, says)


EMERGENCY_LINE = next(line for line in CLINIC_TEXT.splitlines(keepends=True) if line.startswith("emergency_number:"))
CRISIS_LINE = next(line for line in CLINIC_TEXT.splitlines(keepends=True) if line.startswith("crisis_line:"))


@pytest.mark.parametrize("line", [EMERGENCY_LINE, CRISIS_LINE], ids=["emergency", "crisis"])
def test_the_clinic_must_name_its_emergency_and_crisis_numbers(tmp_path: Path, line: str) -> None:
    field = line.split(":")[0]
    error = refusal(FIXTURE_KNOWLEDGE, write(tmp_path, edit(CLINIC_TEXT, line, "")[0], "clinic.yml"))
    assert [(p.field, p.message) for p in error.problems] == [(field, "this field is missing")]


@pytest.mark.parametrize("value", ["XXX", "TODO", "<emergency number>", "0000 000", "ask at the desk", "?"])
def test_a_placeholder_emergency_number_is_refused(tmp_path: Path, value: str) -> None:
    text, line = edit(CLINIC_TEXT, EMERGENCY_LINE, f'emergency_number: "{value}"\n')
    clinic = write(tmp_path, text, "clinic.yml")
    error = refusal(FIXTURE_KNOWLEDGE, clinic)
    assert_located(error, error.problems[0], clinic, line, None, "emergency_number", "is not a phone number")


@pytest.mark.parametrize("value", ["000", "112", "999", "192", "998", "911"])
def test_real_emergency_numbers_of_many_countries_are_accepted(tmp_path: Path, value: str) -> None:
    text, _ = edit(CLINIC_TEXT, EMERGENCY_LINE, f'emergency_number: "{value}"\n')
    kb = load_fixture_kb(clinic=write(tmp_path, text, "clinic.yml"))
    assert kb.clinic.emergency_number == value
    assert value in kb.message("urgent")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yml"
    error = refusal(path)
    assert str(error) == f"{path}: the file does not exist"


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    error = refusal(path)
    assert str(error) == f"{path}: the file must start with version, language, entries"


# --- `make check-knowledge` ------------------------------------------------------------------------


@pytest.fixture
def fixture_topics_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make check-knowledge` holds a file to bot/topics.yml; here, to the fixture's topic spec."""
    monkeypatch.setattr(check_knowledge, "load_topic_spec", lambda: TOPIC_SPEC)


def check(knowledge: Path = FIXTURE_KNOWLEDGE, clinic: Path = FIXTURE_CLINIC) -> int:
    return check_knowledge.main(["--knowledge", str(knowledge), "--clinic", str(clinic)])


def test_check_knowledge_passes_and_reports_every_entry_and_the_clinic(
    fixture_topics_checked: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check() == 0
    out, err = capsys.readouterr()
    count = len(ENTRY_IDS)
    assert f"Knowledge file: {FIXTURE_KNOWLEDGE}" in out
    assert f"Entries: {count}   Topics covered: {count} of {count}" in out
    assert f"Clinic: {CLINIC.name}, phone {CLINIC.phone}, emergency {CLINIC.emergency_number}" in out
    assert re.search(r"Reading grade of answers: median \d+\.\d, highest \d+\.\d", out)
    assert "The knowledge check passed." in out
    assert "FAILED" not in out + err
    for entry_id in ENTRY_IDS:
        assert re.search(rf"^{entry_id} ", out, re.MULTILINE), entry_id


def test_check_knowledge_fails_on_a_broken_copy(
    fixture_topics_checked: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    block = field_block(FIXTURE, "what_is_dry_needling", "sources")
    text, line = edit_entry(FIXTURE, "what_is_dry_needling", block, "    sources: []\n")
    path = write(tmp_path, text)
    assert check(path) == 1
    out, err = capsys.readouterr()
    assert "The knowledge check FAILED with 1 problem(s):" in err
    assert f"{path}:{line}: entry 'what_is_dry_needling', field 'sources': every entry needs at least one source" in err
    assert "passed" not in out


def test_check_knowledge_fails_on_a_broken_clinic_file(
    fixture_topics_checked: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic = write(tmp_path, edit(CLINIC_TEXT, PHONE_LINE, "")[0], "clinic.yml")
    assert check(clinic=clinic) == 1
    assert f"{clinic}: field 'phone': this field is missing" in capsys.readouterr().err


def test_check_knowledge_fails_on_an_answer_above_the_reading_grade_limit(
    fixture_topics_checked: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hard = (
        "Intramuscular stimulation of myofascial trigger points necessitates comprehensive anatomical "
        "understanding, particularly regarding neurovascular structures and pleural proximity. "
    )
    block = field_block(FIXTURE, "how_it_works", "answer")
    text, _ = edit_entry(FIXTURE, "how_it_works", block, f"    answer: >-\n      {hard * 3}\n")
    path = write(tmp_path, text)
    assert grade(load_fixture_kb(path).entry("how_it_works").answer) > check_knowledge.MAX_ANSWER_GRADE
    assert check(path) == 1
    out, err = capsys.readouterr()
    assert "The knowledge check FAILED:" in err
    assert "entry 'how_it_works': the answer reads at grade" in err
    assert f"the limit is {check_knowledge.MAX_ANSWER_GRADE:.0f}" in err
    assert "passed" not in out


def test_check_knowledge_fails_on_a_detail_above_the_reading_grade_limit(
    fixture_topics_checked: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hard = (
        "Intramuscular stimulation of myofascial trigger points necessitates comprehensive anatomical "
        "understanding, particularly regarding neurovascular structures and pleural proximity. "
    )
    block = field_block(FIXTURE, "how_it_works", "detail")
    text, _ = edit_entry(FIXTURE, "how_it_works", block, f"    detail: >-\n      {hard * 3}\n")
    path = write(tmp_path, text)
    assert check(path) == 1
    assert "entry 'how_it_works': the detail reads at grade" in capsys.readouterr().err


# --- the live store: hot reload and the last good version ----------------------------------------


def _touch(path: Path, step: int) -> None:
    """Moves the file's mtime forward, so a same-size edit within one clock tick is still seen."""
    stamp = path.stat().st_mtime_ns + step * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_the_store_reloads_an_edit_and_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = write(tmp_path, FIXTURE)
    store = fixture_store(path)
    first = store.get()
    old_answer = first.entry("booking").answer
    assert store.last_error is None
    assert store.get() is first  # unchanged files are not read again

    new_answer = "Prices are at the front desk. " + old_answer
    edited, _ = edit(FIXTURE, "You can book a visit at", "Prices are at the front desk. You can book a visit at")
    path.write_text(edited, encoding="utf-8")
    _touch(path, 1)
    second = store.get()
    assert second is not first
    assert second.entry("booking").answer == new_answer
    assert store.last_error is None

    broken, line = edit_entry(edited, "what_is_dry_needling", "    title: What", "      title: What")
    path.write_text(broken, encoding="utf-8")
    _touch(path, 2)
    assert store.get() is second
    assert store.get().entry("booking").answer == new_answer
    assert isinstance(store.last_error, KnowledgeFileError)
    assert store.last_error.problems[0].line == line
    assert str(path) in str(store.last_error)

    fixed = edited.replace("Prices are at the front desk. ", "Ask the front desk about prices. ")
    path.write_text(fixed, encoding="utf-8")
    _touch(path, 3)
    third = store.get()
    assert third.entry("booking").answer == "Ask the front desk about prices. " + old_answer
    assert store.last_error is None


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        (r"level: moderate", "level: strong"),
        (r"title: What", 'title: "What'),
        (r"^      on: \S+$", "      on: 2026-13-45"),
    ],
    ids=["schema-error", "unclosed-quote", "impossible-date"],
)
def test_the_store_keeps_serving_after_any_broken_edit(tmp_path: Path, pattern: str, replacement: str) -> None:
    path = write(tmp_path, FIXTURE)
    store = fixture_store(path)
    good = store.get()
    text = re.sub(pattern, replacement, FIXTURE, count=1, flags=re.MULTILINE)
    assert text != FIXTURE
    path.write_text(text, encoding="utf-8")
    _touch(path, 1)
    assert store.get() is good
    assert isinstance(store.last_error, KnowledgeFileError)


def test_the_store_reloads_when_the_clinic_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path, FIXTURE)
    clinic = write(tmp_path, CLINIC_TEXT, "clinic.yml")
    store = fixture_store(path, clinic)
    assert store.get().clinic.phone == CLINIC.phone
    clinic.write_text(edit(CLINIC_TEXT, PHONE_LINE, 'phone: "0100 999 999"\n')[0], encoding="utf-8")
    _touch(clinic, 1)
    assert store.get().clinic.phone == "0100 999 999"
    assert "0100 999 999" in store.get().fill(store.get().entry("booking").answer)


@pytest.mark.parametrize("content", [None, "version: 1\nentries: [\n"], ids=["missing", "broken"])
def test_a_store_that_never_loaded_raises(tmp_path: Path, content: Optional[str]) -> None:
    path = tmp_path / "en.yml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    store = fixture_store(path)
    with pytest.raises(KnowledgeFileError) as info:
        store.get()
    assert str(path) in str(info.value)
    assert store.last_error is info.value
    with pytest.raises(KnowledgeFileError):  # and keeps refusing, without a good version to fall back on
        store.get()


# --- REQUIRE_APPROVED: edits go live only once a clinician approves them ---------------------------

APPROVAL = "    review:\n      status: approved\n      by: Dana Fixture\n      role: physiotherapist\n"
DRAFT = "    review:\n      status: draft\n"


def _all_approved(text: str) -> str:
    block = field_block(text, "what_happens", "review")
    approved = APPROVAL + "      on: 2026-06-15\n      next_due: 2027-06-15\n"
    return edit_entry(text, "what_happens", block, approved + ("\n" if block.endswith("\n\n") else ""))[0]


def _redrafted_booking(text: str, words: str) -> str:
    """The booking entry edited (new first words) and set back to draft, as the README's workflow says."""
    edited, _ = edit(text, "You can book a visit at", f"{words} You can book a visit at")
    block = field_block(edited, "booking", "review")
    return edit_entry(edited, "booking", block, DRAFT + ("\n" if block.endswith("\n\n") else ""))[0]


def approved_store(path: Path, tmp_path: Path) -> KnowledgeStore:
    return KnowledgeStore(
        path, FIXTURE_CLINIC, FIXTURE_TOPICS, require_approved=True, approved_file=tmp_path / "approved.json"
    )


def test_without_require_approved_a_draft_is_served_and_says_so(kb: KnowledgeBase) -> None:
    assert kb.entry("what_happens").review.payload() == {"status": "draft"}


def test_require_approved_refuses_a_file_with_a_never_approved_entry(tmp_path: Path) -> None:
    store = approved_store(write(tmp_path, FIXTURE), tmp_path)
    with pytest.raises(KnowledgeFileError) as info:
        store.get()
    (problem,) = info.value.problems
    assert (problem.entry, problem.field) == ("what_happens", "review")
    assert "no approved version" in problem.message and problem.line


def test_require_approved_keeps_serving_the_last_approved_version_of_an_edited_entry(tmp_path: Path) -> None:
    approved_text = _all_approved(FIXTURE)
    path = write(tmp_path, approved_text)
    store = approved_store(path, tmp_path)
    approved_answer = store.get().entry("booking").answer

    path.write_text(_redrafted_booking(approved_text, "Prices are at the desk."), encoding="utf-8")
    _touch(path, 1)
    served = store.get()
    assert served.entry("booking").answer == approved_answer
    assert served.entry("booking").review.approved
    assert store.last_error is None

    restarted = approved_store(path, tmp_path)  # a new process remembers the approved version
    assert restarted.get().entry("booking").answer == approved_answer

    approved_edit = approved_text.replace("You can book a visit at", "Prices are at the desk. You can book a visit at")
    path.write_text(approved_edit, encoding="utf-8")
    _touch(path, 2)
    assert store.get().entry("booking").answer.startswith("Prices are at the desk.")
