"""Accessibility (axe-core) and the Content-Security-Policy the pages work under."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.web.conftest import ask, describe, open_chat, run_axe, words

SOURCES = words("client", "sources_button")


def assert_no_serious_violations(page: Page, where: str) -> None:
    violations = run_axe(page)
    if violations:
        print(f"axe violations on {where}:\n{describe(violations)}")
    assert not violations, f"serious or critical accessibility violations on {where}:\n{describe(violations)}"


def show_widget_answer(page: Page, web_url: str) -> None:
    open_chat(page, web_url)
    ask(page, "what is dry needling?")
    sources = page.get_by_role("log").get_by_role("button", name=SOURCES)
    sources.click()
    expect(sources).to_have_attribute("aria-expanded", "true")


def show_kiosk_answer(page: Page, web_url: str, kb, query: str = "") -> None:
    page.goto(f"{web_url}/kiosk.html{query}")
    tile = kb.fill(kb.entry("does_it_work").title)
    page.locator("#k-groups").get_by_role("button", name=tile, exact=True).click()
    sources = page.get_by_role("log").get_by_role("button", name=SOURCES)
    sources.click()
    expect(sources).to_have_attribute("aria-expanded", "true")


def test_axe_on_the_demo_page_with_an_answer_open(axe_page: Page, web_url):
    show_widget_answer(axe_page, web_url)
    assert_no_serious_violations(axe_page, "the demo page with the widget open")


def test_axe_on_the_widget_with_an_urgent_reply_on_a_phone(axe_page: Page, web_url):
    axe_page.set_viewport_size({"width": 360, "height": 740})
    open_chat(axe_page, web_url)
    ask(axe_page, "my chest hurts and i cant breathe")
    expect(axe_page.get_by_role("heading", name=words("client", "urgent_title"))).to_be_visible()
    assert_no_serious_violations(axe_page, "the widget with an urgent reply, 360 px wide")


def test_axe_on_the_kiosk_start_answer_and_idle_warning(axe_page: Page, web_url, stack_kb):
    axe_page.set_viewport_size({"width": 1080, "height": 1920})
    show_kiosk_answer(axe_page, web_url, stack_kb, "?idle=3")
    assert_no_serious_violations(axe_page, "the kiosk answer screen")
    warning = axe_page.get_by_role("alertdialog")
    expect(warning).to_be_visible(timeout=15_000)
    assert_no_serious_violations(axe_page, "the kiosk idle warning")
    expect(warning).to_be_hidden(timeout=15_000)
    expect(axe_page.locator(".k-tile").first).to_be_visible()
    assert_no_serious_violations(axe_page, "the kiosk start screen")


@pytest.mark.parametrize("path", ["/", "/kiosk.html", "/widget.js", "/needlewise-client.js"])
def test_every_page_is_served_with_a_strict_csp(web_url, path):
    response = requests.get(f"{web_url}{path}", timeout=10)
    assert response.status_code == 200
    policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    # the pages call the bot on their own origin: no other address (PUBLIC_URL is not set here)
    assert policy.split("connect-src", 1)[1].split(";", 1)[0].split() == ["'self'"]


def test_the_pages_work_under_the_csp_without_violations(page: Page, web_url, recorder, stack_kb):
    """The `page` fixture runs under the real CSP; it also fails on any violation at teardown."""
    show_widget_answer(page, web_url)
    show_kiosk_answer(page, web_url, stack_kb)
    page.get_by_role("button", name=words("kiosk", "back")).click()
    assert not recorder.csp_violations(), recorder.csp_violations()
    assert not [line for line in recorder.console if line.startswith("error")], recorder.console


def test_no_markup_in_the_pages_needs_inline_styles_or_scripts(web_url):
    for path in ("/", "/kiosk.html"):
        html = requests.get(f"{web_url}{path}", timeout=10).text
        assert not re.search(r"<style\b", html, re.I)
        assert not re.search(r"\sstyle\s*=", html, re.I)
        assert not re.search(r"<script\b(?![^>]*\bsrc=)", html, re.I), "inline script"
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), "inline event handler"
