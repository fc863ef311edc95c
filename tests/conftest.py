"""Shared fixtures. Unit tests use the real knowledge file; integration tests start real servers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest

from needlewise import settings
from needlewise.knowledge import (
    DEFAULT_CLINIC_FILE,
    DEFAULT_KNOWLEDGE_FILE,
    KnowledgeBase,
    load_knowledge,
    load_topic_spec,
)
from needlewise.settings import ROOT

SHARED_SPEC = ROOT.parent / "shared" / "spec"


#: Fixtures that start or load the real thing: a test that uses one is in the integration tier.
REAL_PARTS = {"stack", "model_path", "agent", "postgres_url"}
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
def fresh_settings():
    """Each test reads the environment afresh (a test may set variables with monkeypatch)."""
    settings.current.cache_clear()
    yield
    settings.current.cache_clear()


@pytest.fixture(scope="session")
def topics() -> dict:
    """Topic id -> category, from the project's copy of the topic spec."""
    return load_topic_spec()


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The shipped knowledge file with the shipped clinic settings."""
    return load_knowledge(DEFAULT_KNOWLEDGE_FILE, DEFAULT_CLINIC_FILE)


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = settings.current().model
    if not path.exists():
        pytest.fail(f"No trained model at {path}: `make test` trains it first (make train).")
    return path


@pytest.fixture(scope="session")
def stack(model_path: Path, tmp_path_factory):
    """The real action server, Rasa server and web server, on free ports, for the whole session."""
    from servers.stack import Stack, StackConfig

    database = tmp_path_factory.mktemp("tracker") / "conversations.db"
    config = StackConfig.free(
        model=model_path,
        log_dir=ROOT / "results" / "logs",
        # the whole suite shares 127.0.0.1: a higher per-address limit keeps the suite from tripping it
        extra_env={"TRACKER_STORE_URL": f"sqlite:///{database}", "RATE_LIMIT_PER_CLIENT": "5000"},
    )
    with Stack(config) as running:
        running.database = database
        yield running


def rest_turn(stack, sender: str, message, timeout: float = 30.0):
    """One turn through Rasa's REST channel; returns (HTTP status, list of messages)."""
    import requests

    response = requests.post(
        f"{stack.config.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        timeout=timeout,
    )
    return response.status_code, response.json()


def contract_customs(messages: list) -> list:
    """The `custom` objects of one turn's messages."""
    return [m["custom"] for m in messages if isinstance(m.get("custom"), dict)]


PERSONAL = "my name is Anna Kowalski, call me on 0412 345 678 or anna.k@example.com, born 03/04/1987"
#: the identifying strings, matched as whole words (so "1987" inside a timestamp or a port does not count)
IDENTIFYING = [r"\bAnna\b", r"\bKowalski\b", r"(?<![\w.])0412(?!\w)", r"example\.com", r"(?<![\w.])1987(?!\w)"]


def leaks(text: str) -> List[str]:
    return [pattern for pattern in IDENTIFYING if re.search(pattern, text, re.IGNORECASE)]


def log_path(stack, name: str) -> Path:
    """Where the stack writes one server's log."""
    return Path(stack.config.log_dir) / f"{name}.log"
