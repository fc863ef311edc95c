"""`make screenshots`: the README's pictures of the pages in other languages, from the real servers.

Starts the real stack (action server, Rasa server, web server on free ports, a conversation store
in a temporary folder) with the shipped content (KNOWLEDGE_FILE, STRINGS_FILE, CLINIC_FILE and
the translations beside them), opens Debian's Chromium and writes, in landscape 1280 x 800:

  docs/screenshots/kiosk-ar.png   the kiosk's start screen in Arabic (kiosk.html?lang=ar)
  docs/screenshots/widget-pt.png  the demo clinic page with the chat widget in Portuguese
                                  (data-lang="pt-BR") after one answered question

It writes only these two files; the other pictures in docs/screenshots/ stay as they are.

    python -m tools.screenshots [--out FOLDER]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict

from needlewise import settings
from needlewise.locales import Locales
from needlewise.settings import ROOT

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
WIDGET_TAG = '<script src="/widget.js" data-server="" defer></script>'
#: the widget's question for the picture: this topic's title in Portuguese (a starter button)
QUESTION_TOPIC = "what_is_dry_needling"
TIMEOUT_MS = 60_000


def kiosk_arabic(page, web_url: str, path: Path) -> None:
    """The kiosk's start screen in Arabic."""
    page.goto(f"{web_url}/kiosk.html?lang=ar")
    page.locator("html[dir='rtl'][lang='ar']").wait_for(timeout=TIMEOUT_MS)
    page.locator(".k-tile").first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)  # the columns settle
    page.screenshot(path=str(path))


def widget_portuguese(page, web_url: str, path: Path) -> None:
    """The demo page with the widget in Portuguese, after one question (a starter) and its answer."""
    html = (ROOT / "bot" / "web" / "index.html").read_text(encoding="utf-8")
    if html.count(WIDGET_TAG) != 1:
        raise SystemExit("bot/web/index.html: the widget's script tag is not where it was expected")
    html = html.replace(WIDGET_TAG, WIDGET_TAG.replace(" defer>", ' data-lang="pt-BR" defer>'))
    demo = f"{web_url}/demo-pt.html"
    page.route(demo, lambda route: route.fulfill(status=200, body=html, content_type="text/html"))
    page.goto(demo)
    locale = Locales().find("pt-BR")
    if locale is None:
        raise SystemExit("Portuguese is not served: check bot/knowledge/pt.yml (make check-knowledge)")
    kb = locale.knowledge_base()
    question = kb.fill(kb.entry(QUESTION_TOPIC).title)
    launcher = page.get_by_role("button", name=locale.ui().text("widget", "launcher"), exact=True)
    launcher.click(timeout=TIMEOUT_MS)
    page.locator(".nw-welcome").get_by_role("button", name=question, exact=True).click(timeout=TIMEOUT_MS)
    answer = page.locator(".nw-turn-bot[data-kind='answer'][lang='pt-BR']")
    answer.first.wait_for(timeout=TIMEOUT_MS)
    # the question at the top of the conversation, its answer below it
    page.locator(".nw-turn-user").last.evaluate("el => { el.parentElement.scrollTop = el.offsetTop - 8; }")
    page.locator(".nw-input").blur()
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))


SHOTS: Dict[str, Callable] = {"kiosk-ar.png": kiosk_arabic, "widget-pt.png": widget_portuguese}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the pictures")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from servers.stack import Stack, StackConfig

    values = settings.current()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="needlewise-screenshots-") as folder:
        config = StackConfig.free(
            model=values.model,
            log_dir=Path(folder) / "logs",
            extra_env={"TRACKER_STORE_URL": f"sqlite:///{Path(folder) / 'conversations.db'}"},
        )
        print(f"Starting the servers (logs in {config.log_dir} while they run)...", flush=True)
        with Stack(config), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(values.chromium), args=CHROMIUM_ARGS)
            try:
                for name, shoot in SHOTS.items():
                    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")
                    try:
                        shoot(context.new_page(), config.web_url, args.out / name)
                    finally:
                        context.close()
                    print(f"Wrote {args.out / name}", flush=True)
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
