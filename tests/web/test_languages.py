"""The widget and the kiosk in every language the bot serves, in a real browser against the real bot.

The session stack serves English with stand-in Portuguese (pt-BR) and Arabic translations beside it
(tests/conftest.py `write_translations`): every text of a translation is the English one with its
language's mark. What the pages must show is computed from the same files (`stack_locales`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
from playwright.sync_api import Page, expect

from needlewise.knowledge import CATEGORIES, KnowledgeFileError, load_knowledge
from needlewise.locales import Locales
from needlewise.settings import ROOT
from needlewise.strings import load_strings
from needlewise.translations import strings_file_of, translation_files
from tests.conftest import FIXTURE_CLINIC
from tests.web.conftest import another_site, describe, run_axe, screenshot

LANDSCAPE = {"width": 1280, "height": 800}
WEBHOOK = "/webhooks/rest/webhook"


@pytest.fixture(autouse=True)
def translations_served(stack_knowledge_file: Path) -> None:
    """Every test here needs the stand-in translations served: if one cannot be, say why."""
    for language, path in translation_files(stack_knowledge_file).items():
        try:
            load_knowledge(path, FIXTURE_CLINIC)
            load_strings(strings_file_of(path))
        except KnowledgeFileError as error:
            pytest.fail(f"the test stack cannot serve its stand-in {language!r} translation:\n{error}")


def say(locales: Locales, tag: str, group: str, key: str, **values: str) -> str:
    """A string of `tag`'s strings file as the pages show it: the clinic's details and `values` filled in."""
    locale = locales.get(tag)
    return locale.ui().text(group, key, {**locale.knowledge_base().clinic.placeholders(), **values})


def answer_of(locales: Locales, tag: str, topic: str) -> str:
    kb = locales.get(tag).knowledge_base()
    return kb.fill(kb.entry(topic).answer)


def title_of(locales: Locales, tag: str, topic: str) -> str:
    kb = locales.get(tag).knowledge_base()
    return kb.fill(kb.entry(topic).title)


def language_name(locales: Locales, tag: str) -> str:
    return locales.get(tag).ui().text("client", "language_name")


def custom_of(response) -> dict:
    """The `custom` of a reply (the reply contract: exactly one)."""
    customs = [m["custom"] for m in response.json() if isinstance(m.get("custom"), dict)]
    assert len(customs) == 1, customs
    return customs[0]


def turn_posts(page: Page, web_url: str) -> list:
    """The JSON body of every turn the page sends."""
    sent = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data_json) if r.url == f"{web_url}{WEBHOOK}" and r.method == "POST" else None,
    )
    return sent


def is_reply(response) -> bool:
    return response.url.endswith(WEBHOOK) and response.request.method == "POST"


def assert_no_serious_violations(page: Page, where: str) -> None:
    violations = run_axe(page)
    assert not violations, f"serious or critical accessibility violations on {where}:\n{describe(violations)}"


# --- the kiosk ---------------------------------------------------------------------------------------


def kiosk_tiles(page: Page):
    return page.locator("#k-groups").get_by_role("button")


def expected_tiles(locales: Locales, tag: str) -> list:
    kb = locales.get(tag).knowledge_base()
    return [kb.fill(kb.entry(topic).title) for category in CATEGORIES for topic in kb.topics_in(category)]


def expect_kiosk_in(page: Page, locales: Locales, tag: str) -> None:
    """The whole start screen speaks `tag`: the page's lang and dir, its words and its tiles."""
    html = page.locator("html")
    expect(html).to_have_attribute("lang", tag)
    expect(html).to_have_attribute("dir", "rtl" if tag == "ar" else "ltr")
    expect(page.locator("#k-start-title")).to_have_text(say(locales, tag, "kiosk", "start_title"))
    expect(page.locator("#k-privacy")).to_have_text(say(locales, tag, "kiosk", "privacy"))
    expect(page.locator(".k-footer")).to_have_text(say(locales, tag, "kiosk", "footer"))
    expect(kiosk_tiles(page)).to_have_text(expected_tiles(locales, tag))
    expect(page.get_by_role("button", name=language_name(locales, tag), exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.title() == say(locales, tag, "kiosk", "page_title")


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found, selector
    return found


def test_the_arabic_kiosk_reads_right_to_left_with_arabic_tiles_and_answers(
    page: Page, web_url: str, stack_locales: Locales
):
    page.set_viewport_size(LANDSCAPE)
    sent = turn_posts(page, web_url)
    page.goto(f"{web_url}/kiosk.html?lang=ar")
    expect_kiosk_in(page, stack_locales, "ar")
    kb = stack_locales.get("ar").knowledge_base()
    titles = [say(stack_locales, "ar", "categories", c) for c in CATEGORIES if kb.topics_in(c)]
    expect(page.locator("#k-groups h2")).to_have_text(titles)
    expect(page.locator("#k-emergency")).to_have_attribute("dir", "ltr")  # the number reads left to right

    # the layout mirrors: the clinic's name on the right, the first column of topics on the right,
    # each tile's coloured edge on its right (its inline start), the titles aligned right
    brand, width = box(page, ".k-brand"), LANDSCAPE["width"]
    assert brand["x"] + brand["width"] > width - 80 and brand["x"] > width / 2, brand
    columns = page.locator(".k-column")
    assert columns.count() >= 2
    assert columns.nth(0).bounding_box()["x"] > columns.nth(1).bounding_box()["x"]
    start_title = box(page, "#k-start-title")
    assert start_title["x"] + start_title["width"] > width - 80
    tile = kiosk_tiles(page).first
    assert tile.evaluate("el => getComputedStyle(el).borderRightWidth") == "8px"
    assert tile.evaluate("el => getComputedStyle(el).borderLeftWidth") == "2px"
    assert tile.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, "kiosk-ar")

    # a tile: the answer of that topic from the Arabic knowledge, in a reply marked Arabic
    with page.expect_response(is_reply) as reply:
        page.get_by_role("button", name=title_of(stack_locales, "ar", "what_is_dry_needling"), exact=True).click()
    assert custom_of(reply.value)["lang"] == "ar"
    assert sent[0]["metadata"]["lang"] == "ar" and sent[0]["message"] == "/what_is_dry_needling"
    log = page.get_by_role("log")
    expect(log.get_by_text(answer_of(stack_locales, "ar", "what_is_dry_needling"))).to_be_visible()
    turn = log.locator(".nw-turn-bot").last
    expect(turn).to_have_attribute("lang", "ar")
    expect(turn).to_have_attribute("dir", "rtl")
    expect(turn.locator(".nw-bubble").first).to_have_attribute("lang", "ar")
    expect(log.locator(".nw-turn-user").last).to_have_attribute("lang", "ar")
    expect(page.get_by_role("button", name=say(stack_locales, "ar", "kiosk", "back"))).to_be_visible()
    expect(turn.get_by_role("button", name=say(stack_locales, "ar", "client", "sources_button"))).to_be_visible()
    screenshot(page, "kiosk-ar-answer")


def test_the_kiosk_language_buttons_switch_language_and_the_idle_reset_returns_to_the_default(
    page: Page, web_url: str, stack_locales: Locales
):
    page.set_viewport_size(LANDSCAPE)
    sent = turn_posts(page, web_url)
    page.goto(f"{web_url}/kiosk.html?idle=6")
    expect_kiosk_in(page, stack_locales, "en")
    choice = page.get_by_role("group", name=say(stack_locales, "en", "kiosk", "language_choice"))
    names = [language_name(stack_locales, locale.tag) for locale in stack_locales.served()]
    expect(choice.get_by_role("button")).to_have_text(names)
    for button in choice.get_by_role("button").all():
        assert button.bounding_box()["height"] >= 60, "a large touch target"
    expect(choice.get_by_role("button", name=language_name(stack_locales, "ar"))).to_have_attribute("lang", "ar")

    choice.get_by_role("button", name=language_name(stack_locales, "pt-BR"), exact=True).click()
    expect_kiosk_in(page, stack_locales, "pt-BR")
    with page.expect_response(is_reply) as reply:
        page.get_by_role("button", name=title_of(stack_locales, "pt-BR", "does_it_hurt"), exact=True).click()
    assert custom_of(reply.value)["lang"] == "pt-BR" and sent[-1]["metadata"]["lang"] == "pt-BR"
    expect(page.get_by_text(answer_of(stack_locales, "pt-BR", "does_it_hurt"))).to_be_visible()

    # another language is another visitor's conversation: the last one is deleted
    page.get_by_role("button", name=say(stack_locales, "pt-BR", "kiosk", "back")).click()
    choice = page.get_by_role("group", name=say(stack_locales, "pt-BR", "kiosk", "language_choice"))
    with page.expect_request(f"{web_url}/webhooks/rest/forget") as forget:
        choice.get_by_role("button", name=language_name(stack_locales, "ar"), exact=True).click()
    assert forget.value.post_data_json == {"sender": sent[-1]["sender"]}
    expect_kiosk_in(page, stack_locales, "ar")
    with page.expect_response(is_reply) as reply:
        page.get_by_role("button", name=title_of(stack_locales, "ar", "does_it_hurt"), exact=True).click()
    assert custom_of(reply.value)["lang"] == "ar"
    assert sent[-1]["sender"] != sent[0]["sender"]
    expect(page.get_by_text(answer_of(stack_locales, "ar", "does_it_hurt"))).to_be_visible()

    # nobody answers the idle warning (in Arabic): the kiosk starts again in the clinic's language
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_visible(timeout=15_000)
    expect(warning.get_by_role("heading")).to_have_text(say(stack_locales, "ar", "kiosk", "idle_title"))
    expect(warning).to_be_hidden(timeout=15_000)
    expect_kiosk_in(page, stack_locales, "en")
    expect(page.get_by_text(answer_of(stack_locales, "ar", "does_it_hurt"))).to_have_count(0)


def test_a_question_typed_in_another_language_switches_the_kiosk_to_it(
    page: Page, web_url: str, stack_locales: Locales
):
    page.goto(f"{web_url}/kiosk.html")
    expect_kiosk_in(page, stack_locales, "en")
    page.get_by_role("button", name=say(stack_locales, "en", "kiosk", "ask_open")).click()
    page.get_by_role("textbox").fill("o agulhamento seco dói muito?")
    with page.expect_response(is_reply) as reply:
        page.get_by_role("button", name=say(stack_locales, "en", "kiosk", "ask"), exact=True).click()
    assert custom_of(reply.value)["lang"] == "pt-BR"
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    expect(page.get_by_role("button", name=say(stack_locales, "pt-BR", "kiosk", "back"))).to_be_visible()
    expect(page.get_by_role("log").locator(".nw-turn-bot").last).to_have_attribute("lang", "pt-BR")
    page.get_by_role("button", name=say(stack_locales, "pt-BR", "kiosk", "back")).click()
    expect_kiosk_in(page, stack_locales, "pt-BR")


def test_axe_on_the_arabic_kiosk(axe_page: Page, web_url: str, stack_locales: Locales):
    axe_page.set_viewport_size(LANDSCAPE)
    axe_page.goto(f"{web_url}/kiosk.html?lang=ar")
    expect_kiosk_in(axe_page, stack_locales, "ar")
    assert_no_serious_violations(axe_page, "the Arabic kiosk's start screen")
    axe_page.get_by_role("button", name=title_of(stack_locales, "ar", "does_it_work"), exact=True).click()
    sources = axe_page.get_by_role("log").get_by_role(
        "button", name=say(stack_locales, "ar", "client", "sources_button")
    )
    sources.click()
    expect(sources).to_have_attribute("aria-expanded", "true")
    assert_no_serious_violations(axe_page, "the Arabic kiosk's answer screen")


# --- the widget ---------------------------------------------------------------------------------------


def host_page(page: Page, web_url: str, lang: str = "en", data_lang: Optional[str] = None) -> str:
    """A page of the clinic's site (served at the web server's origin by a route), in `lang`, embedding the widget."""
    html = (ROOT / "bot" / "web" / "index.html").read_text(encoding="utf-8")
    tag = '<script src="/widget.js" data-server="" defer></script>'
    own = f' data-lang="{data_lang}"' if data_lang else ""
    html = html.replace(tag, f'<script src="/widget.js" data-server=""{own} defer></script>')
    html = html.replace('<html lang="en">', f'<html lang="{lang}">')
    url = f"{web_url}/embed-{lang}-{data_lang or 'page'}.html"
    page.route(url, lambda route: route.fulfill(status=200, body=html, content_type="text/html"))
    return url


def open_widget(page: Page, url: str, locales: Locales, tag: str) -> None:
    page.goto(url)
    page.get_by_role("button", name=say(locales, tag, "widget", "launcher"), exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()


def type_question(page: Page, locales: Locales, tag: str, text: str):
    box = page.get_by_role("textbox", name=say(locales, tag, "widget", "question_label"), exact=True)
    box.fill(text)
    with page.expect_response(is_reply) as reply:
        box.press("Enter")
    return custom_of(reply.value)


def expect_widget_in(page: Page, locales: Locales, tag: str) -> None:
    """The widget's own words are `tag`'s, and its root says so."""
    root = page.locator(".nw-root")
    expect(root).to_have_attribute("lang", tag)
    expect(root).to_have_attribute("dir", "rtl" if tag == "ar" else "ltr")
    dialog = page.get_by_role("dialog", name=say(locales, tag, "widget", "title"))
    expect(dialog).to_be_visible()
    box = dialog.get_by_role("textbox", name=say(locales, tag, "widget", "question_label"), exact=True)
    expect(box).to_have_attribute("placeholder", say(locales, tag, "widget", "placeholder"))
    expect(dialog.get_by_role("button", name=say(locales, tag, "widget", "send"), exact=True)).to_be_visible()
    expect(dialog.locator(".nw-disclaimer")).to_have_text(say(locales, tag, "widget", "disclaimer"))
    expect(dialog.locator(".nw-welcome .nw-bubble").first).to_have_text(say(locales, tag, "widget", "welcome"))
    expect(dialog.locator(".nw-welcome")).to_have_attribute("lang", tag)
    starter = title_of(locales, tag, "what_is_dry_needling")
    expect(dialog.locator(".nw-welcome").get_by_role("button", name=starter, exact=True)).to_be_visible()


def test_the_portuguese_widget_speaks_portuguese_and_follows_the_patient_into_english(
    page: Page, web_url: str, stack_locales: Locales
):
    sent = turn_posts(page, web_url)
    open_widget(page, host_page(page, web_url, data_lang="pt-BR"), stack_locales, "pt-BR")
    expect_widget_in(page, stack_locales, "pt-BR")

    custom = type_question(page, stack_locales, "pt-BR", "o agulhamento seco dói muito?")
    assert custom["lang"] == "pt-BR"
    assert sent[-1]["metadata"] == {"surface": "web", "lang": "pt-BR"}
    log = page.get_by_role("log")
    portuguese = log.locator(".nw-turn-bot:not(.nw-welcome)").first
    expect(portuguese).to_have_attribute("lang", "pt-BR")
    expect(portuguese.locator(".nw-bubble").first).to_have_attribute("lang", "pt-BR")
    expect(log.locator(".nw-turn-user").last).to_have_attribute("lang", "pt-BR")
    screenshot(page, "widget-pt")

    # the patient writes in English: the reply is English, and so is the widget from now on
    custom = type_question(page, stack_locales, "pt-BR", "what is dry needling and how does it work?")
    assert custom["lang"] == "en"
    expect_widget_in(page, stack_locales, "en")
    english = log.locator(".nw-turn-bot:not(.nw-welcome)").last
    expect(english).to_have_attribute("lang", "en")
    expect(english.locator(".nw-bubble").first).to_have_attribute("lang", "en")
    expect(portuguese).to_have_attribute("lang", "pt-BR")  # what was said in Portuguese stays marked so
    if custom["kind"] == "answer":
        expect(english.get_by_role("button", name=say(stack_locales, "en", "client", "sources_button"))).to_be_visible()
    type_question(page, stack_locales, "en", "thanks")
    assert sent[-1]["metadata"]["lang"] == "en"

    # after a reload: still English, each reply still marked with its own language
    page.reload()
    expect_widget_in(page, stack_locales, "en")
    expect(log.locator(".nw-turn-bot:not(.nw-welcome)").first).to_have_attribute("lang", "pt-BR")


def test_the_widget_starts_in_the_host_pages_language(page: Page, web_url: str, stack_locales: Locales):
    open_widget(page, host_page(page, web_url, lang="ar"), stack_locales, "ar")
    expect_widget_in(page, stack_locales, "ar")
    # mirrored: the panel at the bottom left, the question box's text from the right
    panel = page.get_by_role("dialog").bounding_box()
    assert panel["x"] < 40, panel
    box = page.locator(".nw-input")
    assert box.evaluate("el => getComputedStyle(el).direction") == "rtl"
    with page.expect_response(is_reply) as reply:
        page.locator(".nw-welcome").get_by_role(
            "button", name=title_of(stack_locales, "ar", "what_is_dry_needling"), exact=True
        ).click()
    assert custom_of(reply.value)["lang"] == "ar"
    expect(page.get_by_role("log").get_by_text(answer_of(stack_locales, "ar", "what_is_dry_needling"))).to_be_visible()
    screenshot(page, "widget-ar")


def test_axe_on_the_portuguese_widget_with_an_answer(axe_page: Page, web_url: str, stack_locales: Locales):
    open_widget(axe_page, host_page(axe_page, web_url, data_lang="pt-BR"), stack_locales, "pt-BR")
    with axe_page.expect_response(is_reply):
        axe_page.locator(".nw-welcome").get_by_role(
            "button", name=title_of(stack_locales, "pt-BR", "does_it_work"), exact=True
        ).click()
    sources = axe_page.get_by_role("log").get_by_role(
        "button", name=say(stack_locales, "pt-BR", "client", "sources_button")
    )
    sources.click()
    expect(sources).to_have_attribute("aria-expanded", "true")
    assert_no_serious_violations(axe_page, "the Portuguese widget with an answer")


def test_an_offline_widget_on_an_arabic_page_says_so_in_arabic(
    page: Page, web_url: str, stack_locales: Locales, tmp_path: Path
):
    """A site that may not read the clinic's settings: the widget has only /offline.js, in the page's language."""
    html = (ROOT / "bot" / "web" / "index.html").read_text(encoding="utf-8")
    html = html.replace('<html lang="en">', '<html lang="ar" dir="rtl">')
    html = html.replace('src="/widget.js"', f'src="{web_url}/widget.js"')
    (tmp_path / "index.html").write_text(html, encoding="utf-8")
    offline = stack_locales.get("ar").ui().group("offline")
    with another_site(tmp_path) as site:
        page.goto(f"{site}/index.html")
        page.get_by_role("button", name=offline["launcher"], exact=True).click()
        dialog = page.get_by_role("dialog", name=offline["title"])
        expect(dialog.get_by_text(offline["cannot_connect"], exact=True)).to_be_visible()
        expect(page.locator(".nw-root")).to_have_attribute("lang", "ar")
        expect(page.locator(".nw-root")).to_have_attribute("dir", "rtl")
