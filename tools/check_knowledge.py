"""`make check-knowledge`: validates the knowledge file and clinic settings and prints a report.

Exits 1 on any error, naming the file, line, entry and field. With `--release` (`make
check-knowledge RELEASE=true`) it also refuses drafts and approvals past their next review date:
the check to run before the answers go live to patients. It also checks the strings file
(`--strings`: the widget's, kiosk's and replies' own wording): every key and placeholder, and
every string of MIN_GRADED_WORDS words or more at grade MAX_ANSWER_GRADE or below. Answers and details must read at
grade MAX_ANSWER_GRADE or below, and the answers' median at MEDIAN_ANSWER_GRADE or below. Otherwise drafts and approvals
past their next review date are listed as warnings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from needlewise.knowledge import (
    DEFAULT_CLINIC_FILE,
    DEFAULT_KNOWLEDGE_FILE,
    KnowledgeBase,
    KnowledgeFileError,
    Problem,
    count_words,
    load_knowledge,
    load_topic_spec,
)
from needlewise.strings import DEFAULT_STRINGS_FILE, UiStrings, load_strings
from needlewise.translations import compare, strings_file_of, translation_files
from tools.readability import grade

MAX_ANSWER_GRADE = 10.0
MEDIAN_ANSWER_GRADE = 8.0
#: Strings of fewer words are labels ("Send", "Close chat"): a reading grade means nothing there.
MIN_GRADED_WORDS = 5
#: What the page fills in for its own placeholders, to grade those strings as patients read them.
PAGE_VALUE_SAMPLES = {"reviewer": "Sam Lee", "role": "physiotherapist", "date": "1 May 2026", "seconds": "20"}


def report(kb: KnowledgeBase, topics: dict) -> tuple:
    """Prints the report; returns (grade problems, grades of the answers)."""
    print(f"Knowledge file: {kb.source}")
    print(f"Entries: {len(kb.entries)}   Topics covered: {len(set(kb.entries) & set(topics))} of {len(topics)}")
    print(f"Clinic: {kb.clinic.name}, phone {kb.clinic.phone}, emergency {kb.clinic.emergency_number}\n")
    print(f"{'entry':<24} {'category':<10} {'evidence':<18} {'answer grade':>12} {'detail grade':>12}")
    grades, problems = [], []
    for entry in kb.entries.values():
        answer_grade = grade(kb.fill(entry.answer))
        detail_grade = grade(kb.fill(entry.detail)) if entry.detail else None
        grades.append(answer_grade)
        detail_text = f"{detail_grade:12.1f}" if detail_grade is not None else f"{'-':>12}"
        print(f"{entry.id:<24} {entry.category:<10} {entry.evidence.level:<18} {answer_grade:12.1f} {detail_text}")
        for part, part_grade in (("answer", answer_grade), ("detail", detail_grade)):
            if part_grade is not None and part_grade > MAX_ANSWER_GRADE:
                problems.append(
                    f"entry '{entry.id}': the {part} reads at grade {part_grade:.1f}; "
                    f"the limit is {MAX_ANSWER_GRADE:.0f}"
                )
    median = statistics.median(grades)
    print(f"\nReading grade of answers: median {median:.1f}, highest {max(grades):.1f} (Flesch-Kincaid)")
    if median > MEDIAN_ANSWER_GRADE:
        problems.append(f"the median answer reads at grade {median:.1f}; the limit is {MEDIAN_ANSWER_GRADE:.0f}")
    return problems, grades


def strings_report(ui: UiStrings, kb: KnowledgeBase) -> list:
    """Prints the strings file's line of the report; returns its grade problems (file, line, key)."""
    values = {**kb.clinic.placeholders(), **PAGE_VALUE_SAMPLES, "number": kb.clinic.emergency_number}
    graded, problems = [], []
    for key, text in ui.items():
        filled = text.format(**values)
        if count_words(filled) < MIN_GRADED_WORDS:
            continue
        graded.append(grade(filled))
        if graded[-1] > MAX_ANSWER_GRADE:
            message = f"reads at grade {graded[-1]:.1f}; the limit is {MAX_ANSWER_GRADE:.0f}"
            problems.append(str(Problem(ui.source, message, ui.lines.get(key), field=key)))
    print(
        f"Strings file: {ui.source} (language {ui.language}): {len(ui.items())} strings; reading grade of the "
        f"{len(graded)} with {MIN_GRADED_WORDS} words or more: highest {max(graded, default=0):.1f}"
    )
    return problems


def translations_report(english: KnowledgeBase, knowledge: Path, clinic: Path, topics: dict, release: bool) -> list:
    """Checks every translation beside the knowledge file (needlewise/translations.py); prints a line each
    and returns the problems (with `release`, drafts and overdue approvals too)."""
    problems: list = []
    for language, path in translation_files(knowledge).items():
        try:
            other = load_knowledge(path, clinic, topics)
            strings = load_strings(strings_file_of(path))
        except KnowledgeFileError as error:
            problems += error.problems
            continue
        except FileNotFoundError:
            problems.append(Problem(str(strings_file_of(path)), "missing: each translation has its strings file"))
            continue
        own = compare(english, other)
        if release:
            own += other.release_problems()
        problems += own
        approved = sum(entry.review.approved for entry in other.entries.values())
        print(
            f"Translation {language}: {path} and {strings_file_of(path).name} (language {strings.language}): "
            f"{len(other.entries)} entries, {approved} approved; {'faithful' if not own else f'{len(own)} problems'}"
        )
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--knowledge", type=Path, default=DEFAULT_KNOWLEDGE_FILE)
    parser.add_argument("--clinic", type=Path, default=DEFAULT_CLINIC_FILE)
    parser.add_argument("--strings", type=Path, default=DEFAULT_STRINGS_FILE, help="the strings file to check")
    parser.add_argument(
        "--release", action="store_true", help="refuse drafts and overdue approvals (before going live to patients)"
    )
    args = parser.parse_args(argv)
    topics = load_topic_spec()
    refused = []
    try:
        kb = load_knowledge(args.knowledge, args.clinic, topics)
    except KnowledgeFileError as error:
        refused += error.problems
    try:
        ui = load_strings(args.strings)
    except KnowledgeFileError as error:
        refused += error.problems
    if refused:
        print(f"The knowledge check FAILED with {len(refused)} problem(s):", file=sys.stderr)
        for problem in refused:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    problems, _ = report(kb, topics)
    problems += strings_report(ui, kb)
    problems += [str(p) for p in translations_report(kb, args.knowledge, args.clinic, topics, args.release)]
    approved = sum(entry.review.approved for entry in kb.entries.values())
    print(f"Approved by a clinician: {approved} of {len(kb.entries)} entries; drafts: {len(kb.entries) - approved}")
    if kb.warnings:
        print(f"\nApprovals due for review: {len(kb.warnings)}")
        for warning in kb.warnings:
            print(f"  - warning: {warning}")
    else:
        print("Approvals due for review: none")
    if args.release:
        problems.extend(str(problem) for problem in kb.release_problems())
    elif approved < len(kb.entries):
        print("Drafts are shown to patients as not yet reviewed; `make check-knowledge RELEASE=true` refuses them.")
    if problems:
        print("\nThe knowledge check FAILED:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("\nThe knowledge check passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
