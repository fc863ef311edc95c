"""A small static web server for bot/web (the clinic page, the widget and the kiosk).

Standard library only. It sends security headers with every page and tells the pages where
the Rasa server is (`/config.json`), so the widget needs no hard-coded address.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "bot" / "web"


class Handler(SimpleHTTPRequestHandler):
    rasa_url = "http://127.0.0.1:5005"
    server_version = "Needlewise"
    sys_version = ""

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.json":
            body = json.dumps({"rasaUrl": self.rasa_url}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        # Paths only: no query strings, no bodies; patients' words never reach this log.
        if os.environ.get("WEB_ACCESS_LOG") == "1":
            super().log_message(format, *args)


def serve(host: str, port: int, rasa_url: str, directory: Path = WEB_DIR) -> None:
    handler = functools.partial(Handler, directory=str(directory))
    Handler.rasa_url = rasa_url
    with ThreadingHTTPServer((host, port), handler) as httpd:
        httpd.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-url", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"))
    args = parser.parse_args()
    serve(args.host, args.port, args.rasa_url)


if __name__ == "__main__":
    main()
