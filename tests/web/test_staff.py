"""The staff report in Chromium: the sign-in page at /staff/ on the real web server, and the file
`make report` writes, opened on its own. Neither asks any other host for anything."""

from __future__ import annotations

from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from tests.conftest import STAFF_TOKEN, new_sender
from tests.web.conftest import screenshot
from tools import report as report_tool

ODD = "glorp blat zzkt 07700 900123"  # the bot cannot answer it (a fallback)


def talk(stack) -> None:
    """A few conversations, so the report has something in each part."""
    url = f"{stack.config.web_url}/webhooks/rest/webhook"
    urgent = "my chest hurts and i cant breathe"
    for text in ("what is dry needling?", "does it hurt?", "is it safe?", ODD, ODD, urgent):
        requests.post(url, json={"sender": new_sender("staff"), "message": text}, timeout=60).raise_for_status()


def test_staff_sign_in_then_the_report(page: Page, stack, web_url):
    talk(stack)
    page.goto(f"{web_url}/staff/")
    token = page.get_by_label("Staff token")
    expect(token).to_be_focused()
    token.fill("not-the-token")
    token.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    token.fill(STAFF_TOKEN)
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("What patients asked")
    expect(page.get_by_role("heading", name="Questions the assistant could not answer")).to_be_visible()
    expect(page.locator("svg[role=img]").first).to_be_visible()
    expect(page.get_by_role("cell", name="glorp blat zzkt [phone]")).to_be_visible()
    assert "07700" not in page.content() and STAFF_TOKEN not in page.url
    screenshot(page, "staff-report", full_page=True)
    page.reload()  # made afresh on load, the token kept for the tab
    expect(page.get_by_role("heading", name="Questions the assistant could not answer")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Staff token")).to_be_visible()


def test_the_report_file_opens_on_its_own_with_no_request_anywhere(browser, stack, tmp_path: Path):
    out = tmp_path / "report"
    report_tool.main(["--store", stack.config.values().tracker_store_url, "--out", str(out), "--min-count", "1"])
    context = browser.new_context()
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    try:
        page.goto((out / "index.html").as_uri())
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("svg[role=img]").first).to_be_visible()
    finally:
        context.close()
    assert requested == [(out / "index.html").as_uri()], requested
