"""Every setting Needlewise takes from the environment: its name, type, default and meaning.

This is the only module that reads the environment. The servers and tools call `current()`;
`make run` and the test stack hand their children an environment built by `child_environment()`.
The README's settings table is `markdown_table()` (a test keeps the two the same):

    python -m needlewise.settings      # prints the table
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TRUE = ("1", "true", "yes", "on")


def _bool(text: str) -> bool:
    return text.strip().lower() in TRUE


def _path(text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise ValueError("a whole number, 1 or more")
    return number


def _public_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("an http(s) address such as https://chat.clinic.example, with no ?query or #fragment")
    return text.rstrip("/")


def _words(text: str) -> Tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class Setting:
    """One environment variable: how to read it and what the README says about it."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    description: str
    #: how the README shows the default (markdown), when the value itself would not read well
    shown_default: Optional[str] = None
    #: who reads it: the servers and tools (python), or only the Makefile
    read_by: str = "python"

    @property
    def field(self) -> str:
        return self.name.lower()

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, bool):
            return "`true`" if self.default else "`false`"
        if isinstance(self.default, Path):
            path = str(self.default.relative_to(ROOT)) if self.default.is_relative_to(ROOT) else str(self.default)
            return f"`{path}`"
        if isinstance(self.default, float) and self.default.is_integer():
            return f"`{int(self.default)}`"
        return f"`{self.default}`"


SETTINGS: Tuple[Setting, ...] = (
    Setting("RASA_PORT", int, 5005, "the Rasa server's port"),
    Setting("ACTIONS_PORT", int, 5055, "the action server's port (it listens on 127.0.0.1 only)"),
    Setting("WEB_PORT", int, 8080, "the web server's port"),
    Setting("BIND_HOST", str, "127.0.0.1", "the address the Rasa and web servers listen on"),
    Setting("MODEL", _path, ROOT / "models" / "needlewise.tar.gz", "the trained model the servers and tests load"),
    Setting(
        "KNOWLEDGE_FILE",
        _path,
        ROOT / "bot" / "knowledge" / "en.yml",
        "the knowledge file the servers and `make check-knowledge` read",
    ),
    Setting("CLINIC_FILE", _path, ROOT / "bot" / "clinic.yml", "the clinic settings"),
    Setting(
        "STRINGS_FILE",
        _path,
        ROOT / "bot" / "knowledge" / "en.strings.yml",
        "the widget's, kiosk's and replies' own wording (a translation copies it as `<lang>.strings.yml`), "
        "which the servers and `make check-knowledge` read",
    ),
    Setting(
        "REQUIRE_APPROVED",
        _bool,
        False,
        "`true` (for production) serves only clinician-approved answers: an edited entry keeps its last approved "
        "version live until it is approved again, and the servers refuse a file with a never-approved entry",
    ),
    Setting(
        "TRACKER_STORE_URL",
        str,
        f"sqlite:///{ROOT / 'var' / 'conversations.db'}",
        "where conversations are kept: SQLite, or e.g. `postgresql://user:password@host:5432/needlewise`",
        shown_default="`sqlite:///<repo>/var/conversations.db`",
    ),
    Setting(
        "RETENTION_DAYS",
        float,
        30.0,
        "conversations idle longer than this are deleted by `make purge` and while running",
    ),
    Setting(
        "KIOSK_RETENTION_MINUTES",
        float,
        15.0,
        "kiosk conversations are deleted this long after their last message",
    ),
    Setting("KEEP_KIOSK_CONVERSATIONS", _bool, False, "`true` keeps kiosk conversations as long as web ones"),
    Setting(
        "PURGE_INTERVAL_MINUTES",
        float,
        10.0,
        "how often `make run` deletes conversations past their retention",
    ),
    Setting("RATE_LIMIT_PER_SENDER", int, 30, "messages a minute from one conversation (0: no limit)"),
    Setting("RATE_LIMIT_PER_CLIENT", int, 600, "messages a minute from one client address (0: no limit)"),
    Setting("MAX_MESSAGE_CHARS", int, 1000, "longer messages are shortened, with a note to the patient"),
    Setting(
        "TURN_TIMEOUT_SECONDS",
        float,
        30.0,
        "a turn that takes longer is answered by the safety net",
    ),
    Setting(
        "PAYLOAD_SECRET",
        str,
        "",
        "the key that signs the bot's button payloads; set it when several servers must agree",
        shown_default="random at each start",
    ),
    Setting(
        "FORWARDED_SECRET",
        str,
        "",
        "the secret nginx (or the web server) gives Rasa with a patient's address; Rasa trusts no address "
        "without it. Set it when they run on different machines",
        shown_default="random at each start",
    ),
    Setting(
        "RASA_API_TOKEN",
        str,
        "",
        "turns on Rasa's HTTP API (`/conversations`, `/model`, ...), which then requires this token",
        shown_default="unset: API off",
    ),
    Setting(
        "CORS_ORIGINS",
        _words,
        (),
        "space-separated origins (the clinic's website) whose pages may embed the widget: read /config.json and "
        "/topics.json and send turns",
        shown_default="the web server's own origin",
    ),
    Setting(
        "FRAME_ANCESTORS",
        str,
        "'self'",
        "who may embed the web pages in a frame (Content-Security-Policy `frame-ancestors`)",
    ),
    Setting("TRACKER_CACHE_SIZE", int, 500, "conversations in progress kept in the Rasa server's memory"),
    Setting(
        "TRACKER_CACHE_SECONDS",
        float,
        600.0,
        "how long an idle conversation stays in that memory",
    ),
    Setting("READY_TIMEOUT", float, 240.0, "seconds `make run` waits for all servers to answer"),
    Setting(
        "PUBLIC_URL",
        _public_url,
        "",
        "the address patients' browsers use for Needlewise, e.g. `https://chat.clinic.example` (the pages call "
        "the bot there); empty: the pages call it on their own origin, through the web server or nginx",
        shown_default="empty: the pages' own origin",
    ),
    Setting("PUBLIC_PORT", int, 8000, "the port nginx listens on in `make cluster`, the one entry point"),
    Setting("RASA_INSTANCES", _positive, 2, "how many Rasa servers `make cluster` starts behind nginx"),
    Setting(
        "INTERNAL_HOST",
        str,
        "127.0.0.1",
        "the address `make cluster`'s Rasa and web servers listen on: 127.0.0.1, or this machine's private "
        "network address when another machine's nginx sends turns here (REMOTE_RASA_SERVERS there)",
    ),
    Setting(
        "REMOTE_RASA_SERVERS",
        _words,
        (),
        "space-separated `host:port` of Rasa servers on other machines that nginx also sends turns to (they "
        "must share TRACKER_STORE_URL, LOCK_STORE_URL, PAYLOAD_SECRET and FORWARDED_SECRET)",
        shown_default="none",
    ),
    Setting("RANGE_DAYS", float, 30.0, "the days `make report` and the staff page cover, up to today"),
    Setting(
        "REPORT_MIN_COUNT",
        _positive,
        2,
        "an unanswered question is shown in the staff report only if at least this many conversations asked it",
    ),
    Setting(
        "STAFF_TOKEN",
        str,
        "",
        "the token staff give to see the report at `/staff/` (sent as `Authorization: Bearer`); use a long "
        "random value",
        shown_default="unset: `/staff/` is off",
    ),
    Setting(
        "BACKUP_KEEP_DAYS",
        float,
        7.0,
        "backups in `var/backups/` older than this are deleted after each `make backup`",
    ),
    Setting(
        "LOCK_STORE_URL",
        str,
        "",
        "Redis for Rasa's conversation locks and the shared rate limits, e.g. `redis://127.0.0.1:6380/0`; "
        "needed when several Rasa servers share one tracker store (`make cluster` sets it)",
        shown_default="empty: in memory (one Rasa server)",
    ),
    Setting(
        "TLS_CERT_FILE",
        _path,
        None,
        "the certificate (full chain, PEM) nginx serves HTTPS with on PUBLIC_PORT in `make cluster`",
        shown_default="unset: plain HTTP (put TLS in front)",
    ),
    Setting("TLS_KEY_FILE", _path, None, "the private key of that certificate (PEM)", shown_default="unset"),
    Setting("POSTGRES_PORT", int, 5433, "the port of the PostgreSQL server `make cluster` starts (127.0.0.1 only)"),
    Setting("REDIS_PORT", int, 6380, "the port of the Redis server `make cluster` starts (127.0.0.1 only)"),
    Setting("WEB_ACCESS_LOG", _bool, False, "`true` logs the web server's requests (paths only)"),
    Setting("CHROMIUM", _path, Path("/usr/bin/chromium"), "the browser the web tests drive"),
    Setting(
        "PYTHON",
        str,
        "",
        "the Python 3.10 used to create `.venv`",
        shown_default="found by `scripts/find_python.sh`",
        read_by="make",
    ),
)

BY_NAME: Dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


class SettingError(ValueError):
    """A setting whose value cannot be read (names the variable and what it expects)."""


@dataclass(frozen=True)
class Settings:
    """The values of every setting read by Python code, typed."""

    rasa_port: int
    actions_port: int
    web_port: int
    bind_host: str
    model: Path
    knowledge_file: Path
    clinic_file: Path
    strings_file: Path
    require_approved: bool
    tracker_store_url: str
    retention_days: float
    kiosk_retention_minutes: float
    keep_kiosk_conversations: bool
    purge_interval_minutes: float
    rate_limit_per_sender: int
    rate_limit_per_client: int
    max_message_chars: int
    turn_timeout_seconds: float
    payload_secret: str
    forwarded_secret: str
    rasa_api_token: str
    cors_origins: Tuple[str, ...]
    frame_ancestors: str
    tracker_cache_size: int
    tracker_cache_seconds: float
    ready_timeout: float
    public_url: str
    public_port: int
    rasa_instances: int
    internal_host: str
    remote_rasa_servers: Tuple[str, ...]
    range_days: float
    report_min_count: int
    staff_token: str
    backup_keep_days: float
    lock_store_url: str
    tls_cert_file: Optional[Path]
    tls_key_file: Optional[Path]
    postgres_port: int
    redis_port: int
    web_access_log: bool
    chromium: Path

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> Settings:
        """Reads every setting from `environ` (the process environment by default); empty means default."""
        environ = os.environ if environ is None else environ
        values = {}
        for setting in SETTINGS:
            if setting.read_by != "python":
                continue
            text = environ.get(setting.name, "").strip()
            if not text:
                values[setting.field] = setting.default
                continue
            try:
                values[setting.field] = setting.parse(text)
            except ValueError as error:
                raise SettingError(f"{setting.name}={text!r} is not valid: {setting.description} ({error})") from None
        return cls(**values)

    def environment(self) -> Dict[str, str]:
        """These values as environment variables (for a child process)."""
        out = {}
        for setting in SETTINGS:
            if setting.read_by != "python":
                continue
            value = getattr(self, setting.field)
            if isinstance(value, tuple):
                value = " ".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif value is None:
                value = ""
            out[setting.name] = str(value)
        return out


assert {f.name for f in fields(Settings)} == {s.field for s in SETTINGS if s.read_by == "python"}


@lru_cache(maxsize=1)
def current() -> Settings:
    """This process's settings, read once."""
    return Settings.from_environment()


@lru_cache(maxsize=1)
def payload_secret() -> bytes:
    """The key for signing button payloads: the setting, or a random one for this process."""
    return (current().payload_secret or secrets.token_hex(32)).encode()


def child_environment(**overrides: str) -> Dict[str, str]:
    """The environment for a process we start: ours, with `overrides` on top."""
    return {**os.environ, **overrides}


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        rows.append(f"| `{setting.name}` | {setting.default_text()} | {setting.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(markdown_table() + "\n")
