"""Rasa's SQL tracker store, configured from one URL, faster, and able to forget a patient.

- SQLite in `var/` by default; PostgreSQL (or another SQL database) via TRACKER_STORE_URL.
- Faster (measured with `make bench`): the conversations in progress stay in a small in-process
  cache, so a turn does not re-read and re-count its events; new events are written with one
  insert. With one Rasa server (`make run`) it is the only writer. When several share the
  store (LOCK_STORE_URL set, `make cluster`), a cached conversation is used only while the
  database holds as many of its events as this server knows of (one indexed count), else it is
  read again: a turn another server took, a purge or a "forget me" is never missed.
- SQLite runs in write-ahead-log mode on one reused connection.
- `delete(sender_id)` removes a conversation ("forget me").
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine import make_url

from needlewise import settings
from needlewise.retention import KIOSK_PREFIX, Retention, delete_conversation, engine_for, tracker_store_url

CACHE_SIZE = settings.current().tracker_cache_size
CACHE_SECONDS = settings.current().tracker_cache_seconds


@dataclass
class _Cached:
    tracker: DialogueStateTracker
    stored: int  # how many of tracker.events are in the database
    touched: float
    rows: int = -1  # how many events of this conversation the database held when last seen (shared mode)


class NeedlewiseTrackerStore(SQLTrackerStore):
    """SQLite in `var/` by default; PostgreSQL (or another SQL database) via TRACKER_STORE_URL."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        url = make_url(tracker_store_url())
        if url.get_backend_name() == "sqlite":
            engine_for(str(url))  # makes the folder
            super().__init__(domain, dialect="sqlite", db=url.database, event_broker=event_broker)
            self.engine = sa.create_engine(
                str(url), poolclass=sa.pool.SingletonThreadPool, connect_args={"check_same_thread": False}
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        else:
            super().__init__(
                domain,
                dialect=url.drivername,
                host=url.host,
                port=url.port,
                db=url.database,
                username=url.username,
                password=url.password,
                event_broker=event_broker,
                login_db=kwargs.get("login_db"),
            )
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._table = self.SQLEvent.__table__
        #: other Rasa servers may write this store too (they share a lock store)
        self._shared = bool(settings.current().lock_store_url)
        # The purge deletes idle kiosk conversations in another process: the cache lets them go no later.
        retention = Retention.from_settings()
        kiosk_seconds = CACHE_SECONDS if retention.keep_kiosk else retention.kiosk_minutes * 60
        self._kiosk_seconds = min(CACHE_SECONDS, kiosk_seconds)

    # --- the cache -------------------------------------------------------------------------

    def _cached(self, sender_id: str) -> Optional[_Cached]:
        entry = self._cache.get(sender_id)
        if entry is None:
            return None
        lifetime = self._kiosk_seconds if sender_id.startswith(KIOSK_PREFIX) else CACHE_SECONDS
        if time.monotonic() - entry.touched > lifetime:
            del self._cache[sender_id]
            return None
        entry.touched = time.monotonic()
        self._cache.move_to_end(sender_id)
        return entry

    def _rows(self, sender_id: str) -> int:
        """How many events of `sender_id` the database holds (an indexed count)."""
        query = sa.select(sa.func.count()).select_from(self._table).where(self._table.c.sender_id == sender_id)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    def _remember(self, tracker: DialogueStateTracker, stored: int) -> None:
        rows = self._rows(tracker.sender_id) if self._shared else -1
        self._cache[tracker.sender_id] = _Cached(tracker, stored, time.monotonic(), rows)
        self._cache.move_to_end(tracker.sender_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        entry = self._cached(sender_id)
        if entry is not None and self._shared and self._rows(sender_id) != entry.rows:
            del self._cache[sender_id]  # another server wrote (or deleted) since: read it again
            entry = None
        if entry is not None:
            return entry.tracker
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            self._remember(tracker, len(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        entry = self._cached(tracker.sender_id)
        if entry is None or entry.tracker is not tracker:
            await super().save(tracker)
            self._remember(tracker, len(tracker.events))
            return
        events = list(tracker.events)[entry.stored :]
        if self.event_broker is not None:  # Rasa's stream_events would diff the tracker against itself
            await self._stream_new_events(self.event_broker, events, tracker.sender_id)
        if events:
            rows = []
            for event in events:
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            with self.engine.begin() as connection:
                connection.execute(sa.insert(self._table), rows)
            entry.rows += len(rows)
        entry.stored = len(tracker.events)

    async def delete(self, sender_id: str) -> int:
        """Deletes the conversation of `sender_id` ("forget me")."""
        self._cache.pop(sender_id, None)
        self._cache.pop(KIOSK_PREFIX + sender_id, None)
        return delete_conversation(self.engine, sender_id)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
