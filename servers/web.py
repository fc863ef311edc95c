"""The web server for bot/web: the clinic page, the chat widget and the kiosk (Sanic, as Rasa uses).

Every response carries security headers (a strict Content-Security-Policy the widget and kiosk
work under). `/config.json` tells the pages where the Rasa server is, what the clinic's numbers
are and every word they show (the strings file, filled in with the clinic's details), and
`/topics.json` lists the topics for the kiosk tiles, all from the same knowledge file, strings
file and clinic settings the bot answers from. Files outside bot/web are never served. When
they cannot be read, both answer 503 and the pages show nothing they have not been told. The
clinic's website (CORS_ORIGINS) may read both from its own pages, where the widget is embedded.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Dict, Iterable
from urllib.parse import urlsplit

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from needlewise import settings
from needlewise.knowledge import CATEGORIES, KnowledgeBase, KnowledgeFileError, KnowledgeStore
from needlewise.replies import topic_button
from needlewise.settings import ROOT
from needlewise.strings import PAGE_GROUPS, StringsStore, UiStrings

WEB_DIR = ROOT / "bot" / "web"
PERMISSIONS = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
#: What a widget embedded on the clinic's own website reads from here (with CORS for CORS_ORIGINS).
SHARED_JSON = ("/config.json", "/topics.json")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(rasa_url: str, frame_ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {origin_of(rasa_url)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def security_headers(rasa_url: str, frame_ancestors: str) -> Dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(rasa_url, frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": PERMISSIONS,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


def page_config(kb: KnowledgeBase, ui: UiStrings, rasa_url: str) -> Dict[str, Any]:
    """What the pages need to know: where Rasa is, the clinic's numbers and the words to show."""
    clinic = kb.clinic
    values = clinic.placeholders()
    return {
        "rasaUrl": rasa_url,
        "language": ui.language,
        "clinic": {
            "name": clinic.name,
            "phone": clinic.phone,
            "emergencyNumber": clinic.emergency_number,
            "crisisLine": clinic.crisis_line,
            "frontDesk": clinic.front_desk,
            "bookingUrl": clinic.booking_url,
        },
        "evidenceLevels": ui.evidence_levels(values),
        "strings": {group: ui.group(group, values) for group in PAGE_GROUPS},
    }


def topic_tiles(kb: KnowledgeBase, ui: UiStrings) -> Dict[str, Any]:
    """The kiosk's tiles: the topics of each category, with their buttons."""
    return {
        "categories": [
            {
                "id": category,
                "title": ui.text("categories", category, kb.clinic.placeholders()),
                "topics": [{"id": topic, **topic_button(kb, topic)} for topic in kb.topics_in(category)],
            }
            for category in CATEGORIES
        ]
    }


def create_app(
    rasa_url: str, frame_ancestors: str = "'self'", directory: Path = WEB_DIR, allowed_origins: Iterable[str] = ()
) -> Sanic:
    """The web app: bot/web's files, /config.json and /topics.json, all with the security headers.

    Pages of `allowed_origins` (the clinic's website) may read /config.json and /topics.json."""
    app = Sanic("needlewise_web")
    allowed = frozenset(allowed_origins)
    store, strings_store = KnowledgeStore(), StringsStore()
    headers = security_headers(rasa_url, frame_ancestors)

    def knowledge_json(build: Any) -> HTTPResponse:
        try:
            kb, ui = store.get(), strings_store.get()
        except KnowledgeFileError:
            return response.json({"error": "The knowledge or strings file cannot be read."}, status=503)
        return response.json(build(kb, ui))

    @app.get("/config.json")
    async def config_json(_request: Request) -> HTTPResponse:
        return knowledge_json(lambda kb, ui: page_config(kb, ui, rasa_url))

    @app.get("/topics.json")
    async def topics_json(_request: Request) -> HTTPResponse:
        return knowledge_json(topic_tiles)

    @app.get("/")
    async def index(_request: Request) -> HTTPResponse:
        return await response.file(directory / "index.html")

    app.static("/", str(directory), name="web")

    @app.on_response
    async def add_headers(request: Request, reply: HTTPResponse) -> None:
        for name, value in headers.items():
            reply.headers[name] = value
        if request.path in SHARED_JSON:
            reply.headers["Vary"] = "Origin"
            origin = request.headers.get("origin", "")
            if origin in allowed:
                reply.headers["Access-Control-Allow-Origin"] = origin

    return app


def main() -> None:
    values = settings.current()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=values.bind_host)
    parser.add_argument("--port", type=int, default=values.web_port)
    parser.add_argument("--rasa-url", default=f"http://{values.bind_host}:{values.rasa_port}")
    parser.add_argument("--frame-ancestors", default=values.frame_ancestors)
    args = parser.parse_args()
    # Paths only, and only when asked for: patients' words never reach this log.
    logging.getLogger("sanic.access").setLevel(logging.INFO if values.web_access_log else logging.WARNING)
    app = create_app(args.rasa_url, args.frame_ancestors, allowed_origins=values.cors_origins)
    app.run(host=args.host, port=args.port, workers=1, access_log=values.web_access_log, motd=False)


if __name__ == "__main__":
    main()
