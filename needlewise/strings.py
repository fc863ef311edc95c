"""Needlewise's own wording on screen, from the strings file beside the knowledge file.

`bot/knowledge/en.strings.yml` (the STRINGS_FILE setting) holds every patient-facing string that
is not an answer or a message of the knowledge file: the buttons the bot adds to its replies, the
safety net's last reply, the kiosk's topic groups, the evidence levels in plain words, and all the
words of the widget and the kiosk, which the web server hands to the pages in `/config.json`. A
translation is a copy named `<lang>.strings.yml`.

It is read and checked with the knowledge file's own reader, so every problem names the file, the
line and the key (`widget.send`), and kept live by the knowledge file's own store: a valid edit is
picked up while the servers run, a broken one is refused and the last good version keeps serving.
"""

from __future__ import annotations

import re
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from needlewise import settings
from needlewise.knowledge import (
    CATEGORIES,
    EVIDENCE_LEVELS,
    PLACEHOLDERS,
    KnowledgeFileError,
    KnowledgeStore,
    Problem,
    _line_of,
    _placeholder_problems,
    _read_yaml,
    _resolve,
)

DEFAULT_STRINGS_FILE = settings.BY_NAME["STRINGS_FILE"].default


def level_key(level: str) -> str:
    """An evidence level as a key of the strings file: "low-to-moderate" -> "low_to_moderate"."""
    return re.sub(r"[^a-z0-9]+", "_", level.lower()).strip("_")


#: Every group and key the code needs. The names after a key are the values the page fills in
#: when it shows the string (a number, a reviewer, a countdown); such a string must use them all.
KEYS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "replies": {"feedback_yes": (), "feedback_no": (), "talk_to_front_desk": ()},
    "safety_net": {"last_resort": ()},
    "categories": {category: () for category in CATEGORIES},
    "evidence_levels": {level_key(level): () for level in EVIDENCE_LEVELS},
    "client": {
        "language_name": (),
        "urgent_title": (),
        "call_button": ("number",),
        "emergency_number": ("number",),
        "crisis_line": (),
        "sources_button": (),
        "sources_heading": (),
        "source_untitled": (),
        "evidence_heading": (),
        "review_draft": (),
        "review_approved": ("reviewer", "role", "date"),
        "reviewed": ("reviewer", "date"),
        "feedback_group": (),
        "suggestions_group": (),
        "error_unreachable": (),
        "error_kept_input": (),
        "error_try_again": (),
        "error_call": (),
    },
    "widget": {
        "title": (),
        "launcher": (),
        "close": (),
        "close_confirm": (),
        "close_notice": (),
        "new_conversation": (),
        "clear_confirm": (),
        "clear_notice": (),
        "disclaimer": (),
        "welcome": (),
        "conversation": (),
        "typing": (),
        "question_label": (),
        "placeholder": (),
        "send": (),
        "not_sent": (),
    },
    "kiosk": {
        "page_title": (),
        "product": (),
        "language_choice": (),
        "finish": (),
        "start_title": (),
        "welcome": (),
        "privacy": (),
        "loading": (),
        "topics_unavailable": (),
        "back": (),
        "answers_title": (),
        "ask_open": (),
        "ask_close": (),
        "question_label": (),
        "ask": (),
        "typing": (),
        "read_aloud": (),
        "stop_reading": (),
        "footer": (),
        "idle_title": (),
        "idle_text": ("seconds",),
        "still_here": (),
    },
    # what a widget on the clinic's site shows when it cannot read the clinic's settings (/offline.js)
    "offline": {
        "launcher": (),
        "title": (),
        "cannot_connect": (),
        "emergency": (),
        "close": (),
    },
}
#: Groups said when the clinic file may be unreadable: no placeholders at all.
WITHOUT_PLACEHOLDERS = ("safety_net", "offline")
#: The groups the pages get in /config.json (widget.js, kiosk.js, needlewise-client.js).
PAGE_GROUPS = ("client", "widget", "kiosk")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class _KeepUnknown(dict):
    """Fills the placeholders it has and leaves the others as they are, for the page to fill."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with the placeholders of `values` filled in; the page's own ({number}) stay."""
    return text.format_map(_KeepUnknown(values))


def placeholder_names(text: str) -> List[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError:
        return []


@dataclass
class UiStrings:
    """A checked strings file: group -> key -> text, with the placeholders still in."""

    language: str
    groups: Dict[str, Dict[str, str]]
    source: str = ""
    #: "group.key" -> its line in the file, to name it in the report
    lines: Dict[str, Optional[int]] = field(default_factory=dict)
    warnings: List[Problem] = field(default_factory=list)

    def text(self, group: str, key: str, values: Mapping[str, str] = {}) -> str:
        """One string, with the placeholders of `values` (e.g. the clinic's) filled in."""
        return fill(self.groups[group][key], values)

    def group(self, group: str, values: Mapping[str, str] = {}) -> Dict[str, str]:
        return {key: fill(text, values) for key, text in self.groups[group].items()}

    def evidence_levels(self, values: Mapping[str, str] = {}) -> Dict[str, str]:
        """Evidence level (as the knowledge file and the reply contract write it) -> plain words."""
        return {level: self.text("evidence_levels", level_key(level), values) for level in EVIDENCE_LEVELS}

    def items(self) -> List[Tuple[str, str]]:
        """("group.key", text) for every string, in the file's order."""
        return [(f"{group}.{key}", text) for group, texts in self.groups.items() for key, text in texts.items()]


def load_strings(path: Path) -> UiStrings:
    """Loads and checks a strings file; raises KnowledgeFileError listing every problem."""
    path = Path(path)
    name = str(path)
    data, with_lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise KnowledgeFileError([Problem(name, "the file must start with version and language, then the groups")])
    problems: List[Problem] = []

    def problem(message: str, where: Tuple[Any, ...], key: str) -> None:
        problems.append(Problem(name, message, _line_of(with_lines, where), field=key))

    if data.get("version") != 1:
        problem("must be 1", ("version",), "version")
    language = data.get("language")
    if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
        problem("a language code such as en or pt-BR", ("language",), "language")
    for group in data:
        if group not in KEYS and group not in ("version", "language"):
            problem("this group is not known (check its spelling)", (group,), str(group))
    groups: Dict[str, Dict[str, str]] = {}
    lines: Dict[str, Optional[int]] = {}
    for group, keys in KEYS.items():
        block = data.get(group)
        if block is None:
            problems.append(Problem(name, "this group is missing", field=group))
            continue
        if not isinstance(block, dict):
            problem("this group must be a mapping of key: text", (group,), group)
            continue
        for key in keys:
            if key not in block:
                problem("this string is missing", (group,), f"{group}.{key}")
        texts: Dict[str, str] = {}
        for key, value in block.items():
            where, line = f"{group}.{key}", _line_of(with_lines, (group, key))
            if key not in keys:
                problems.append(Problem(name, "this string is not known (check its spelling)", line, field=where))
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(name, "must be text, not empty", line, field=where))
                continue
            value = value.strip()
            own = keys[key]
            if group in WITHOUT_PLACEHOLDERS:
                if "{" in value or "}" in value:
                    message = "no {placeholders} here: this is said when the clinic file may be unreadable"
                    problems.append(Problem(name, message, line, field=where))
            else:
                for message in _placeholder_problems(value, PLACEHOLDERS + own):
                    problems.append(Problem(name, message, line, field=where))
            used = placeholder_names(value)
            for needed in own:
                if needed not in used:
                    message = f"must contain {{{needed}}}, which the page fills in"
                    problems.append(Problem(name, message, line, field=where))
            texts[key], lines[where] = value, line
        groups[group] = texts
    if problems:
        raise KnowledgeFileError(problems)
    return UiStrings(str(language), groups, name, lines)


# --- the live copy the servers read ------------------------------------------------------------


def strings_path() -> Path:
    return settings.current().strings_file


class StringsStore(KnowledgeStore):
    """The last good strings file, reloaded when it changes on disk (KnowledgeStore's mechanism)."""

    what = "strings file"

    def __init__(self, path: Optional[Path] = None) -> None:
        super().__init__(Path(path) if path else strings_path(), require_approved=False)

    def _load(self) -> UiStrings:
        return load_strings(self.path)

    def get(self) -> UiStrings:  # type: ignore[override]
        """The current strings; raises KnowledgeFileError only if no good version was ever read."""
        return super().get()  # type: ignore[return-value]


_stores: Dict[Path, StringsStore] = {}
_stores_lock = threading.Lock()


def store(path: Optional[Path] = None) -> StringsStore:
    """This process's live store of a strings file (by default the STRINGS_FILE setting's)."""
    resolved = _resolve(Path(path) if path else strings_path())
    with _stores_lock:
        if resolved not in _stores:
            _stores[resolved] = StringsStore(resolved)
        return _stores[resolved]


def current() -> UiStrings:
    """The strings this process shows; raises KnowledgeFileError only if no good version was ever read."""
    return store().get()
