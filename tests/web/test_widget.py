"""The chat widget on the demo clinic page, in a real browser against the real bot."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from needlewise.settings import ROOT
from tests.web.conftest import (
    STACK_CLINIC,
    STACK_STRINGS,
    another_site,
    ask,
    open_chat,
    screenshot,
    session_value,
    words,
)

STORAGE_KEY = "needlewise.widget.v1"
LAUNCHER = words("widget", "launcher")
STACK_CLINIC_NAME = STACK_CLINIC.name
QUESTION = words("widget", "question_label")


def log(page: Page):
    return page.get_by_role("log")


def bot_turns(page: Page, kind: str):
    return log(page).locator(f".nw-turn-bot[data-kind='{kind}']")


def saved_state(page: Page) -> dict:
    return json.loads(session_value(page, STORAGE_KEY) or "null")


def test_an_answer_with_sources_related_topics_and_feedback(page: Page, web_url, stack_kb):
    config = requests.get(f"{web_url}/config.json", timeout=10).json()
    open_chat(page, web_url)
    page.evaluate(
        """() => {
            window.__typingSeen = false;
            const typing = document.querySelector('.nw-typing');
            new MutationObserver(() => { if (!typing.hidden) window.__typingSeen = true; })
                .observe(typing, {attributes: true, attributeFilter: ['hidden']});
        }"""
    )
    ask(page, "what is dry needling?")
    expect(log(page).get_by_text("what is dry needling?", exact=True)).to_be_visible()
    answer = stack_kb.fill(stack_kb.entry("what_is_dry_needling").answer)
    expect(log(page).get_by_text(answer)).to_be_visible()
    assert page.evaluate("window.__typingSeen"), "no typing indicator while waiting"
    expect(page.locator(".nw-typing")).to_be_hidden()
    turn = bot_turns(page, "answer").first
    expect(turn.get_by_role("button", name=stack_kb.message("tell_me_more_label"))).to_be_visible()
    expect(turn.get_by_role("group", name=words("client", "feedback_group"))).to_be_visible()

    sources = turn.get_by_role("button", name=words("client", "sources_button"))
    expect(sources).to_have_attribute("aria-expanded", "false")
    sources.click()
    expect(sources).to_have_attribute("aria-expanded", "true")
    pubmed = turn.locator("a[href^='https://pubmed.ncbi.nlm.nih.gov/']")
    expect(pubmed.first).to_be_visible()
    expect(turn.get_by_role("link", name=re.compile(r"PMID \d+")).first).to_be_visible()
    for link in turn.locator(".nw-sources-panel a").all():
        assert link.get_attribute("target") == "_blank"
        assert set(link.get_attribute("rel").split()) >= {"noopener", "noreferrer"}
    level = stack_kb.entry("what_is_dry_needling").evidence.level
    expect(turn.get_by_text(config["evidenceLevels"][level])).to_be_visible()
    # the shipped answers are drafts: the page says no clinician has checked them, and claims no review
    assert stack_kb.entry("what_is_dry_needling").review.status == "draft"
    expect(turn.get_by_text(words("client", "review_draft"), exact=True)).to_be_visible()
    # For the picture: the question at the top of the conversation.
    log(page).locator(".nw-turn-user").last.evaluate("el => { el.parentElement.scrollTop = el.offsetTop - 8; }")
    screenshot(page, "widget-answer")

    related = stack_kb.fill(stack_kb.entry("trigger_points").title)
    turn.get_by_role("button", name=related, exact=True).click()
    expect(log(page).locator(".nw-turn-user").last).to_have_text(related)
    expect(log(page).get_by_text(stack_kb.fill(stack_kb.entry("trigger_points").answer))).to_be_visible()
    expect(bot_turns(page, "answer")).to_have_count(2)

    bot_turns(page, "answer").last.get_by_role("button", name=words("replies", "feedback_yes")).click()
    expect(bot_turns(page, "feedback")).to_have_count(1)
    expect(bot_turns(page, "feedback")).to_contain_text(stack_kb.message("feedback_helpful"))


def test_the_conversation_survives_a_reload_and_new_conversation_clears_it(page: Page, web_url, stack_kb, stack):
    open_chat(page, web_url)
    ask(page, "does it hurt?")
    answer = stack_kb.fill(stack_kb.entry("does_it_hurt").answer)
    expect(log(page).get_by_text(answer)).to_be_visible()
    first = saved_state(page)
    assert first["sender"] and len(first["history"]) == 2

    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(log(page).get_by_text("does it hurt?", exact=True)).to_be_visible()
    expect(log(page).get_by_text(answer)).to_be_visible()
    assert saved_state(page)["sender"] == first["sender"]

    with page.expect_response(lambda r: r.url.endswith("/webhooks/rest/forget")) as forgotten:
        page.get_by_role("button", name=words("widget", "new_conversation")).click()
    assert forgotten.value.json() == {"deleted": True}  # the old conversation is deleted on the server
    import sqlite3

    with sqlite3.connect(stack.database) as db:
        assert db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (first["sender"],)).fetchone() == (0,)
    expect(log(page).get_by_text(answer)).to_have_count(0)
    expect(log(page).locator(".nw-turn-user")).to_have_count(0)
    after = saved_state(page)
    assert after["history"] == []
    assert after["sender"] != first["sender"]
    expect(page.get_by_role("textbox", name=QUESTION, exact=True)).to_be_focused()


def test_typed_markup_is_shown_as_text_and_never_runs(page: Page, web_url):
    open_chat(page, web_url)
    attack = "<img src=x onerror=window.__xss=1>"
    ask(page, attack)
    expect(log(page).locator(".nw-turn-user .nw-bubble")).to_have_text(attack)
    expect(log(page).locator(".nw-turn-bot:not(.nw-welcome)")).to_have_count(1)
    page.reload()
    expect(log(page).locator(".nw-turn-user .nw-bubble")).to_have_text(attack)
    assert log(page).locator("img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_an_urgent_reply_stands_out_and_needs_two_taps_to_close(page: Page, web_url, stack_kb):
    open_chat(page, web_url)
    ask(page, "what is dry needling?")
    expect(bot_turns(page, "answer")).to_have_count(1)
    ask(page, "my chest hurts and i cant breathe")
    urgent = bot_turns(page, "urgent")
    expect(urgent).to_have_count(1)
    expect(urgent.get_by_role("heading", name=words("client", "urgent_title"))).to_be_visible()
    assert urgent.locator("svg[aria-hidden='true']").count() >= 1
    call = urgent.get_by_role("link", name=words("client", "call_button", number=stack_kb.clinic.emergency_number))
    expect(call).to_have_attribute("href", f"tel:{stack_kb.clinic.emergency_number}")
    box_colour = urgent.locator(".nw-urgent").evaluate("el => getComputedStyle(el).backgroundColor")
    answer_colour = (
        bot_turns(page, "answer").locator(".nw-bubble").first.evaluate("el => getComputedStyle(el).backgroundColor")
    )
    assert box_colour != answer_colour
    assert urgent.get_by_role("button").count() == 0, "an urgent reply must not have its own close button"
    screenshot(page, "widget-urgent")

    close = page.get_by_role("button", name=words("widget", "close"), exact=True)
    close.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    confirm = page.get_by_role("button", name=words("widget", "close_confirm"))
    expect(confirm).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=words("widget", "close_notice"))).to_be_visible()
    confirm.click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name=LAUNCHER)).to_be_focused()


def test_a_crisis_reply_shows_the_crisis_line(page: Page, web_url, stack_kb):
    open_chat(page, web_url)
    ask(page, "i want to kill myself")
    urgent = bot_turns(page, "urgent")
    expect(urgent.get_by_text(words("client", "crisis_line"))).to_be_visible()
    crisis_line = urgent.get_by_role("link", name=stack_kb.clinic.crisis_line)
    expect(crisis_line).to_have_attribute("href", re.compile(r"^tel:\d+"))


def test_keyboard_only(page: Page, web_url, stack_kb):
    page.goto(f"{web_url}/")
    launcher = page.get_by_role("button", name=LAUNCHER)
    expect(launcher).to_be_visible()
    for _ in range(40):
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    outline = launcher.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert not outline.startswith("none") and not outline.endswith(" 0px"), f"no visible focus outline: {outline}"
    page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name=QUESTION, exact=True)
    expect(box).to_be_focused()
    page.keyboard.type("how long does a session take?")
    page.keyboard.press("Enter")
    expect(log(page).get_by_text(stack_kb.fill(stack_kb.entry("session_length").answer))).to_be_visible()
    expect(box).to_have_value("")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_a_phone_sized_screen(page: Page, web_url, stack_kb):
    page.set_viewport_size({"width": 360, "height": 740})
    open_chat(page, web_url)
    ask(page, "is it safe?")
    expect(bot_turns(page, "answer")).to_have_count(1)
    box = page.get_by_role("dialog").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert box["width"] >= 359, "on a phone the panel takes the full width"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "horizontal scrolling"
    for target in page.get_by_role("dialog").get_by_role("button").all():
        if target.is_visible():
            size = target.bounding_box()
            assert size["height"] >= 44, f"touch target too small: {target.inner_text()!r} {size}"
    screenshot(page, "widget-phone")


def test_network_errors_are_never_silent_and_keep_the_question(page: Page, web_url, bot_url, stack_kb):
    open_chat(page, web_url)
    webhook = f"{bot_url}/webhooks/rest/webhook"
    page.route(webhook, lambda route: route.abort())
    ask(page, "what are the needles like?")
    error = log(page).locator("[data-kind='error']")
    expect(error).to_have_count(1)
    expect(error).to_contain_text(stack_kb.clinic.phone)
    expect(error.get_by_role("link", name=stack_kb.clinic.phone)).to_have_attribute("href", re.compile("^tel:"))
    expect(error).to_contain_text(words("client", "error_kept_input"))
    expect(error).to_contain_text(words("client", "error_call"))
    box = page.get_by_role("textbox", name=QUESTION, exact=True)
    expect(box).to_have_value("what are the needles like?")

    page.unroute(webhook)
    page.route(
        webhook,
        lambda route: route.fulfill(status=500, body="server error", headers={"Access-Control-Allow-Origin": web_url}),
    )
    box.press("Enter")
    expect(error).to_have_count(2)
    expect(box).to_have_value("what are the needles like?")

    page.unroute(webhook)
    box.press("Enter")
    expect(log(page).get_by_text(stack_kb.fill(stack_kb.entry("needle_details").answer))).to_be_visible()
    expect(box).to_have_value("")
    assert [t["who"] for t in saved_state(page)["history"]] == ["user", "bot"], "failed turns are not kept"


def test_the_data_options(page: Page, web_url):
    """data-title, data-accent and data-open on the one script tag (a test page served by a route)."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Embed test</title></head>'
        "<body><main><h1>Another clinic page</h1></main>"
        '<script src="/widget.js" data-title="Ask us" data-accent="#5b2a86" data-open="true" defer></script>'
        "</body></html>"
    )
    page.route(
        f"{web_url}/embed-test.html", lambda route: route.fulfill(status=200, body=html, content_type="text/html")
    )
    page.goto(f"{web_url}/embed-test.html")
    dialog = page.get_by_role("dialog", name="Ask us")
    expect(dialog).to_be_visible()
    header = dialog.locator(".nw-header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header == "rgb(91, 42, 134)"


def test_a_button_sends_back_the_token_it_came_with(page: Page, web_url, bot_url):
    """Signed buttons: the token of a clicked button goes back in the turn's metadata."""
    webhook = f"{bot_url}/webhooks/rest/webhook"
    reply = [
        {"text": "Pick one.", "buttons": [{"title": "Signed topic", "payload": "/does_it_hurt", "token": "abc123"}]},
        {"custom": {"kind": "menu", "topic": None}},
    ]
    bodies = []

    def fake_bot(route):
        bodies.append(route.request.post_data_json)
        route.fulfill(status=200, json=reply, headers={"Access-Control-Allow-Origin": web_url})

    page.route(webhook, fake_bot)
    open_chat(page, web_url)
    ask(page, "menu")
    log(page).get_by_role("button", name="Signed topic").click()
    expect(log(page).locator(".nw-turn-user")).to_have_count(2)
    expect(log(page).locator("[data-kind='menu']")).to_have_count(2)
    # the page's language goes with every turn (the bot answers in it when the message does not say)
    assert bodies[0]["metadata"] == {"surface": "web", "lang": STACK_STRINGS.language}
    assert bodies[1]["message"] == "/does_it_hurt"
    assert bodies[1]["metadata"] == {"surface": "web", "token": "abc123", "lang": STACK_STRINGS.language}


def test_a_late_reply_stays_out_of_a_new_conversation(page: Page, web_url, bot_url):
    """ "New conversation" while a reply is on its way: the reply is dropped, and the old
    conversation is deleted on the server only after that turn is done (so nothing of it stays)."""
    webhook = f"{bot_url}/webhooks/rest/webhook"
    held, order = [], []
    page.route(webhook, lambda route: held.append(route))
    page.on("request", lambda request: order.append(request.url.rsplit("/", 1)[-1]))
    open_chat(page, web_url)
    ask(page, "does it hurt?")
    page.wait_for_function("() => document.querySelector('.nw-turn-user') !== null")
    while not held:
        page.wait_for_timeout(50)
    page.get_by_role("button", name=words("widget", "new_conversation")).click()
    expect(log(page).locator(".nw-turn-user")).to_have_count(0)
    with page.expect_response(lambda r: r.url.endswith("/webhooks/rest/forget")):
        held[0].fulfill(
            status=200,
            json=[{"text": "A late answer."}, {"custom": {"kind": "answer", "topic": "does_it_hurt"}}],
            headers={"Access-Control-Allow-Origin": web_url},
        )
    expect(log(page).get_by_text("A late answer.")).to_have_count(0)
    assert saved_state(page)["history"] == []
    assert order.index("forget") > order.index("webhook")


# --- a page that cannot read the clinic's settings --------------------------------------------------


#: What a page must never show when it has not been told: the emergency numbers of the shipped and the
#: fixture clinic, the numbers the widget once fell back on, and a made-up clinic name.
NEVER_SHOWN = re.compile(r"\b(911|988|112|116 123)\b|\bthe clinic\b", re.I)


def clinic_page(directory: Path, tag: str) -> None:
    """The demo clinic page as a clinic's own site would have it, with `tag` as the widget's script tag."""
    html = (ROOT / "bot" / "web" / "index.html").read_text(encoding="utf-8")
    old_tag = '<script src="/widget.js" data-server="" defer></script>'
    assert html.count(old_tag) == 1
    (directory / "index.html").write_text(html.replace(old_tag, tag), encoding="utf-8")


def test_the_widget_on_the_clinics_own_site_talks_to_needlewise_on_another_origin(
    page: Page, stack, web_url, recorder, tmp_path: Path, stack_kb
):
    """The clinic's site (stack.clinic_site, in CORS_ORIGINS) embeds the widget from Needlewise's web
    server (another port: another origin). The widget reads the clinic's settings and sends turns there."""
    clinic_page(tmp_path, f'<script src="{web_url}/widget.js" data-server="" defer></script>')
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    with another_site(tmp_path, stack.clinic_site) as site:
        assert site == stack.clinic_site
        page.goto(f"{site}/index.html")
        page.get_by_role("button", name=LAUNCHER, exact=True).click()
        expect(page.get_by_role("dialog")).to_be_visible()
        expect(page.get_by_text(STACK_CLINIC_NAME, exact=True)).to_be_visible()
        ask(page, "what is dry needling?")
        answer = stack_kb.fill(stack_kb.entry("what_is_dry_needling").answer)
        expect(log(page).get_by_text(answer)).to_be_visible()
    assert posts == [f"{web_url}/webhooks/rest/webhook"]  # Needlewise's own origin, no internal address
    assert not any(":" + str(stack.config.rasa_port) in url for url in recorder.requests)


@pytest.mark.parametrize("where", ["cross-origin", "dead-server"])
def test_a_widget_that_cannot_read_the_clinic_settings_says_only_what_it_was_told(
    page: Page, web_url, recorder, tmp_path: Path, where: str
):
    """The demo page served by a site that is not allowed to embed it. `cross-origin`: the widget comes
    from the real web server, whose /config.json that site may not read: the widget says it cannot
    connect, in the strings file's `offline` words (/offline.js), and nothing else. `dead-server`: the
    site has copies of the widget's files and the bot's address is dead: nothing at all is shown."""
    if where == "cross-origin":
        tag = f'<script src="{web_url}/widget.js" data-server="" defer></script>'
    else:
        for name in ("widget.js", "widget.css", "needlewise-client.js"):
            shutil.copy(ROOT / "bot" / "web" / name, tmp_path / name)
        tag = '<script src="/widget.js" data-server="http://127.0.0.1:9" data-open="true" defer></script>'
    clinic_page(tmp_path, tag)

    with another_site(tmp_path) as site:
        with page.expect_event("requestfinished", lambda r: r.url.endswith("/needlewise-client.js")):
            page.goto(f"{site}/index.html")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)
        asked = [urlsplit(url).path for url in recorder.requests]
        assert any(path.endswith("/config.json") for path in asked), "the widget asked for the settings"
        assert page.evaluate("window.__needlewiseWidgetLoaded") is True, "the widget ran"
        assert page.evaluate("typeof window.NeedlewiseClient") == "object"
        expect(page.get_by_role("button", name=LAUNCHER)).to_have_count(0)
        if where == "cross-origin":
            offline = page.get_by_role("button", name=words("offline", "launcher"), exact=True)
            offline.click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text(words("offline", "cannot_connect"), exact=True)).to_be_visible()
            expect(dialog.get_by_text(words("offline", "emergency"), exact=True)).to_be_visible()
            expect(dialog.get_by_role("textbox")).to_have_count(0)  # no chat it cannot run
            screenshot(page, "widget-cannot-connect")
            dialog.get_by_role("button", name=words("offline", "close"), exact=True).click()
            expect(offline).to_be_focused()
        else:
            expect(page.locator(".nw-root")).to_have_count(0)
            expect(page.get_by_role("dialog")).to_have_count(0)
        shown = page.locator("body").inner_text()
    assert not NEVER_SHOWN.search(shown), shown
    assert not NEVER_SHOWN.search(page.content())
    assert STACK_CLINIC_NAME not in shown
