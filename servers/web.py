"""The web server for bot/web: the clinic page, the chat widget and the kiosk (Sanic, as Rasa uses).

Every response carries security headers (a strict Content-Security-Policy the widget and kiosk
work under). `/config.json` tells the pages the clinic's numbers and every word they show (the
strings file, filled in with the clinic's details), and `/topics.json` lists the topics for the
kiosk tiles, all from the same knowledge file, strings file and clinic settings the bot answers
from. Each takes `?lang=<tag>` (any tag of a served language: `pt`, `pt-BR`, `ar`): the words and
tiles of that language (needlewise/locales.py), else the default language's; the config also
lists every served language with its own name and writing direction, so a page can offer them.
Files outside bot/web are never served. When they cannot be read, both answer 503 and the
pages show nothing they have not been told; `/offline.js` holds the only words a widget on
another site may show then (the strings file's `offline` group, read as a script, so no CORS;
`/offline.js?lang=<tag>` gives that language's and names it). The clinic's website (CORS_ORIGINS) may read
/config.json and /topics.json and send turns.

The pages call the bot on their own origin (`PUBLIC_URL` when set): in `make run` this server
forwards `/webhooks/rest/...` to Rasa, naming the patient's address in a `Forwarded` header
that Rasa trusts only with the stack's secret; in `make cluster` nginx does the same. No
internal address reaches a browser. `GET /health` reports every part: 200, or 503 if one is down.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional
from urllib.parse import urlsplit

import aiohttp
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from needlewise import settings
from needlewise.knowledge import CATEGORIES, KnowledgeBase, KnowledgeFileError
from needlewise.locales import Locale, Locales, direction
from needlewise.replies import topic_button
from needlewise.settings import ROOT
from needlewise.strings import PAGE_GROUPS, UiStrings
from servers.health import Backends, Health

WEB_DIR = ROOT / "bot" / "web"
#: The staff page (servers/staff/): never under bot/web, never linked from a patient's page.
STAFF_DIR = ROOT / "servers" / "staff"
STAFF_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
PERMISSIONS = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
#: What a widget embedded on the clinic's own website reads from here (with CORS for CORS_ORIGINS).
SHARED_JSON = ("/config.json", "/topics.json")
#: The REST channel's routes, forwarded to Rasa (the pages call them on their own origin).
REST_ROUTES = ("webhook", "forget")

logger = logging.getLogger("needlewise.web")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(public_url: str, frame_ancestors: str) -> str:
    connect = " ".join(["'self'", *([origin_of(public_url)] if public_url else [])])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def security_headers(public_url: str, frame_ancestors: str) -> Dict[str, str]:
    """The headers of every page and file (the web server's and nginx's, see servers/nginx.py)."""
    return {
        "Content-Security-Policy": content_security_policy(public_url, frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": PERMISSIONS,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


def language_entry(ui: UiStrings) -> Dict[str, str]:
    """One language as the pages list it: its tag, its own name (from its strings file), its direction."""
    return {"code": ui.language, "name": ui.text("client", "language_name"), "dir": direction(ui.language)}


def served_languages(locales: Locales) -> List[Dict[str, str]]:
    """Every language served now, the default first (`language_entry` of each)."""
    found = []
    for locale in locales.served():
        try:
            found.append(language_entry(locale.ui()))
        except KnowledgeFileError:
            continue
    return found


def page_config(
    kb: KnowledgeBase,
    ui: UiStrings,
    public_url: str = "",
    languages: Optional[List[Dict[str, str]]] = None,
    default_language: str = "",
) -> Dict[str, Any]:
    """What the pages need to know: where the bot is for browsers, the clinic's numbers and the words.

    `rasaUrl` is the public address, or empty: the pages then call the bot on their own origin.
    `language` is the tag of the words (`ui`), `dir` its writing direction; `languages` lists every
    served language (by default only this one) and `defaultLanguage` is the clinic's own."""
    clinic = kb.clinic
    values = clinic.placeholders()
    return {
        "rasaUrl": public_url,
        "language": ui.language,
        "dir": direction(ui.language),
        "defaultLanguage": default_language or ui.language,
        "languages": languages if languages is not None else [language_entry(ui)],
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


def offline_script(ui: UiStrings, say_language: bool = False) -> str:
    """/offline.js: the words a widget shows when it cannot read /config.json (no numbers in them).

    With `say_language` (a page that asked for a language) a second line names the language the words
    are in and its direction, so the widget marks them rightly even when its own is not served."""
    words = json.dumps(ui.group("offline", {}), ensure_ascii=False).replace("</", "<\\/")
    script = f"window.NeedlewiseOffline = {words};\n"
    if say_language:
        language = json.dumps({"lang": ui.language, "dir": direction(ui.language)})
        script += f"window.NeedlewiseOfflineLanguage = {language};\n"
    return script


def forwarded_header(client: str, secret: str) -> str:
    """RFC 7239 `Forwarded`, with the secret Rasa's Sanic checks (FORWARDED_SECRET) before trusting `for`."""
    address = f'"[{client}]"' if ":" in client else client
    return f"for={address or 'unknown'};secret={secret}"


def create_app(
    public_url: str = "",
    frame_ancestors: str = "'self'",
    directory: Path = WEB_DIR,
    allowed_origins: Iterable[str] = (),
    backends: Optional[Backends] = None,
    locales: Optional[Locales] = None,
) -> Sanic:
    """The web app: bot/web's files, /config.json, /topics.json, /offline.js, /health, and the REST
    channel forwarded to Rasa, all with the security headers.

    Pages of `allowed_origins` (the clinic's website) may read /config.json and /topics.json and send
    turns. `locales` are the languages served (by default those of the current settings); each file
    is reread when it changes."""
    app = Sanic("needlewise_web")
    backends = backends or Backends()
    allowed = frozenset(allowed_origins)
    languages = locales or Locales()
    headers = security_headers(public_url, frame_ancestors)
    health = Health(backends, languages.default.knowledge, languages.default.strings)
    turn_timeout = aiohttp.ClientTimeout(total=settings.current().turn_timeout_seconds + 15)

    @app.before_server_start
    async def open_session(app: Sanic, _loop: Any) -> None:
        app.ctx.http = aiohttp.ClientSession()

    @app.after_server_stop
    async def close_session(app: Sanic, _loop: Any) -> None:
        await app.ctx.http.close()

    def asked_locale(request: Request) -> Locale:
        """The served language of `?lang=`; the default one when it is missing, unknown or not served."""
        return languages.get(request.args.get("lang"))

    def offline_strings(tag: Optional[str]) -> UiStrings:
        """The strings of `tag`'s served language, else the default language's (raises if neither reads)."""
        locale = languages.find(tag)
        if locale is not None:
            try:
                return locale.ui()
            except KnowledgeFileError:
                pass
        return languages.default.ui()

    def knowledge_json(locale: Locale, build: Callable[[KnowledgeBase, UiStrings], Any]) -> HTTPResponse:
        try:
            data = build(locale.knowledge_base(), locale.ui())
        except KnowledgeFileError:
            return response.json({"error": "The knowledge or strings file cannot be read."}, status=503)
        return response.json(data)

    @app.get("/config.json")
    async def config_json(request: Request) -> HTTPResponse:
        return knowledge_json(
            asked_locale(request),
            lambda kb, ui: page_config(kb, ui, public_url, served_languages(languages), languages.default.tag),
        )

    @app.get("/topics.json")
    async def topics_json(request: Request) -> HTTPResponse:
        return knowledge_json(asked_locale(request), topic_tiles)

    @app.get("/offline.js")
    async def offline_js(request: Request) -> HTTPResponse:
        try:
            asked = request.args.get("lang")
            script = offline_script(offline_strings(asked), say_language=asked is not None)
        except KnowledgeFileError:
            return response.text("/* unavailable */\n", status=503, content_type="text/javascript")
        return response.text(script, content_type="text/javascript; charset=utf-8")

    @app.get("/health")
    async def health_route(request: Request) -> HTTPResponse:
        healthy, report = await health.report(request.app.ctx.http)
        return response.json(report, status=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    async def forward(request: Request, route: str) -> HTTPResponse:
        """A turn (or "forget me") from a page, forwarded to Rasa with the patient's address."""
        if not backends.rasa:
            return response.json({"error": "No Rasa server is configured."}, status=503)
        if route not in REST_ROUTES:
            return response.json({"error": "Not found."}, status=404)
        forwarded = {"Content-Type": "application/json"}
        if backends.forwarded_secret:
            forwarded["Forwarded"] = forwarded_header(request.ip, backends.forwarded_secret)
        try:
            async with request.app.ctx.http.post(
                f"{backends.rasa[0]}/webhooks/rest/{route}", data=request.body, headers=forwarded, timeout=turn_timeout
            ) as reply:
                body = await reply.read()
                kind = reply.headers.get("Content-Type", "application/json")
                return response.raw(body, status=reply.status, content_type=kind)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            logger.error("Rasa could not be reached (%s).", type(error).__name__)
            return response.json({"error": "The assistant cannot be reached now."}, status=502)

    @app.post("/webhooks/rest/<route:str>")
    async def rest(request: Request, route: str) -> HTTPResponse:
        return await forward(request, route)

    @app.options("/webhooks/rest/<route:str>")
    async def rest_preflight(request: Request, route: str) -> HTTPResponse:
        return response.empty(status=204 if route in REST_ROUTES else 404)

    staff_token = settings.current().staff_token

    def staff_allowed(request: Request) -> bool:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        return bool(staff_token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), staff_token)

    async def staff_report() -> Dict[str, Any]:
        from needlewise.report import build

        values = settings.current()
        kb = languages.default.knowledge_base()
        url = backends.tracker_store_url or values.tracker_store_url
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: build(url, kb, values.range_days, values.report_min_count))

    async def staff_file(name: str) -> HTTPResponse:
        if not staff_token:
            return response.json({"error": "The staff page is off (no STAFF_TOKEN)."}, status=404)
        return await response.file(STAFF_DIR / name)

    @app.get("/staff", strict_slashes=True)
    async def staff_redirect(_request: Request) -> HTTPResponse:
        return response.redirect("/staff/")

    @app.get("/staff/", strict_slashes=True)
    async def staff_index(_request: Request) -> HTTPResponse:
        return await staff_file("index.html")

    @app.get("/staff/staff.js")
    async def staff_script(_request: Request) -> HTTPResponse:
        return await staff_file("staff.js")

    @app.get("/staff/staff.css")
    async def staff_style(_request: Request) -> HTTPResponse:
        return await staff_file("staff.css")

    async def staff_report_reply(request: Request, kind: str) -> HTTPResponse:
        if not staff_allowed(request):
            challenge = {"WWW-Authenticate": 'Bearer realm="needlewise-staff"'}
            return response.json({"error": "A valid staff token is needed."}, status=401, headers=challenge)
        try:
            report = await staff_report()
        except KnowledgeFileError:
            return response.json({"error": "The knowledge file cannot be read."}, status=503)
        if kind == "json":
            return response.json(report)
        from needlewise.report_html import render

        return response.html(render(report))

    @app.get("/staff/report.html")
    async def staff_report_html(request: Request) -> HTTPResponse:
        return await staff_report_reply(request, "html")

    @app.get("/staff/report.json")
    async def staff_report_json(request: Request) -> HTTPResponse:
        return await staff_report_reply(request, "json")

    @app.get("/")
    async def index(_request: Request) -> HTTPResponse:
        return await response.file(directory / "index.html")

    app.static("/", str(directory), name="web")

    @app.on_response
    async def add_headers(request: Request, reply: HTTPResponse) -> None:
        own = STAFF_HEADERS if request.path.startswith("/staff/") else {}
        for name, value in {**headers, **own}.items():
            reply.headers[name] = value if name in own else reply.headers.get(name, value)
        cross_origin = request.path in SHARED_JSON or request.path.startswith("/webhooks/rest/")
        if cross_origin:
            reply.headers["Vary"] = "Origin"
            origin = request.headers.get("origin", "")
            if origin in allowed:
                reply.headers["Access-Control-Allow-Origin"] = origin
                if request.method == "OPTIONS":
                    reply.headers["Access-Control-Allow-Methods"] = "POST"
                    reply.headers["Access-Control-Allow-Headers"] = "Content-Type"
                    reply.headers["Access-Control-Max-Age"] = "600"

    return app


def main() -> None:
    values = settings.current()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=values.bind_host)
    parser.add_argument("--port", type=int, default=values.web_port)
    parser.add_argument("--rasa", action="append", default=[])  # each Rasa server's internal address
    parser.add_argument("--actions", default="")  # the action server's internal address
    parser.add_argument("--frame-ancestors", default=values.frame_ancestors)
    args = parser.parse_args()
    backends = Backends(
        rasa=tuple(args.rasa) or (f"http://{values.bind_host}:{values.rasa_port}",),
        actions=args.actions,
        forwarded_secret=values.forwarded_secret,
        tracker_store_url=values.tracker_store_url,
        lock_store_url=values.lock_store_url,
    )
    # Paths only, and only when asked for: patients' words never reach this log.
    logging.getLogger("sanic.access").setLevel(logging.INFO if values.web_access_log else logging.WARNING)
    app = create_app(values.public_url, args.frame_ancestors, allowed_origins=values.cors_origins, backends=backends)
    app.run(host=args.host, port=args.port, workers=1, access_log=values.web_access_log, motd=False)


if __name__ == "__main__":
    main()
