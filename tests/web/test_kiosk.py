"""The front-desk kiosk, in a real browser against the real bot."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import screenshot, storage_lengths, words

PRIVACY = words("kiosk", "privacy")
BACK = words("kiosk", "back")
READ_ALOUD = words("kiosk", "read_aloud")
PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}


def tiles(page: Page):
    return page.locator("#k-groups").get_by_role("button")


def open_kiosk(page: Page, web_url: str, query: str = "") -> None:
    page.goto(f"{web_url}/kiosk.html{query}")
    expect(tiles(page).first).to_be_visible()


def posts_to_rasa(page: Page, bot_url: str, path: str = "/webhooks/rest/webhook") -> list:
    """Records the JSON body of every POST the page sends to one Rasa endpoint."""
    sent = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.post_data_json)
            if request.url == f"{bot_url}{path}" and request.method == "POST"
            else None
        ),
    )
    return sent


@pytest.mark.parametrize(("orientation", "viewport"), [("portrait", PORTRAIT), ("landscape", LANDSCAPE)])
def test_the_start_screen(page: Page, web_url, stack_kb, orientation, viewport):
    page.set_viewport_size(viewport)
    open_kiosk(page, web_url)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text(PRIVACY)).to_be_visible()
    # the clinic's name and emergency number come from the clinic file the servers were given
    expect(page.locator("#k-clinic")).to_have_text(stack_kb.clinic.name)
    expect(page.locator("#k-emergency")).to_have_text(stack_kb.clinic.emergency_number)
    from needlewise.knowledge import CATEGORIES

    assert tiles(page).count() == len(stack_kb.entries), "one tile per topic"
    for tile in tiles(page).all():
        assert tile.bounding_box()["height"] >= 44, tile.inner_text()
    assert page.locator("#k-groups h2").count() == len(CATEGORIES), "the tiles are grouped by category"
    body_size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_size >= 20
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    expect(page.get_by_role("button", name=words("kiosk", "ask_open"))).to_be_visible()
    expect(page.locator(".k-footer")).to_have_text(words("kiosk", "footer"))
    assert page.title() == words("kiosk", "page_title")
    expect(page.get_by_role("textbox")).to_have_count(0)
    screenshot(page, f"kiosk-{orientation}")


def test_a_tile_shows_its_answer(page: Page, web_url, bot_url, stack_kb):
    page.set_viewport_size(PORTRAIT)
    sent = posts_to_rasa(page, bot_url)
    open_kiosk(page, web_url)
    title = stack_kb.fill(stack_kb.entry("what_is_dry_needling").title)
    page.get_by_role("button", name=title, exact=True).click()
    log = page.get_by_role("log")
    expect(log.get_by_text(stack_kb.fill(stack_kb.entry("what_is_dry_needling").answer))).to_be_visible()
    # /topics.json signs every tile's payload, so the tile sends it as a button would
    assert sent[0]["message"] == "/what_is_dry_needling" and sent[0]["metadata"]["token"]
    assert sent[0]["metadata"]["surface"] == "kiosk"
    assert sent[0]["sender"].startswith("kiosk:")
    expect(tiles(page).first).to_be_hidden()

    sources = log.get_by_role("button", name=words("client", "sources_button"))
    sources.click()
    expect(sources).to_have_attribute("aria-expanded", "true")
    expect(log.get_by_text(re.compile(r"PMID \d+")).first).to_be_visible()
    assert log.locator("a[target='_blank']").count() == 0, "the kiosk opens no other web sites"
    related = stack_kb.fill(stack_kb.entry("trigger_points").title)
    expect(log.get_by_role("button", name=related, exact=True)).to_be_visible()
    body_size = log.locator(".nw-turn-bot .nw-bubble").first.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert body_size >= 20
    screenshot(page, "kiosk-answer")

    log.get_by_role("button", name=related, exact=True).click()
    expect(log.get_by_text(stack_kb.fill(stack_kb.entry("trigger_points").answer))).to_be_visible()
    assert len({turn["sender"] for turn in sent}) == 1, "one conversation, one sender id"

    page.get_by_role("button", name=BACK).click()
    expect(tiles(page).first).to_be_visible()
    assert storage_lengths(page) == (0, 0)


def test_the_idle_reset(page: Page, web_url, bot_url, stack_kb):
    sent = posts_to_rasa(page, bot_url)
    open_kiosk(page, web_url, "?idle=2")
    title = stack_kb.fill(stack_kb.entry("does_it_hurt").title)
    answer = stack_kb.fill(stack_kb.entry("does_it_hurt").answer)
    page.get_by_role("button", name=title, exact=True).click()
    expect(page.get_by_text(answer)).to_be_visible()

    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_visible(timeout=10_000)
    expect(warning).to_contain_text(words("kiosk", "idle_text").split("{seconds}")[0])
    expect(warning.get_by_role("heading")).to_have_text(words("kiosk", "idle_title"))
    screenshot(page, "kiosk-idle-warning")
    warning.get_by_role("button", name=words("kiosk", "still_here")).click()
    expect(warning).to_be_hidden()
    expect(page.get_by_text(answer)).to_be_visible()

    # Nobody answers the next warning: the kiosk starts again, with nothing of the last visitor.
    expect(warning).to_be_visible(timeout=10_000)
    with page.expect_request(f"{bot_url}/webhooks/rest/forget", timeout=10_000) as forget:
        expect(warning).to_be_hidden(timeout=10_000)
    assert forget.value.post_data_json == {"sender": sent[0]["sender"]}, "the bot deletes the finished conversation"
    expect(tiles(page).first).to_be_visible()
    expect(page.get_by_text(answer)).to_have_count(0)
    expect(page.get_by_text(title, exact=True)).to_have_count(1)  # only its tile
    assert page.get_by_role("log", include_hidden=True).evaluate("el => el.childElementCount") == 0
    assert storage_lengths(page) == (0, 0)

    page.get_by_role("button", name=title, exact=True).click()
    expect(page.get_by_text(answer)).to_be_visible()
    assert len(sent) == 2 and sent[0]["sender"] != sent[1]["sender"], "a fresh conversation has a new sender id"
    assert storage_lengths(page) == (0, 0)


def test_an_urgent_question_typed_on_screen(page: Page, web_url, stack_kb):
    page.set_viewport_size(LANDSCAPE)
    open_kiosk(page, web_url)
    page.get_by_role("button", name=words("kiosk", "ask_open")).click()
    box = page.get_by_role("textbox", name=words("kiosk", "question_label"))
    expect(box).to_be_focused()
    box.fill("my chest hurts and i cant breathe")
    page.get_by_role("button", name=words("kiosk", "ask"), exact=True).click()
    urgent = page.locator(".nw-urgent")
    expect(urgent).to_be_visible()
    expect(urgent.get_by_role("heading", name=words("client", "urgent_title"))).to_be_visible()
    expect(urgent.get_by_text(stack_kb.clinic.front_desk)).to_be_visible()
    expect(urgent).to_contain_text(stack_kb.clinic.emergency_number)
    font = urgent.get_by_text(stack_kb.clinic.front_desk).evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert font >= 26, "the front-desk line is prominent"
    screenshot(page, "kiosk-urgent")
    assert storage_lengths(page) == (0, 0)


def test_tiles_whose_ids_are_not_questions_still_get_their_own_answer(page: Page, web_url, stack_kb):
    """Topic ids like `needle_safety` read badly as words; each tile must still get its own answer."""
    open_kiosk(page, web_url)
    log = page.get_by_role("log", include_hidden=True)
    for topic in ("who_performs", "how_it_works", "how_long_lasts", "combined_care", "needle_safety"):
        page.get_by_role("button", name=stack_kb.fill(stack_kb.entry(topic).title), exact=True).click()
        expect(log.get_by_text(stack_kb.fill(stack_kb.entry(topic).answer))).to_be_visible()
        page.get_by_role("button", name=BACK).click()


#: A stand-in for the browser's speech engine (headless Chromium has no voices): it records what
#: the kiosk asks it to say, and lets the test end an utterance as a real engine would.
FAKE_SPEECH = """
(() => {
  window.__speech = { spoken: [], cancels: 0, current: null };
  class Utterance extends EventTarget {
    constructor(text) { super(); this.text = text; this.lang = ""; }
  }
  window.SpeechSynthesisUtterance = Utterance;
  Object.defineProperty(window, "speechSynthesis", {
    value: {
      speak(u) { window.__speech.spoken.push({ text: u.text, lang: u.lang }); window.__speech.current = u; },
      cancel() { window.__speech.cancels += 1; window.__speech.current = null; },
    },
  });
  window.__finishSpeaking = () => {
    const u = window.__speech.current;
    window.__speech.current = null;
    if (u) u.dispatchEvent(new Event("end"));
  };
})();
"""


def test_read_aloud_says_the_answer_and_can_be_stopped(page: Page, web_url, stack_kb):
    page.add_init_script(FAKE_SPEECH)
    page.set_viewport_size(PORTRAIT)
    open_kiosk(page, web_url)
    entry = stack_kb.entry("what_is_dry_needling")
    page.get_by_role("button", name=stack_kb.fill(entry.title), exact=True).click()
    log = page.get_by_role("log")
    expect(log.get_by_text(stack_kb.fill(entry.answer))).to_be_visible()

    read = log.get_by_role("button", name=READ_ALOUD)
    expect(read).to_have_count(1)
    read.click()
    spoken = page.evaluate("window.__speech.spoken")
    assert len(spoken) == 1 and stack_kb.fill(entry.answer) in spoken[0]["text"]
    assert spoken[0]["lang"] == "en"
    stop = log.get_by_role("button", name=words("kiosk", "stop_reading"))
    expect(stop).to_be_visible()

    before = page.evaluate("window.__speech.cancels")
    stop.click()  # a second tap stops it
    assert page.evaluate("window.__speech.cancels") == before + 1
    assert page.evaluate("window.__speech.current") is None
    expect(log.get_by_role("button", name=READ_ALOUD)).to_be_visible()
    assert len(page.evaluate("window.__speech.spoken")) == 1

    log.get_by_role("button", name=READ_ALOUD).click()
    page.evaluate("window.__finishSpeaking()")  # the engine reaches the end
    expect(log.get_by_role("button", name=READ_ALOUD)).to_be_visible()

    log.get_by_role("button", name=READ_ALOUD).click()
    cancels = page.evaluate("window.__speech.cancels")
    page.get_by_role("button", name=BACK).click()
    expect(tiles(page).first).to_be_visible()
    assert page.evaluate("window.__speech.cancels") == cancels + 1, "leaving the answer stops the reading"


def test_no_read_aloud_button_without_speech(page: Page, web_url, stack_kb):
    page.add_init_script("delete window.speechSynthesis; delete window.SpeechSynthesisUtterance;")
    open_kiosk(page, web_url)
    entry = stack_kb.entry("what_is_dry_needling")
    page.get_by_role("button", name=stack_kb.fill(entry.title), exact=True).click()
    log = page.get_by_role("log")
    expect(log.get_by_text(stack_kb.fill(entry.answer))).to_be_visible()
    expect(log.get_by_role("button", name=READ_ALOUD)).to_have_count(0)


def test_a_kiosk_that_cannot_read_the_clinic_settings_stays_neutral(page: Page, web_url):
    """No clinic name, no number, no words it was not given: an empty screen until the settings can be read."""
    page.route(f"{web_url}/config.json", lambda route: route.fulfill(status=503, json={"error": "unavailable"}))
    page.goto(f"{web_url}/kiosk.html")
    expect(page.locator("body.k-unavailable")).to_have_count(1)
    expect(page.locator("body.k-ready")).to_have_count(0)
    assert page.locator("body").inner_text().strip() == ""
    expect(page.get_by_role("button")).to_have_count(0)
    assert not re.search(r"\d", page.locator("body").text_content() or ""), "no number anywhere on the page"
    screenshot(page, "kiosk-unavailable")
