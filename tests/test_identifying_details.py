"""Identifying details, as patients write them, never survive: not in what Rasa sees, not stored, not logged.

The corpus is tests/fixtures/identifying_details.yml (phone numbers in UK, US, UAE and Brazilian
forms, e-mail addresses, dates of birth, NHS, Emirates ID and CPF numbers, names after a title or
introduced, street addresses; in English, Brazilian Portuguese and Arabic). The unit tests run
`needlewise.inputs.prepare` on it; the integration tests send every message through the real REST
channel and read the tracker store and the servers' log files.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple

import pytest
import yaml

from needlewise import inputs
from needlewise.inputs import prepare
from tests.conftest import FIXTURES, new_sender, one_custom, turn

CORPUS_FILE = FIXTURES / "identifying_details.yml"
#: Every kind of detail has at least this many messages in every language.
AT_LEAST_PER_KIND_AND_LANGUAGE = 3
#: The labels redaction leaves in place of a detail.
LABEL = re.compile(r"\[(name|phone|email|date|number|address|link)\]")


class Entry(NamedTuple):
    kind: str
    lang: str
    message: str
    secret: List[str]


def load_corpus() -> Dict:
    return yaml.safe_load(CORPUS_FILE.read_text(encoding="utf-8"))


CORPUS_SPEC = load_corpus()
CORPUS = [Entry(e["kind"], e["lang"], e["message"], list(e["secret"])) for e in CORPUS_SPEC["messages"]]


def entry_ids(entries: Iterable[Entry]) -> List[str]:
    """kind-language-number, e.g. `street_address-pt-2` (the messages themselves are in the corpus file)."""
    seen: Counter = Counter()
    ids = []
    for entry in entries:
        seen[entry.kind, entry.lang] += 1
        ids.append(f"{entry.kind}-{entry.lang}-{seen[entry.kind, entry.lang]}")
    return ids


def surviving(entry: Entry, text: str) -> List[str]:
    """The secrets of `entry` still in `text` (anywhere, whatever the case)."""
    folded = text.casefold()
    return [secret for secret in entry.secret if secret.casefold() in folded]


# --- the corpus itself -----------------------------------------------------------------------------


def test_the_corpus_has_several_messages_per_kind_and_language():
    counts = Counter((entry.kind, entry.lang) for entry in CORPUS)
    for kind in CORPUS_SPEC["kinds"]:
        for lang in CORPUS_SPEC["languages"]:
            assert counts[kind, lang] >= AT_LEAST_PER_KIND_AND_LANGUAGE, (kind, lang, counts[kind, lang])
    assert {entry.kind for entry in CORPUS} == set(CORPUS_SPEC["kinds"])
    assert {entry.lang for entry in CORPUS} == set(CORPUS_SPEC["languages"])


@pytest.mark.parametrize("entry", CORPUS, ids=entry_ids(CORPUS))
def test_every_secret_is_written_in_its_message(entry):
    assert entry.secret, "an entry names what must not survive"
    for secret in entry.secret:
        assert secret in entry.message, secret
        assert len(secret) >= 3, f"{secret!r}: too short to look for in the stored data and the logs"


def test_no_secret_is_something_the_bot_says_itself():
    """The integration tests look for the secrets next to the bot's replies: none may be in the clinic, the
    strings or the knowledge the test stack answers from (the fixture clinic's emergency number is 112)."""
    from needlewise import settings
    from tests.conftest import FIXTURE_CLINIC, FIXTURE_STRINGS

    files = [FIXTURE_CLINIC, FIXTURE_STRINGS, settings.current().knowledge_file]
    assert found([path.read_text(encoding="utf-8") for path in files], CORPUS) == []


def test_no_corpus_message_is_a_red_flag():
    """A red flag may keep a guessed name or address (safety first), so the corpus holds none."""
    from needlewise.red_flags import default_detector

    detector = default_detector()
    assert [entry.message for entry in CORPUS if detector.detect(entry.message)] == []


# --- redaction (unit) ------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", CORPUS, ids=entry_ids(CORPUS))
def test_prepare_removes_every_identifying_detail(entry):
    text = prepare(entry.message).text
    assert surviving(entry, text) == [], f"{entry.message!r} -> {text!r}"
    assert LABEL.search(text), f"a label, not a silent deletion: {text!r}"


def leaking(kind: str) -> List[str]:
    """The messages of `kind` that leak a secret through `prepare` (as patched by the caller)."""
    return [entry.message for entry in CORPUS if entry.kind == kind and surviving(entry, prepare(entry.message).text)]


@pytest.mark.parametrize(
    ("kind", "guesses_left", "redactions_left"),
    [
        (
            "street_address",
            lambda rule: rule[0] not in (inputs._ADDRESS_EN, inputs._ADDRESS_PT, inputs._ADDRESS_AR),
            lambda rule: True,
        ),
        (
            "name_after_title",
            lambda rule: rule[0] not in (inputs._TITLE_NAME, inputs._AR_TITLE_NAME),
            lambda rule: True,
        ),
        ("name_introduced", lambda rule: rule[0] not in (inputs._NAME_INTRO, inputs._AR_NAME_INTRO), lambda rule: True),
        ("phone", lambda rule: True, lambda rule: rule[0] != "[phone]"),
    ],
    ids=["street_address", "name_after_title", "name_introduced", "phone"],
)
def test_the_corpus_fails_when_a_rule_is_missing(monkeypatch, kind, guesses_left, redactions_left):
    """The corpus test can fail: without the rule for a kind, messages of that kind leak, in every language."""
    monkeypatch.setattr(inputs, "_GUESSES", [rule for rule in inputs._GUESSES if guesses_left(rule)])
    monkeypatch.setattr(inputs, "_REDACTIONS", [rule for rule in inputs._REDACTIONS if redactions_left(rule)])
    leaked = leaking(kind)
    assert leaked, f"no {kind} message leaks without its rule: the corpus would not notice"
    langs = {entry.lang for entry in CORPUS if entry.message in leaked}
    assert langs == set(CORPUS_SPEC["languages"]), langs


# --- the real servers (integration) -----------------------------------------------------------------


def searchable(secret: str) -> re.Pattern:
    """`secret` as a whole word: not inside a longer number, a timestamp, a port or a process id ("[2287]")."""
    return re.compile(rf"(?<![\w.:/\[-]){re.escape(secret)}(?![\w\]/-]|[.:]\d)", re.IGNORECASE)


def unescaped(text: str) -> List[str]:
    """`text` as written, with JSON `\\uXXXX` escapes decoded, and URL-decoded: Arabic or "João" may be stored
    or logged escaped."""
    decoded = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return [text, decoded, urllib.parse.unquote(text)]


def found(texts: Iterable[str], entries: Iterable[Entry]) -> List[str]:
    """The secrets of `entries` written anywhere in `texts`."""
    everything = "\n".join(view for text in texts for view in unescaped(text))
    return [
        f"{entry.kind}/{entry.lang}: {secret!r}"
        for entry in entries
        for secret in entry.secret
        if searchable(secret).search(everything)
    ]


#: A number in the stored JSON this large may be a detail read as a number; smaller ones are the
#: store's own (entity offsets, counts) and would match a house number by chance.
LARGE_NUMBER = 10_000


def json_texts(value: Any) -> Iterator[str]:
    """The strings (keys and values) of a decoded JSON value, and its large whole numbers."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from json_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_texts(item)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= LARGE_NUMBER:
        yield str(value)


def stored_values(database: Path) -> List[str]:
    """Every text in the tracker store: each text column of each row of each table, and, where a column
    holds JSON (the events' `data`), every string inside it."""
    values: List[str] = []
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # table names from sqlite_master
                for value in row:
                    if value is None or isinstance(value, (int, float)):
                        continue  # row ids and timestamps: numbers the store makes, not what a patient wrote
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    try:
                        decoded = json.loads(text)
                    except ValueError:
                        values.append(text)
                        continue
                    values.extend(json_texts(decoded) if isinstance(decoded, (dict, list)) else [text])
    return values


def user_texts(database: Path, sender: str) -> List[str]:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,))
        return [json.loads(data).get("text") or "" for (data,) in rows]


class Sent(NamedTuple):
    senders: List[str]
    canaries: List[str]
    log_starts: Dict[Path, int]


def canary(alphabet: str) -> str:
    """A made-up word no rule redacts, so the search must find it where it is stored."""
    return "".join(alphabet[int(digit, 16)] for digit in uuid.uuid4().hex[:10])


@pytest.fixture(scope="module")
def sent(stack) -> Sent:
    """Every corpus message, each from a new sender, through the real REST channel; and two canaries."""
    log_dir = Path(stack.config.log_dir)
    log_starts = {path: path.stat().st_size for path in log_dir.glob("*.log")}
    senders = []
    for entry in CORPUS:
        sender = new_sender("pii")
        one_custom(turn(stack, sender, entry.message))
        senders.append(sender)
    canaries = [canary("bcdfghjklmnpqrst"), canary("بتثجحخدذرزسشصضطظ")]
    one_custom(turn(stack, new_sender("pii"), f"what is dry needling? {canaries[0]}"))
    one_custom(turn(stack, new_sender("pii"), f"ما هو الوخز بالإبر الجافة؟ {canaries[1]}"))
    return Sent(senders, canaries, log_starts)


def test_every_corpus_message_is_stored_with_labels_in_place_of_the_details(stack, sent):
    for entry, sender in zip(CORPUS, sent.senders, strict=True):
        said = user_texts(stack.database, sender)
        assert said, f"nothing stored for {entry.kind}/{entry.lang}: {entry.message!r}"
        assert LABEL.search(said[-1]), (entry.message, said[-1])


def test_the_search_finds_what_the_tracker_store_holds(stack, sent):
    """The two canaries (one in Arabic, stored JSON-escaped) are found: a clean result below means something."""
    everything = "\n".join(view for value in stored_values(stack.database) for view in unescaped(value))
    for word in sent.canaries:
        assert searchable(word).search(everything), word


def test_no_identifying_detail_is_stored_in_the_tracker_store(stack, sent):
    leaked = found(stored_values(stack.database), CORPUS)
    assert leaked == [], leaked


def test_no_identifying_detail_is_in_the_servers_logs(stack, sent):
    log_dir = Path(stack.config.log_dir)
    texts = []
    for path in sorted(log_dir.glob("*.log")):
        with path.open("rb") as log:
            log.seek(sent.log_starts.get(path, 0))
            texts.append(log.read().decode("utf-8", "replace"))
    assert texts, f"no log files in {log_dir}"
    leaked = found(texts, CORPUS)
    assert leaked == [], leaked
