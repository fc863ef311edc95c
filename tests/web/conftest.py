"""Real-browser tests of the chat widget and the kiosk: Playwright's sync API and Debian's Chromium.

The pages run against the real servers (the session `stack` fixture: action server, Rasa server
and web server on free ports). Every test gets a fresh browser context that records each request
the page makes; at the end of the test every one of them must have gone to this machine.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import List
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from needlewise import settings
from needlewise.knowledge import load_clinic
from needlewise.settings import ROOT
from needlewise.strings import load_strings
from tests.conftest import FIXTURE_CLINIC, FIXTURE_STRINGS

SCREENSHOTS = ROOT / "results" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
# A reply can take a moment on a busy machine (the first turn warms the model up).
expect.set_options(timeout=20_000)
#: What the test stack's pages show: the fixture strings file and clinic (tests/conftest.py stack_env).
STACK_STRINGS = load_strings(FIXTURE_STRINGS)
STACK_CLINIC = load_clinic(FIXTURE_CLINIC)


def words(group: str, key: str, **values: str) -> str:
    """A string as the test stack's pages show it: the clinic's details and the page's `values` filled in."""
    return STACK_STRINGS.text(group, key, {**STACK_CLINIC.placeholders(), **values})


@dataclass
class Recorder:
    """What a page did: request URLs, console messages and uncaught errors."""

    requests: List[str] = field(default_factory=list)
    console: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    def csp_violations(self) -> List[str]:
        return [line for line in self.console if "Content Security Policy" in line]


@pytest.fixture(scope="session")
def browser():
    executable = str(settings.current().chromium)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def web_url(stack) -> str:
    return stack.config.web_url


@pytest.fixture(scope="session")
def rasa_url(stack) -> str:
    """The Rasa server's own address (socket.io clients such as rasa-webchat connect to it)."""
    return stack.config.rasa_url


@pytest.fixture(scope="session")
def bot_url(stack) -> str:
    """Where the pages send turns: their own origin (the web server forwards them to Rasa)."""
    return stack.config.web_url


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@contextlib.contextmanager
def opened_page(browser, recorder: Recorder, **options):
    """A page in a fresh context (no storage shared between tests), checked when it closes."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce", **options)
    context.on("request", lambda request: recorder.requests.append(request.url))
    new_page = context.new_page()
    new_page.on("console", lambda message: recorder.console.append(f"{message.type}: {message.text}"))
    new_page.on("pageerror", lambda error: recorder.errors.append(str(error)))
    try:
        yield new_page
    finally:
        context.close()
    network = [url for url in recorder.requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    elsewhere = [url for url in network if urlsplit(url).hostname not in LOCAL_HOSTS]
    assert network, "the page made no requests at all"
    assert not elsewhere, f"requests left this machine: {elsewhere}"
    assert not recorder.errors, f"uncaught errors in the page: {recorder.errors}"
    assert not recorder.csp_violations(), f"Content-Security-Policy violations: {recorder.csp_violations()}"


@pytest.fixture
def page(browser, stack, recorder: Recorder):
    """A page under the web server's real Content-Security-Policy."""
    with opened_page(browser, recorder) as new_page:
        yield new_page


@pytest.fixture
def axe_page(browser, stack, recorder: Recorder):
    """A page that may take axe-core as an inline script (CSP bypassed: for the accessibility scan only)."""
    with opened_page(browser, recorder, bypass_csp=True) as new_page:
        yield new_page


def open_chat(page: Page, web_url: str) -> None:
    """The demo clinic page with the chat widget open and its question box focused."""
    page.goto(f"{web_url}/")
    page.get_by_role("button", name=words("widget", "launcher"), exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("textbox", name=words("widget", "question_label"), exact=True)).to_be_focused()


def ask(page: Page, text: str) -> None:
    """Types a question into the widget and sends it."""
    box = page.get_by_role("textbox", name=words("widget", "question_label"), exact=True)
    box.fill(text)
    box.press("Enter")


def screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def session_value(page: Page, key: str):
    return page.evaluate("key => window.sessionStorage.getItem(key)", key)


def storage_lengths(page: Page) -> tuple:
    return tuple(page.evaluate("() => [window.sessionStorage.length, window.localStorage.length]"))


def run_axe(page: Page) -> list:
    """Runs axe-core on the page; returns the violations of impact serious or critical."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def describe(violations: list) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.extend(f"    {' '.join(node['target'])}: {node.get('failureSummary', '')}" for node in violation["nodes"])
    return "\n".join(lines)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test's output stays readable
        pass


@contextlib.contextmanager
def another_site(directory: Path, origin: str = "http://127.0.0.1:0"):
    """A clinic's own web site: a tiny web server for `directory` on another port of this machine
    (another origin); `origin` picks the port (the stack's `clinic_site` is allowed to embed)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", urlsplit(origin).port or 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
