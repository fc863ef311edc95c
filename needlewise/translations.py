"""Translations of the knowledge file: `<lang>.yml` beside the English one, with its strings file
`<lang>.strings.yml` (for example `bot/knowledge/pt.yml` and `bot/knowledge/pt.strings.yml`).

A translation must hold the same entries in the same order, each with the same category, related
topics, sources and evidence level as the English entry, and in every text the same numbers and
the same {placeholders}; its messages must be the same keys, with the same numbers and
placeholders. Whether a clinician approved it is its own matter (each entry's `review`).
`make check-knowledge` runs this on every translation it finds; reading grades stay English-only.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

from needlewise.knowledge import KnowledgeBase, Problem
from needlewise.strings import LANGUAGE_PATTERN

NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
#: Arabic-Indic and Eastern Arabic-Indic digits, read as the same numbers
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def translation_files(english: Path) -> Dict[str, Path]:
    """Language code -> knowledge file of each translation beside the English file `english`."""
    found = {}
    for path in sorted(Path(english).parent.glob("*.yml")):
        # a translation is named by its language code (pt, ar, pt-BR); other files there are not
        if path == Path(english) or path.name.endswith(".strings.yml") or not LANGUAGE_PATTERN.match(path.stem):
            continue
        found[path.stem] = path
    return found


def strings_file_of(knowledge: Path) -> Path:
    return knowledge.with_name(f"{knowledge.stem}.strings.yml")


def _numbers(text: Optional[str]) -> Counter:
    return Counter(n.replace(",", ".") for n in NUMBER.findall((text or "").translate(DIGITS)))


def _placeholders(text: Optional[str]) -> Counter:
    return Counter(PLACEHOLDER.findall(text or ""))


def _same_facts(where: str, english: Optional[str], other: Optional[str]) -> List[str]:
    problems = []
    if bool(english) != bool(other):
        problems.append(f"{where}: the English has {'text' if english else 'none'}, the translation has not")
        return problems
    if _numbers(english) != _numbers(other):
        problems.append(
            f"{where}: numbers differ from the English ({sorted(_numbers(english).elements())} vs "
            f"{sorted(_numbers(other).elements())})"
        )
    if _placeholders(english) != _placeholders(other):
        problems.append(f"{where}: placeholders differ from the English")
    return problems


def compare(english: KnowledgeBase, other: KnowledgeBase) -> List[Problem]:
    """What keeps `other` from being a faithful translation of `english`."""
    source = other.source
    problems: List[Problem] = []
    if list(other.entries) != list(english.entries):
        missing = [t for t in english.entries if t not in other.entries]
        extra = [t for t in other.entries if t not in english.entries]
        problems.append(
            Problem(source, f"entries differ from the English: missing {missing or 'none'}, extra {extra or 'none'}")
        )
    for topic, entry in english.entries.items():
        theirs = other.entries.get(topic)
        if theirs is None:
            continue
        for field in ("category", "related"):
            if getattr(theirs, field) != getattr(entry, field):
                problems.append(Problem(source, "differs from the English entry", entry=topic, field=field))
        if [s.dict() for s in theirs.sources] != [s.dict() for s in entry.sources]:
            message = "the sources must be the English entry's, unchanged"
            problems.append(Problem(source, message, entry=topic, field="sources"))
        if theirs.evidence.level != entry.evidence.level:
            problems.append(Problem(source, "differs from the English entry", entry=topic, field="evidence.level"))
        for field, mine, yours in (
            ("title", entry.title, theirs.title),
            ("answer", entry.answer, theirs.answer),
            ("detail", entry.detail, theirs.detail),
            ("evidence.summary", entry.evidence.summary, theirs.evidence.summary),
        ):
            for message in _same_facts(field, mine, yours):
                problems.append(Problem(source, message.split(": ", 1)[1], entry=topic, field=field))
    if set(other.messages) != set(english.messages):
        problems.append(Problem(source, "the messages must have the English file's keys", field="messages"))
    for key, text in english.messages.items():
        for message in _same_facts(key, text, other.messages.get(key)):
            problems.append(Problem(source, message.split(": ", 1)[1], field=f"messages.{key}"))
    return problems
