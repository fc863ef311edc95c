"""The curated knowledge file and the clinic settings: load, validate, look up.

Pure Python with no Rasa imports, so the action server, the Rasa-side safety net, the
`make check-knowledge` report and the tests all share one implementation.

Every problem found in a file is reported with the file, the line where possible, the entry id
and the field, so that clinic staff can fix it without reading code.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import string
import threading
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Tuple

import yaml
from pydantic import BaseModel, Extra, ValidationError, root_validator, validator
from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scanner import ScannerError

from needlewise import settings
from needlewise.settings import ROOT

logger = logging.getLogger(__name__)

DEFAULT_KNOWLEDGE_FILE = settings.BY_NAME["KNOWLEDGE_FILE"].default
DEFAULT_CLINIC_FILE = settings.BY_NAME["CLINIC_FILE"].default
TOPICS_FILE = ROOT / "bot" / "topics.yml"

CATEGORIES = ("about", "mechanism", "outcomes", "safety", "visit", "clinic")
EVIDENCE_LEVELS = (
    "moderate",
    "low-to-moderate",
    "low",
    "very low",
    "proposed",
    "safety data",
    "practical advice",
    "clinic information",
)
PLACEHOLDERS = (
    "clinic_name",
    "phone",
    "booking_url",
    "hours",
    "emergency_number",
    "crisis_line",
    "front_desk",
)
MESSAGE_KEYS = (
    "greeting",
    "goodbye",
    "thanks",
    "bot_challenge",
    "menu",
    "out_of_scope",
    "refer_clinician",
    "fallback",
    "other_language",
    "handoff",
    "handoff_after_fallbacks",
    "urgent",
    "urgent_crisis",
    "urgent_kiosk",
    "feedback_helpful",
    "feedback_not_helpful",
    "helpful_question",
    "tell_me_more_label",
    "no_more_detail",
    "action_server_down",
    "message_too_long",
    "empty_message",
    "followup_unclear",
    "forget_me_done",
    "rate_limited",
)
ANSWER_WORDS = (40, 120)
DETAIL_MAX_WORDS = 180
TITLE_MAX_CHARS = 40
#: What a number left as a template looks like: "XXX", "TODO", "<number>", "?", or only zeros beyond
#: three digits ("000-0000"; 000 itself is Australia's emergency number).
PLACEHOLDER_NUMBER = re.compile(r"x{2,}|\btodo\b|\btbd\b|change|<|>|\?|^[\s()+-]*0{4,}[\s0()+-]*$", re.IGNORECASE)
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PMID_PATTERN = re.compile(r"^[0-9]{1,9}$")
DOI_PATTERN = re.compile(r"^10\.[0-9]{4,9}/\S+$")


class KnowledgeFileError(ValueError):
    """A knowledge or clinic file that cannot be used. `problems` lists every finding."""

    def __init__(self, problems: List[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    """One finding in a file, located as precisely as the file allows."""

    file: str
    message: str
    line: Optional[int] = None
    entry: Optional[str] = None
    field: Optional[str] = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        what = []
        if self.entry:
            what.append(f"entry '{self.entry}'")
        if self.field:
            what.append(f"field '{self.field}'")
        return f"{where}: " + (", ".join(what) + ": " if what else "") + self.message


# --- the schema ------------------------------------------------------------------------------


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True


class ClinicSettings(_Strict):
    """The clinic's own facts, from `bot/clinic.yml`."""

    name: str
    phone: str
    booking_url: str
    hours: str
    emergency_number: str
    crisis_line: str
    front_desk: str

    @validator("*")
    def _not_empty(cls, value: str) -> str:  # noqa: N805 - pydantic validator
        if not value:
            raise ValueError("must not be empty")
        return value

    @validator("emergency_number", "crisis_line", "phone")
    def _a_real_number(cls, value: str) -> str:  # noqa: N805 - pydantic validator
        """Numbers patients will dial: never a placeholder. There is no default: each clinic names its own."""
        if value and (PLACEHOLDER_NUMBER.search(value) or not re.search(r"\d", value)):
            raise ValueError(f"'{value}' is not a phone number: write the number patients should call")
        return value

    def placeholders(self) -> Dict[str, str]:
        values = self.dict()
        values["clinic_name"] = values.pop("name")
        return values


class Source(_Strict):
    title: str
    url: Optional[str] = None
    pmid: Optional[str] = None
    doi: Optional[str] = None

    @validator("pmid", pre=True)
    def _pmid(cls, value: Any) -> Any:  # noqa: N805
        if value is not None and not PMID_PATTERN.match(str(value)):
            raise ValueError(f"'{value}' is not a PubMed id (digits only)")
        return None if value is None else str(value)

    @validator("doi")
    def _doi(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and not DOI_PATTERN.match(value):
            raise ValueError(f"'{value}' is not a DOI (10.xxxx/...)")
        return value

    @validator("url")
    def _url(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and not (
            value.startswith("https://") or value.startswith("http://") or value == "{booking_url}"
        ):
            raise ValueError(f"'{value}' is not a web address (https://...)")
        return value

    @validator("doi", always=True)
    def _has_locator(cls, value: Optional[str], values: Dict[str, Any]) -> Optional[str]:  # noqa: N805
        if not (value or values.get("url") or values.get("pmid")):
            raise ValueError("a source needs a url, a pmid or a doi")
        return value


class Evidence(_Strict):
    level: Literal[EVIDENCE_LEVELS]  # type: ignore[valid-type]
    summary: str


class Review(_Strict):
    """Whether a named clinician has approved an entry. A draft names no reviewer."""

    status: Literal["draft", "approved"]
    by: Optional[str] = None
    role: Optional[str] = None
    on: Optional[dt.date] = None
    next_due: Optional[dt.date] = None

    @root_validator(skip_on_failure=True)
    def _approval_names_who_and_when(cls, values: Dict[str, Any]) -> Dict[str, Any]:  # noqa: N805
        if values["status"] == "approved":
            missing = [key for key in ("by", "role", "on", "next_due") if not values.get(key)]
            if missing:
                raise ValueError(f"an approved entry names who approved it and when; missing: {', '.join(missing)}")
            if values["next_due"] <= values["on"]:
                raise ValueError("next_due must come after the approval date (on)")
        elif values.get("by") or values.get("role"):
            raise ValueError("a draft names no reviewer: set status: approved once a clinician has approved it")
        return values

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    def overdue(self, today: dt.date) -> bool:
        """An approval whose next review date has passed."""
        return self.approved and self.next_due is not None and self.next_due < today

    def payload(self) -> Dict[str, str]:
        """What the reply contract's `review` carries: the status, and for an approval who and when."""
        if not self.approved:
            return {"status": "draft"}
        assert self.by and self.role and self.on
        return {"status": "approved", "by": self.by, "role": self.role, "on": self.on.isoformat()}


class Entry(_Strict):
    id: str
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    title: str
    answer: str
    detail: Optional[str] = None
    evidence: Evidence
    sources: List[Source]
    related: List[str]
    review: Review

    @validator("id")
    def _id(cls, value: str) -> str:  # noqa: N805
        if not ID_PATTERN.match(value):
            raise ValueError("ids use lower-case letters, digits and _")
        return value

    @validator("title")
    def _title(cls, value: str) -> str:  # noqa: N805
        if not value or len(value) > TITLE_MAX_CHARS:
            raise ValueError(f"a title has 1 to {TITLE_MAX_CHARS} characters, not {len(value)}")
        return value

    @validator("answer")
    def _answer(cls, value: str) -> str:  # noqa: N805
        low, high = ANSWER_WORDS
        words = count_words(value)
        if not low <= words <= high:
            raise ValueError(f"an answer has {low} to {high} words; this one has {words}")
        return value

    @validator("detail")
    def _detail(cls, value: Optional[str]) -> Optional[str]:  # noqa: N805
        if value is not None and count_words(value) > DETAIL_MAX_WORDS:
            raise ValueError(f"a detail has at most {DETAIL_MAX_WORDS} words; this one has {count_words(value)}")
        return value

    @validator("sources")
    def _sources(cls, value: List[Source]) -> List[Source]:  # noqa: N805
        if not value:
            raise ValueError("every entry needs at least one source")
        return value


class KnowledgeDocument(_Strict):
    version: Literal[1]
    language: str
    entries: List[Entry]
    messages: Dict[str, str]


def count_words(text: str) -> int:
    return len(text.split())


# --- reading YAML with line numbers ----------------------------------------------------------


class _Constructor(RoundTripConstructor):
    """ruamel.yaml's round-trip constructor (its maps and lists know their lines), but an
    impossible date (2026-13-45) stays text, so the schema reports it with its place, and an
    unknown tag (`!!python/object`) is refused as a safe loader refuses it."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return self.construct_scalar(node)

    def construct_undefined(self, node: Any) -> Any:
        raise ConstructorError(
            None, None, f"could not determine a constructor for the tag {node.tag!r}", node.start_mark
        )


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)
_Constructor.add_constructor(None, _Constructor.construct_undefined)


def _plain(value: Any) -> Any:
    """The loaded data as plain dicts, lists, str, int, float, bool, dates: what the schema reads."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):  # a sequence used as a key
        return tuple(_plain(v) for v in value)
    if isinstance(value, AbstractSet):  # !!set
        return {_plain(v) for v in value}
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, dt.datetime) and type(value) is not dt.datetime:
        return dt.datetime(*value.timetuple()[:6], value.microsecond, value.tzinfo)
    return value


def _read_yaml(path: Path) -> Tuple[Any, Any]:
    """Returns (plain data, ruamel's round-trip data, which knows lines); raises KnowledgeFileError.

    ruamel.yaml reads YAML 1.2, so only `true` and `false` are yes/no values: a key such as `on:`
    in `reviewed:` stays the word "on" for the people who edit the file. A key given twice in one
    mapping is refused.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeFileError([Problem(name, "the file does not exist")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise KnowledgeFileError([Problem(name, f"cannot be read: {error}")]) from None
    reader = YAML(typ="rt")
    reader.Constructor = _Constructor
    try:
        with_lines = reader.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        if isinstance(error, ScannerError) and getattr(error, "context_mark", None):
            mark = error.context_mark  # e.g. where an unclosed quote opens
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        duplicate = re.match(r'found duplicate key "(.*?)" with value', reason) if isinstance(reason, str) else None
        if duplicate:
            reason = f"the key '{duplicate.group(1)}' is given twice"
        raise KnowledgeFileError([Problem(name, f"this is not valid YAML: {reason}", line)]) from None
    return _plain(with_lines), with_lines


def _key_line(mapping: Any, key: Any) -> Optional[int]:
    for candidate in (key, str(key)):
        try:
            return mapping.lc.key(candidate)[0] + 1
        except (AttributeError, KeyError, TypeError):
            continue
    return None


def _line_of(with_lines: Any, loc: Tuple[Any, ...]) -> Optional[int]:
    """The line of the deepest part of `loc` that the file has."""
    node, line = with_lines, None
    for part in loc:
        if isinstance(node, dict):
            line = _key_line(node, part) or line
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if isinstance(node, CommentedMap):
                line = node.lc.line + 1
        else:
            break
    return line


def _pydantic_problems(
    error: ValidationError, file: str, with_lines: Any, prefix: Tuple[Any, ...] = ()
) -> List[Problem]:
    problems = []
    for item in error.errors():
        loc = prefix + tuple(part for part in item["loc"] if part != "__root__")
        entry_id = None
        if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
            raw = with_lines["entries"][loc[1]] if isinstance(with_lines, dict) else None
            entry_id = raw.get("id") if isinstance(raw, dict) else None
            entry_id = entry_id or f"#{loc[1] + 1}"
            field_path = ".".join(str(p) for p in loc[2:]) or None
        else:
            field_path = ".".join(str(p) for p in loc) or None
        message = item["msg"]
        if item["type"] == "value_error.extra":
            message = "this field is not known (check its spelling)"
        elif item["type"] == "value_error.missing":
            message = "this field is missing"
        problems.append(Problem(file, message, _line_of(with_lines, loc), entry_id, field_path))
    return problems


# --- loading -----------------------------------------------------------------------------------


def load_topic_spec(path: Path = TOPICS_FILE) -> Dict[str, str]:
    """Topic id -> category, from the project's copy of the shared topic spec."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {topic: info["category"] for topic, info in data["topics"].items()}


def load_reply_kinds(path: Path = TOPICS_FILE) -> Tuple[str, ...]:
    """The reply kinds, in the spec's order, from the project's copy of the shared topic spec."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(data["kinds"])


def load_clinic(path: Path) -> ClinicSettings:
    data, with_lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise KnowledgeFileError([Problem(str(path), "the file must be a mapping of settings")])
    try:
        return ClinicSettings(**data)
    except ValidationError as error:
        raise KnowledgeFileError(_pydantic_problems(error, str(path), with_lines)) from None


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _placeholder_problems(text: str, known: Tuple[str, ...] = PLACEHOLDERS) -> List[str]:
    found = []
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as error:
        return [f"broken {{placeholder}}: {error}"]
    for name in names:
        if name not in known:
            found.append(f"unknown placeholder '{{{name}}}' (known: " + ", ".join("{" + p + "}" for p in known) + ")")
    return found


@dataclass
class KnowledgeBase:
    """A validated knowledge file with the clinic's settings filled in."""

    entries: Dict[str, Entry]
    messages: Dict[str, str]
    clinic: ClinicSettings
    warnings: List[Problem] = field(default_factory=list)
    source: str = ""
    #: entry id -> the line of its `review:` block, to name it in release checks
    review_lines: Dict[str, Optional[int]] = field(default_factory=dict)
    today: dt.date = field(default_factory=dt.date.today)
    #: the BCP 47 tag the file is written in (`en`, `pt-BR`, `ar`)
    language: str = "en"

    def release_problems(self) -> List[Problem]:
        """What keeps this file from going live to patients: drafts, and approvals past next_due."""
        problems = []
        for entry in self.entries.values():
            line = self.review_lines.get(entry.id)
            if not entry.review.approved:
                problems.append(
                    Problem(self.source, "a draft: a clinician has not approved it", line, entry.id, "review")
                )
            elif entry.review.overdue(self.today):
                message = f"the approval was due for review on {entry.review.next_due}"
                problems.append(Problem(self.source, message, line, entry.id, "review.next_due"))
        return problems

    def fill(self, text: str) -> str:
        return text.format(**self.clinic.placeholders())

    def message(self, key: str) -> str:
        return self.fill(self.messages[key])

    def entry(self, topic: str) -> Entry:
        return self.entries[topic]

    def topics_in(self, category: str) -> List[str]:
        return [e.id for e in self.entries.values() if e.category == category]


def load_knowledge(
    path: Path,
    clinic_path: Path = DEFAULT_CLINIC_FILE,
    topics: Optional[Dict[str, str]] = None,
    today: Optional[dt.date] = None,
    topics_path: Optional[Path] = None,
) -> KnowledgeBase:
    """Loads and validates a knowledge file; raises KnowledgeFileError listing every problem.

    The topics it must cover are `topics`, or else those of the spec at `topics_path` (by default
    the project's `bot/topics.yml`).
    """
    path, clinic_path = Path(path), Path(clinic_path)
    topics = load_topic_spec(Path(topics_path) if topics_path else TOPICS_FILE) if topics is None else topics
    today = today or dt.date.today()
    name = str(path)
    clinic = load_clinic(clinic_path)
    data, with_lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise KnowledgeFileError([Problem(name, "the file must start with version, language, entries")])
    try:
        document = KnowledgeDocument(**data)
    except ValidationError as error:
        raise KnowledgeFileError(_pydantic_problems(error, name, with_lines)) from None

    problems: List[Problem] = []
    entries: Dict[str, Entry] = {}
    lines = {i: _line_of(with_lines, ("entries", i)) for i in range(len(document.entries))}
    for index, entry in enumerate(document.entries):
        line = lines[index]
        if entry.id in entries:
            problems.append(Problem(name, "this id is used twice", line, entry.id, "id"))
            continue
        entries[entry.id] = entry
        if entry.id not in topics:
            problems.append(Problem(name, "not a topic id of topics.yml", line, entry.id, "id"))
        elif topics[entry.id] != entry.category:
            problems.append(
                Problem(name, f"topics.yml puts this topic in '{topics[entry.id]}'", line, entry.id, "category")
            )
        if (entry.evidence.level == "clinic information") != (entry.category == "clinic"):
            problems.append(
                Problem(
                    name,
                    "'clinic information' is the level for clinic entries, and only for them",
                    _line_of(with_lines, ("entries", index, "evidence")),
                    entry.id,
                    "evidence.level",
                )
            )
        texts = {
            "answer": entry.answer,
            "detail": entry.detail or "",
            "title": entry.title,
            "evidence.summary": entry.evidence.summary,
        }
        texts.update({f"sources.{i}.{k}": v or "" for i, s in enumerate(entry.sources) for k, v in s.dict().items()})
        for field_name, text in texts.items():
            for message in _placeholder_problems(text):
                problems.append(
                    Problem(
                        name,
                        message,
                        _line_of(
                            with_lines,
                            ("entries", index, *(int(p) if p.isdigit() else p for p in field_name.split("."))),
                        ),
                        entry.id,
                        field_name,
                    )
                )
        if entry.review.on is not None and entry.review.on > today:
            problems.append(
                Problem(
                    name,
                    "the review date is in the future",
                    _line_of(with_lines, ("entries", index, "review", "on")),
                    entry.id,
                    "review.on",
                )
            )
    for index, entry in enumerate(document.entries):
        for position, related in enumerate(entry.related):
            if related not in entries:
                problems.append(
                    Problem(
                        name,
                        f"'{related}' is not an entry in this file",
                        _line_of(with_lines, ("entries", index, "related")),
                        entry.id,
                        f"related.{position}",
                    )
                )
            elif related == entry.id:
                problems.append(
                    Problem(
                        name,
                        "an entry cannot be related to itself",
                        _line_of(with_lines, ("entries", index, "related")),
                        entry.id,
                        "related",
                    )
                )
    for missing in sorted(set(topics) - set(entries)):
        problems.append(Problem(name, f"topic '{missing}' of topics.yml has no entry", entry=missing))
    for key in MESSAGE_KEYS:
        if not document.messages.get(key):
            problems.append(
                Problem(name, "this message is missing", _line_of(with_lines, ("messages",)), field=f"messages.{key}")
            )
    for key, text in document.messages.items():
        line = _line_of(with_lines, ("messages", key))
        if key not in MESSAGE_KEYS:
            problems.append(
                Problem(name, "this message is not known (check its spelling)", line, field=f"messages.{key}")
            )
        for message in _placeholder_problems(text):
            problems.append(Problem(name, message, line, field=f"messages.{key}"))
    if problems:
        raise KnowledgeFileError(problems)

    warnings = [
        Problem(
            name,
            f"approved by {entry.review.by}, due for review on {entry.review.next_due}: please review it again",
            _line_of(with_lines, ("entries", index, "review", "next_due")),
            entry.id,
            "review.next_due",
        )
        for index, entry in enumerate(document.entries)
        if entry.review.overdue(today)
    ]
    lines = {
        entry.id: _line_of(with_lines, ("entries", index, "review")) for index, entry in enumerate(document.entries)
    }
    return KnowledgeBase(entries, dict(document.messages), clinic, warnings, name, lines, today, document.language)


# --- the live copy the servers read ------------------------------------------------------------


def read_approved(path: Path) -> Dict[str, Entry]:
    """The last approved version of each entry, as kept by a store with REQUIRE_APPROVED."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {entry_id: Entry(**entry) for entry_id, entry in data.items()}


def write_approved(path: Path, entries: Dict[str, Entry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({k: json.loads(e.json()) for k, e in entries.items()}, indent=1), "utf-8")
    temporary.replace(path)


def knowledge_path() -> Path:
    return settings.current().knowledge_file


def clinic_path() -> Path:
    return settings.current().clinic_file


def _resolve(path: Path) -> Path:
    return path if path.is_absolute() else ROOT / path


class KnowledgeStore:
    """Serves the last good knowledge, reloading it when its files change on disk.

    A broken edit is logged and the previous version keeps serving, so a running clinic never
    loses its answers to a typo.
    """

    def __init__(
        self,
        path: Optional[Path] = None,
        clinic: Optional[Path] = None,
        topics_path: Optional[Path] = None,
        require_approved: Optional[bool] = None,
        approved_file: Optional[Path] = None,
    ) -> None:
        self.path = _resolve(Path(path) if path else knowledge_path())
        self.clinic_path = _resolve(Path(clinic) if clinic else clinic_path())
        self.topics_path = _resolve(Path(topics_path)) if topics_path else TOPICS_FILE
        self.require_approved = settings.current().require_approved if require_approved is None else require_approved
        #: the last approved version of every entry, kept across restarts (REQUIRE_APPROVED)
        self.approved_file = approved_file or ROOT / "var" / "approved" / f"{self.path.stem}.json"
        self._lock = threading.Lock()
        self._stamp: Optional[Tuple[Any, ...]] = None
        self._current: Optional[KnowledgeBase] = None
        self.last_error: Optional[KnowledgeFileError] = None

    def _file_stamp(self) -> Tuple[Any, ...]:
        stamps: List[Any] = []
        for file in (self.path, self.clinic_path):
            try:
                info = file.stat()
                stamps.append((info.st_mtime_ns, info.st_size, info.st_ino))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def get(self) -> KnowledgeBase:
        """The current knowledge; raises KnowledgeFileError only if no good version was ever read."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        if self._current is None:
            assert self.last_error is not None
            raise self.last_error
        return self._current

    #: what the log calls the file (a store of another file, e.g. needlewise/strings.py, says its own)
    what = "knowledge file"

    def _load(self) -> Any:
        """Reads and checks the files afresh; a store of another file overrides this."""
        fresh = load_knowledge(self.path, self.clinic_path, topics_path=self.topics_path)
        return self._approved_only(fresh) if self.require_approved else fresh

    def _reload(self, stamp: Tuple[Any, ...]) -> None:
        try:
            fresh = self._load()
        except Exception as error:
            if not isinstance(error, KnowledgeFileError):
                error = KnowledgeFileError([Problem(str(self.path), f"cannot be loaded: {error!r}")])
            self.last_error = error
            if self._current is None:
                logger.error("The %s cannot be used:\n%s", self.what, error)
            else:
                logger.error("The edited %s is refused; the last good version keeps serving:\n%s", self.what, error)
        else:
            if self._current is not None:
                logger.info("Reloaded the %s %s.", self.what, self.path)
            for warning in fresh.warnings:
                logger.warning("%s", warning)
            self._current, self.last_error = fresh, None
        self._stamp = stamp

    def _approved_only(self, kb: KnowledgeBase) -> KnowledgeBase:
        """The entries a patient may see with REQUIRE_APPROVED: approved ones, else their last approved version."""
        remembered = read_approved(self.approved_file)
        entries: Dict[str, Entry] = {}
        never = []
        for entry_id, entry in kb.entries.items():
            if entry.review.approved:
                entries[entry_id] = remembered[entry_id] = entry
            elif entry_id in remembered:
                entries[entry_id] = remembered[entry_id]
                logger.warning("Entry '%s' is a draft: its last approved version keeps serving.", entry_id)
            else:
                never.append(entry_id)
        if never:
            message = "REQUIRE_APPROVED is on, and no approved version of this entry exists"
            raise KnowledgeFileError([Problem(kb.source, message, kb.review_lines.get(i), i, "review") for i in never])
        write_approved(self.approved_file, remembered)
        return replace(kb, entries=entries)
