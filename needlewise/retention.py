"""Where conversations are kept, and for how long. SQLAlchemy only, no Rasa imports.

The tracker store is SQLite in `var/` by default; set TRACKER_STORE_URL (for example
postgresql://user:password@host:5432/needlewise) to use PostgreSQL. Conversations whose last
event is older than RETENTION_DAYS are deleted by `make purge` and, while `make run` runs, every
PURGE_INTERVAL_MINUTES. Kiosk conversations (sender ids `kiosk:...`) are deleted after
KIOSK_RETENTION_MINUTES unless KEEP_KIOSK_CONVERSATIONS is true.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import sqlalchemy as sa

from needlewise import settings

KIOSK_PREFIX = "kiosk:"
EVENTS = sa.table("events", sa.column("sender_id"), sa.column("timestamp"))


def tracker_store_url() -> str:
    return settings.current().tracker_store_url


@dataclass(frozen=True)
class Retention:
    days: float = 30.0
    kiosk_minutes: float = 15.0
    keep_kiosk: bool = False

    @classmethod
    def from_settings(cls, values: Optional[settings.Settings] = None) -> Retention:
        values = values or settings.current()
        return cls(
            days=values.retention_days,
            kiosk_minutes=values.kiosk_retention_minutes,
            keep_kiosk=values.keep_kiosk_conversations,
        )


def engine_for(url: str) -> sa.engine.Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url, future=True)


def _has_events(engine: sa.engine.Engine) -> bool:
    return sa.inspect(engine).has_table("events")


def _delete_senders_idle_since(connection: sa.engine.Connection, cutoff: float, prefix: str = "") -> int:
    last = sa.select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id).having(sa.func.max(EVENTS.c.timestamp) < cutoff)
    if prefix:
        last = last.where(EVENTS.c.sender_id.like(prefix + "%"))
    senders = [row[0] for row in connection.execute(last)]
    for start in range(0, len(senders), 500):
        connection.execute(sa.delete(EVENTS).where(EVENTS.c.sender_id.in_(senders[start : start + 500])))
    return len(senders)


def purge(engine: sa.engine.Engine, retention: Retention, now: float | None = None) -> dict:
    """Deletes conversations past their retention; returns how many of each kind."""
    now = time.time() if now is None else now
    if not _has_events(engine):
        return {"conversations": 0, "kiosk": 0}
    with engine.begin() as connection:
        kiosk = 0
        if not retention.keep_kiosk:
            kiosk = _delete_senders_idle_since(connection, now - retention.kiosk_minutes * 60, KIOSK_PREFIX)
        old = _delete_senders_idle_since(connection, now - retention.days * 86400)
    return {"conversations": old, "kiosk": kiosk}


def purge_configured(url: str | None = None, retention: Retention | None = None) -> dict:
    """purge() on the configured tracker store (TRACKER_STORE_URL) with the configured retention."""
    engine = engine_for(url or tracker_store_url())
    try:
        return purge(engine, retention or Retention.from_settings())
    finally:
        engine.dispose()


def delete_conversation(engine: sa.engine.Engine, sender_id: str) -> int:
    """Deletes one patient's conversation (and its kiosk twin); returns the events deleted."""
    if not _has_events(engine):
        return 0
    with engine.begin() as connection:
        result = connection.execute(
            sa.delete(EVENTS).where(EVENTS.c.sender_id.in_([sender_id, KIOSK_PREFIX + sender_id]))
        )
    return result.rowcount or 0
