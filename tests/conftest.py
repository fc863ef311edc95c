"""Shared fixtures and helpers.

Code tests read the small files of `tests/fixtures/` (a knowledge file, a fictional clinic, its
topic spec and a strings file), never the shipped content, so a clinic can edit
`bot/knowledge/en.yml`, `bot/knowledge/en.strings.yml` and `bot/clinic.yml` without breaking
them. The properties of the shipped files are checked in tests/test_content.py. Integration tests
start the real servers: with the shipped knowledge file (the trained model covers its topics), the
fixture clinic (`stack_kb` is what they serve) and the fixture strings file (`stack_strings`).
"""

from __future__ import annotations

import copy
import re
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from needlewise import settings
from needlewise.knowledge import TITLE_MAX_CHARS, KnowledgeBase, KnowledgeStore, load_knowledge, load_topic_spec
from needlewise.locales import Locales
from needlewise.replies import KINDS
from needlewise.settings import ROOT
from needlewise.strings import UiStrings, load_strings

SHARED_SPEC = ROOT.parent / "shared" / "spec"
FIXTURES = ROOT / "tests" / "fixtures"
#: The code tests' knowledge file, clinic and topic spec (see tests/fixtures/).
FIXTURE_KNOWLEDGE = FIXTURES / "knowledge.yml"
FIXTURE_CLINIC = FIXTURES / "clinic.yml"
FIXTURE_TOPICS = FIXTURES / "topics.yml"
FIXTURE_STRINGS = FIXTURES / "en.strings.yml"


def load_fixture_kb(knowledge: Path = FIXTURE_KNOWLEDGE, clinic: Path = FIXTURE_CLINIC, **kwargs: Any) -> KnowledgeBase:
    """A knowledge file (by default the fixture) loaded with the fixture clinic and topic spec."""
    return load_knowledge(knowledge, clinic, topics_path=FIXTURE_TOPICS, **kwargs)


def fixture_store(knowledge: Path = FIXTURE_KNOWLEDGE, clinic: Path = FIXTURE_CLINIC) -> KnowledgeStore:
    """A live store over a knowledge file (by default the fixture), checked against the fixture topics."""
    return KnowledgeStore(knowledge, clinic, topics_path=FIXTURE_TOPICS)


def fixture_locales(
    knowledge: Path = FIXTURE_KNOWLEDGE, strings: Path = FIXTURE_STRINGS, topics: Optional[Path] = FIXTURE_TOPICS
) -> Locales:
    """The languages of a knowledge file and its translations beside it (by default the fixture: English only)."""
    return Locales(knowledge, strings, FIXTURE_CLINIC, require_approved=False, topics_path=topics)


#: The stand-in translations `write_translations` makes: language tag -> the mark every text starts with.
STAND_IN_LANGUAGES = {"pt-BR": "[pt-BR]", "ar": "[عربي]"}


def stand_in(text: str, tag: str, limit: Optional[int] = None) -> str:
    """A stand-in translation of one text: the language's mark joined to the English words (so the word
    count stays the same), cut to `limit` characters."""
    return f"{STAND_IN_LANGUAGES[tag]}{text}"[:limit]


def write_translations(
    folder: Path, knowledge: Path = FIXTURE_KNOWLEDGE, strings: Path = FIXTURE_STRINGS, tags=tuple(STAND_IN_LANGUAGES)
) -> Path:
    """Copies a knowledge file and strings file into `folder` (as en.yml and en.strings.yml) with stand-in
    translations beside them (`pt.yml`, `pt.strings.yml`, `ar.yml`, ...): every patient-facing text marked
    by its language, every id, source, level and number kept. Returns the English knowledge file."""
    folder.mkdir(parents=True, exist_ok=True)
    english, english_strings = yaml.safe_load(knowledge.read_text()), yaml.safe_load(strings.read_text())
    (folder / "en.yml").write_text(knowledge.read_text())
    (folder / "en.strings.yml").write_text(strings.read_text())
    for tag in tags:
        document = copy.deepcopy(english)
        document["language"] = tag
        for entry in document["entries"]:
            entry["title"] = stand_in(entry["title"], tag, TITLE_MAX_CHARS)
            for key in ("answer", "detail"):
                if entry.get(key):
                    entry[key] = stand_in(entry[key], tag)
            entry["evidence"]["summary"] = stand_in(entry["evidence"]["summary"], tag)
            entry["review"] = {"status": "draft"}
        document["messages"] = {key: stand_in(text, tag) for key, text in document["messages"].items()}
        words = copy.deepcopy(english_strings)
        words["language"] = tag
        for group, texts in words.items():
            if isinstance(texts, dict):
                words[group] = {key: stand_in(text, tag) for key, text in texts.items()}
        stem = tag.split("-")[0]
        (folder / f"{stem}.yml").write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        (folder / f"{stem}.strings.yml").write_text(yaml.safe_dump(words, allow_unicode=True, sort_keys=False))
    return folder / "en.yml"


def stack_env(**values: str) -> Dict[str, str]:
    """The environment a test stack's servers get on top of ours: the fixture clinic and strings, and `values`."""
    return {"CLINIC_FILE": str(FIXTURE_CLINIC), "STRINGS_FILE": str(FIXTURE_STRINGS), **values}


#: The staff token of the test stacks (STAFF_TOKEN): the staff report at /staff/.
STAFF_TOKEN = "staff-token-for-tests-0123456789"

#: Fixtures that start or load the real thing: a test that uses one is in the integration tier.
REAL_PARTS = {"stack", "model_path", "agent", "postgres_url", "cluster", "redis_url"}
WEB_TESTS = ROOT / "tests" / "web"


def pytest_collection_modifyitems(items: list) -> None:
    """Sorts every test into one tier: unit, integration (real servers or model) or browser (Chromium)."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(WEB_TESTS):
            item.add_marker(pytest.mark.browser)
        elif REAL_PARTS & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch):
    """Each test reads the environment afresh (a test may set variables with monkeypatch), with the
    fixture strings file as STRINGS_FILE: the replies of the code tests show the fixture's wording."""
    monkeypatch.setenv("STRINGS_FILE", str(FIXTURE_STRINGS))
    settings.current.cache_clear()
    yield
    settings.current.cache_clear()


@pytest.fixture(scope="session")
def topics() -> dict:
    """Topic id -> category, from the fixture topic spec."""
    return load_topic_spec(FIXTURE_TOPICS)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The fixture knowledge file with the fixture clinic."""
    return load_fixture_kb()


@pytest.fixture(scope="session")
def stack_kb() -> KnowledgeBase:
    """What the test stack answers from: the knowledge file the servers read, with the fixture clinic."""
    return load_knowledge(settings.current().knowledge_file, FIXTURE_CLINIC)


@pytest.fixture(scope="session")
def stack_strings() -> UiStrings:
    """The strings file the test stack shows (its placeholders still in: fill them with `stack_kb`)."""
    return load_strings(FIXTURE_STRINGS)


@pytest.fixture(scope="session")
def stack_knowledge_file(tmp_path_factory) -> Path:
    """The session stack's knowledge folder: the knowledge file the model was trained for and the fixture
    strings file, with stand-in Portuguese and Arabic translations beside them (`write_translations`)."""
    folder = tmp_path_factory.mktemp("knowledge")
    return write_translations(folder, settings.current().knowledge_file, FIXTURE_STRINGS)


@pytest.fixture(scope="session")
def stack_locales(stack_knowledge_file: Path) -> Locales:
    """The languages the session stack answers in (English and the stand-in translations), as it reads them."""
    return Locales(
        stack_knowledge_file, stack_knowledge_file.with_name("en.strings.yml"), FIXTURE_CLINIC, require_approved=False
    )


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = settings.current().model
    if not path.exists():
        pytest.fail(f"No trained model at {path}: `make test` trains it first (make train).")
    return path


@pytest.fixture(scope="session")
def stack(model_path: Path, stack_knowledge_file: Path, tmp_path_factory):
    """The real action server, Rasa server and web server, on free ports, for the whole session.

    `clinic_site` is the origin of a clinic's own web site (another port: another origin) that may
    embed the widget (CORS_ORIGINS); tests serve pages there with `tests.web.conftest.another_site`."""
    from servers.stack import Stack, StackConfig, free_port

    database = tmp_path_factory.mktemp("tracker") / "conversations.db"
    english = stack_knowledge_file
    config = StackConfig.free(
        model=model_path,
        log_dir=ROOT / "results" / "logs",
        # the whole suite shares 127.0.0.1: a higher per-address limit keeps the suite from tripping it
        extra_env=stack_env(
            TRACKER_STORE_URL=f"sqlite:///{database}",
            RATE_LIMIT_PER_CLIENT="5000",
            STAFF_TOKEN=STAFF_TOKEN,
            KNOWLEDGE_FILE=str(english),
            STRINGS_FILE=str(english.with_name("en.strings.yml")),
        ),
    )
    clinic_site = f"http://127.0.0.1:{free_port()}"
    config.extra_env["CORS_ORIGINS"] = f"{config.web_url} {clinic_site}"
    with Stack(config) as running:
        running.database = database
        running.clinic_site = clinic_site
        yield running


# --- talking to a running stack ----------------------------------------------------------------------


def new_sender(prefix: str = "it") -> str:
    """A fresh conversation id."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def webhook(stack) -> str:
    """The URL of Rasa's REST channel."""
    return f"{stack.config.rasa_url}/webhooks/rest/webhook"


def rest_turn(stack, sender: str, message, timeout: float = 30.0, metadata: Optional[dict] = None):
    """One turn through Rasa's REST channel; returns (HTTP status, list of messages)."""
    import requests

    body: Dict[str, Any] = {"sender": sender, "message": message}
    if metadata is not None:
        body["metadata"] = metadata
    response = requests.post(webhook(stack), json=body, timeout=timeout)
    return response.status_code, response.json()


def turn(stack, sender: str, message, metadata: Optional[dict] = None, timeout: float = 30.0) -> list:
    """One REST turn that must succeed; returns the messages."""
    status, messages = rest_turn(stack, sender, message, timeout, metadata)
    assert status == 200, str(messages)[:300]
    assert isinstance(messages, list)
    return messages


def contract_customs(messages: list) -> list:
    """The `custom` objects of one turn's messages."""
    return [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]


def one_custom(messages: list) -> dict:
    """The one `custom` of a turn (the reply contract wants exactly one, of a known kind)."""
    customs = contract_customs(messages)
    assert len(customs) == 1, f"expected exactly one custom, got {customs}"
    assert customs[0].get("kind") in KINDS, customs[0]
    return customs[0]


def texts(messages: list) -> List[str]:
    """The words of a turn's messages."""
    return [m["text"] for m in messages if m.get("text")]


PERSONAL = "my name is Anna Kowalski, call me on 0412 345 678 or anna.k@example.com, born 03/04/1987"
#: the identifying strings, matched as whole words (so "1987" inside a timestamp or a port does not count)
IDENTIFYING = [r"\bAnna\b", r"\bKowalski\b", r"(?<![\w.])0412(?!\w)", r"example\.com", r"(?<![\w.])1987(?!\w)"]


def leaks(text: str) -> List[str]:
    return [pattern for pattern in IDENTIFYING if re.search(pattern, text, re.IGNORECASE)]


def log_path(stack, name: str) -> Path:
    """Where the stack writes one server's log."""
    return Path(stack.config.log_dir) / f"{name}.log"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real Redis server (Debian's redis-server) on a free port, for the module."""
    from servers.services import LocalRedis
    from servers.stack import free_port

    server = LocalRedis(tmp_path_factory.mktemp("redis"), free_port())
    try:
        yield server.start()
    finally:
        server.stop()
