"""A small static web server for bot/web: the clinic page, the chat widget and the kiosk.

Standard library only. Every response carries security headers (a strict Content-Security-
Policy the widget and kiosk work under); `/config.json` tells the pages where the Rasa server is
and what the clinic's numbers are, and `/topics.json` lists the topics for the kiosk tiles, both
from the same knowledge file and clinic settings the bot answers from.
"""

from __future__ import annotations

import argparse
import functools
import json
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from needlewise import settings
from needlewise.knowledge import EVIDENCE_IN_PLAIN_WORDS, KnowledgeFileError, KnowledgeStore
from needlewise.replies import topic_button
from needlewise.settings import ROOT

WEB_DIR = ROOT / "bot" / "web"
CATEGORY_TITLES = {
    "about": "About dry needling",
    "mechanism": "How it works",
    "outcomes": "What to expect",
    "safety": "Safety and side effects",
    "visit": "Your visit",
    "clinic": "Our clinic",
}


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


class Handler(SimpleHTTPRequestHandler):
    rasa_url = "http://127.0.0.1:5005"
    csp = content_security_policy(rasa_url, "'self'")
    store: KnowledgeStore
    server_version = "Needlewise"
    sys_version = ""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def _json(self, payload: object, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/config.json", "/topics.json"):
            try:
                kb = self.store.get()
            except KnowledgeFileError:
                self._json({"error": "The knowledge file cannot be read."}, 503)
                return
            if path == "/config.json":
                clinic = kb.clinic
                self._json(
                    {
                        "rasaUrl": self.rasa_url,
                        "clinic": {
                            "name": clinic.name,
                            "phone": clinic.phone,
                            "emergencyNumber": clinic.emergency_number,
                            "crisisLine": clinic.crisis_line,
                            "frontDesk": clinic.front_desk,
                            "bookingUrl": clinic.booking_url,
                        },
                        "evidenceLevels": EVIDENCE_IN_PLAIN_WORDS,
                    }
                )
            else:
                self._json(
                    {
                        "categories": [
                            {
                                "id": category,
                                "title": title,
                                "topics": [{"id": t, **topic_button(kb, t)} for t in kb.topics_in(category)],
                            }
                            for category, title in CATEGORY_TITLES.items()
                        ]
                    }
                )
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        # Paths only, and only when asked for: patients' words never reach this log.
        if settings.current().web_access_log:
            super().log_message(format, *args)


def serve(host: str, port: int, rasa_url: str, frame_ancestors: str = "'self'", directory: Path = WEB_DIR) -> None:
    Handler.rasa_url = rasa_url
    Handler.csp = content_security_policy(rasa_url, frame_ancestors)
    Handler.store = KnowledgeStore()
    handler = functools.partial(Handler, directory=str(directory))
    with ThreadingHTTPServer((host, port), handler) as httpd:
        httpd.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    values = settings.current()
    parser.add_argument("--host", default=values.bind_host)
    parser.add_argument("--port", type=int, default=values.web_port)
    parser.add_argument("--rasa-url", default=f"http://{values.bind_host}:{values.rasa_port}")
    parser.add_argument("--frame-ancestors", default=values.frame_ancestors)
    args = parser.parse_args()
    serve(args.host, args.port, args.rasa_url, args.frame_ancestors)


if __name__ == "__main__":
    main()
