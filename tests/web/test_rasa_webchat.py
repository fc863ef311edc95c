"""A clinic that already runs rasa-webchat 1.0.1 (the npm package, unmodified) on its own web site:
pointed at Needlewise's socket.io channel, it greets the patient, answers a typed question, follows a
button and takes feedback.

The package is fetched from the npm registry by scripts/fetch_webchat.sh (`make webchat`), checked
against its pinned sha512, into build/webchat/; it is in git nowhere. The clinic's page is served from
another origin (a small web server on another port) whose address is the only one in CORS_ORIGINS of
the Rasa server started here; the page loads the bundle from that server and talks to Rasa's port
directly. The page carries the Content-Security-Policy a clinic should give it: rasa-webchat's style
sheet `@import`s a font from fonts.googleapis.com, and the policy keeps the patient's browser from
asking Google for it. Nothing may leave the two origins.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator, List
from urllib.parse import urlsplit

import pytest
import socketio
from playwright.sync_api import Page, expect

from needlewise.replies import STARTER_TOPICS
from needlewise.settings import ROOT
from tests.conftest import stack_env
from tests.web.conftest import Recorder, screenshot, words

FETCH = ROOT / "scripts" / "fetch_webchat.sh"
VERSION = "1.0.1"
PACKAGE = ROOT / "build" / "webchat" / f"rasa-webchat-{VERSION}"
#: the UMD bundle (global `WebChat`) a page loads with a script tag: package.json's `main`
BUNDLE = PACKAGE / "lib" / "index.js"
#: what the clinic's page asks for first (rasa-webchat sends it as typed text when the chat opens)
INIT_PAYLOAD = "/greet"
GOOGLE_FONTS = "fonts.googleapis.com"
TIMEOUT = 30.0
#: how Playwright names the failure of a request the page's Content-Security-Policy stopped before it was sent
CSP_BLOCKED = ("csp", "net::ERR_BLOCKED_BY_CSP")


# --- the clinic's own site ---------------------------------------------------------------------------


class ClinicHandler(http.server.SimpleHTTPRequestHandler):
    """Static files under the clinic's Content-Security-Policy (set once the Rasa address is known)."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.server.csp)  # type: ignore[attr-defined]
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args) -> None:  # the test's output stays readable
        pass


def clinic_csp(rasa_url: str) -> str:
    """Scripts and styles from the clinic's own origin only (rasa-webchat injects <style> elements and
    style attributes, hence 'unsafe-inline' for styles), connections to Needlewise only."""
    rasa = urlsplit(rasa_url)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            f"connect-src {rasa.scheme}://{rasa.netloc} ws://{rasa.netloc}",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Riverbend Physio</title><link rel="icon" href="data:,"></head>
<body>
<main><h1>Riverbend Physio</h1><p>Dry needling for neck and shoulder pain.</p></main>
<script src="/js/rasa-webchat-{version}.js"></script>
<script src="/js/chat.js"></script>
</body>
</html>
"""

INIT = """WebChat.default({{
  socketUrl: {socket_url},
  socketPath: "/socket.io/",
  initPayload: {init_payload},
  customData: {{ language: "en" }},
  title: "Riverbend Physio",
  inputTextFieldHint: "Type your question",
  params: {{ storage: "session" }}
}}, null);
"""


@pytest.fixture(scope="module")
def webchat_bundle() -> Path:
    """rasa-webchat 1.0.1 from the npm registry, checked (nothing is fetched when a checked copy is there)."""
    done = subprocess.run(["bash", str(FETCH)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"scripts/fetch_webchat.sh failed:\n{done.stdout}{done.stderr}")
    package = json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == "rasa-webchat" and package["version"] == VERSION
    assert (PACKAGE / package["main"]) == BUNDLE and BUNDLE.is_file()
    return BUNDLE


@pytest.fixture(scope="module")
def clinic_site(tmp_path_factory, webchat_bundle: Path) -> Iterator[http.server.ThreadingHTTPServer]:
    """The clinic's web site, on another port of this machine; its pages are written once Rasa is up."""
    root = tmp_path_factory.mktemp("clinic-site")
    (root / "js").mkdir()
    shutil.copy(webchat_bundle, root / "js" / f"rasa-webchat-{VERSION}.js")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(ClinicHandler, directory=str(root)))
    server.root = root  # type: ignore[attr-defined]
    server.origin = f"http://127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    server.csp = "default-src 'none'"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def clinic_stack(model_path: Path, clinic_site, tmp_path_factory):
    """The action server and the Rasa server, whose CORS_ORIGINS is the clinic site's origin only (the
    session stack allows its own web server's origin; Rasa reads --cors only when it starts)."""
    from servers.stack import Stack, StackConfig

    database = tmp_path_factory.mktemp("tracker") / "conversations.db"
    config = StackConfig.free(
        model=model_path,
        log_dir=ROOT / "results" / "logs" / "rasa-webchat",
        extra_env=stack_env(
            TRACKER_STORE_URL=f"sqlite:///{database}",
            RATE_LIMIT_PER_CLIENT="5000",
            RATE_LIMIT_PER_SENDER="0",  # the menu test clicks every button in one conversation
            CORS_ORIGINS=clinic_site.origin,
        ),
    )
    assert config.cors_origins() == [clinic_site.origin]
    stack = Stack(config)
    names = ["actions", "rasa"]  # rasa-webchat talks to Rasa alone: no need for our web server
    try:
        stack.start(names)
        stack.wait_ready(names)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def clinic_url(clinic_site, clinic_stack) -> str:
    rasa_url = clinic_stack.config.rasa_url
    clinic_site.csp = clinic_csp(rasa_url)
    (clinic_site.root / "index.html").write_text(PAGE.format(version=VERSION), encoding="utf-8")
    init = INIT.format(socket_url=json.dumps(rasa_url), init_payload=json.dumps(INIT_PAYLOAD))
    (clinic_site.root / "js" / "chat.js").write_text(init, encoding="utf-8")
    return f"{clinic_site.origin}/index.html"


@contextlib.contextmanager
def clinic_page(browser, recorder: Recorder, sockets: List[str], blocked: List[str]) -> Iterator[Page]:
    """A page in a fresh context that records every request and websocket it opens, and the requests
    the browser itself stopped under the page's Content-Security-Policy (they never left it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce")
    context.on("request", lambda request: recorder.requests.append(request.url))
    context.on("requestfailed", lambda request: request.failure in CSP_BLOCKED and blocked.append(request.url))
    page = context.new_page()
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.on("console", lambda message: recorder.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: recorder.errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


# --- what the patient sees ---------------------------------------------------------------------------


def bot_says(page: Page, text: str):
    """The bot's words containing `text`."""
    return page.locator(".rw-response").filter(has_text=text)


def bot_message(page: Page, text: str):
    """A message of the bot's whose words contain `text`, with the buttons drawn under it."""
    return page.locator(".rw-message").filter(has=bot_says(page, text))


def buttons_titled(where, title: str):
    """The bot's buttons with exactly this title (rasa-webchat keeps every message's buttons on screen)."""
    return where.locator(".rw-replies .rw-reply").filter(has_text=re.compile(rf"^\s*{re.escape(title)}\s*$"))


def test_a_clinic_s_rasa_webchat_talks_to_needlewise(browser, recorder: Recorder, clinic_url, clinic_stack, stack_kb):
    """Greeting, a typed question, a button and feedback, as a patient sees them in rasa-webchat."""
    rasa_url = clinic_stack.config.rasa_url
    site = origin(clinic_url)
    sockets: List[str] = []
    blocked: List[str] = []
    with clinic_page(browser, recorder, sockets, blocked) as page:
        page.goto(clinic_url)
        launcher = page.locator("button.rw-launcher")
        expect(launcher).to_be_visible()
        launcher.click()
        expect(page.locator(".rw-conversation-container")).to_be_visible()

        # the greeting the init payload asked for, with the starter topics as buttons
        expect(bot_says(page, stack_kb.message("greeting"))).to_be_visible()
        starters = [stack_kb.fill(stack_kb.entry(topic).title) for topic in STARTER_TOPICS]
        for title in starters:
            expect(buttons_titled(page, title).first).to_be_visible()
        screenshot(page, "rasa-webchat-greeting")

        # a typed question: the knowledge file's answer, its buttons, then "Was this helpful?" with its own
        box = page.locator(".rw-new-message")
        box.fill("what is dry needling?")
        box.press("Enter")
        expect(page.locator(".rw-client").filter(has_text="what is dry needling?")).to_be_visible()
        entry = stack_kb.entry("what_is_dry_needling")
        answer = bot_message(page, stack_kb.fill(entry.answer))
        expect(answer).to_have_count(1)
        for related in entry.related:
            expect(buttons_titled(answer, stack_kb.fill(stack_kb.entry(related).title))).to_be_visible()
        question = bot_message(page, stack_kb.message("helpful_question"))
        expect(question).to_have_count(1)
        expect(question.locator(".rw-reply")).to_have_text(
            [words("replies", "feedback_yes"), words("replies", "feedback_no")]
        )
        screenshot(page, "rasa-webchat-answer")

        # a button the bot sent (a starter topic, from the greeting): that topic's answer from the knowledge file
        topic = STARTER_TOPICS[1]
        title = stack_kb.fill(stack_kb.entry(topic).title)
        buttons_titled(page, title).first.click()
        expect(page.locator(".rw-client").filter(has_text=title)).to_be_visible()
        expect(bot_says(page, stack_kb.fill(stack_kb.entry(topic).answer))).to_have_count(1)
        expect(bot_says(page, stack_kb.message("helpful_question"))).to_have_count(2)

        # feedback: "Yes" under the last answer, and the bot's thanks
        buttons_titled(
            bot_message(page, stack_kb.message("helpful_question")).last, words("replies", "feedback_yes")
        ).click()
        expect(bot_says(page, stack_kb.message("feedback_helpful"))).to_have_count(1)
        screenshot(page, "rasa-webchat-feedback")
        # each turn's `custom` object (the reply contract's) is not drawn: rasa-webchat drops a message it
        # has no component for, after its typing delay
        expect(page.locator(".rw-typing-indication")).to_have_count(0)
        expect(page.locator(".rw-messages-container")).not_to_contain_text(re.compile(r"undefined|\{"))

    # the page talked to the clinic's site and to Needlewise's Rasa port (socket.io), and nothing left it
    network = [url for url in recorder.requests + sockets if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    sent = [url for url in network if url not in blocked]
    assert {origin(url) for url in sent} == {site, rasa_url}, network
    assert any(url.startswith(f"{rasa_url}/socket.io/") for url in sent), network
    assert not recorder.errors, f"uncaught errors in the page: {recorder.errors}"
    # what the clinic's policy stopped in the browser: rasa-webchat's Google font, and nothing else
    assert blocked and {urlsplit(url).hostname for url in blocked} == {GOOGLE_FONTS}, blocked
    violations = recorder.csp_violations()
    assert violations and all(GOOGLE_FONTS in line for line in violations), violations


# --- every button, as rasa-webchat sends a click ------------------------------------------------------


class WebchatClient:
    """What rasa-webchat 1.0.1 sends, over python-socketio: `session_request` with no id (a first visit),
    then `user_uttered` {message: the button's payload, customData, session_id}: no token."""

    def __init__(self, rasa_url: str) -> None:
        self.client = socketio.SimpleClient()
        self.client.connect(rasa_url, socketio_path="/socket.io/", transports=["websocket"], wait_timeout=TIMEOUT)
        self.client.emit("session_request", {"session_id": None})
        event, self.session_id = self.client.receive(timeout=TIMEOUT)
        assert event == "session_confirm" and self.session_id

    def say(self, message: str) -> List[dict]:
        """One turn: the `bot_uttered` messages up to the one `custom` that ends it."""
        self.client.emit(
            "user_uttered", {"message": message, "customData": {"language": "en"}, "session_id": self.session_id}
        )
        messages: List[dict] = []
        while not any("custom" in m for m in messages):
            event, body = self.client.receive(timeout=TIMEOUT)
            assert event == "bot_uttered"
            messages.append(body)
        return messages

    def close(self) -> None:
        self.client.disconnect()


class ButtonsMisreadError(AssertionError):
    """Some buttons, clicked in rasa-webchat, got another topic's answer or none."""


def test_every_button_of_the_menu_is_understood_when_rasa_webchat_clicks_it(clinic_stack, stack_kb):
    """The menu offers every topic as a button; each is clicked as rasa-webchat sends a click."""
    patient = WebchatClient(clinic_stack.config.rasa_url)
    try:
        menu = patient.say("menu")
        assert [m["custom"]["kind"] for m in menu if "custom" in m] == ["menu"], menu
        buttons = [button for m in menu for button in m.get("buttons", [])]
        assert [b["payload"] for b in buttons] == [f"/{topic}" for topic in stack_kb.entries]
        misread = {}
        for button in buttons:
            custom = next(m["custom"] for m in patient.say(button["payload"]) if "custom" in m)
            if (custom["kind"], custom.get("topic")) != ("answer", button["payload"][1:]):
                misread[button["title"]] = f"{custom['kind']} {custom.get('topic') or ''}".strip()
    finally:
        patient.close()
    if misread:
        raise ButtonsMisreadError(f"{len(misread)} of {len(buttons)} buttons got another reply: {misread}")
