"""Rasa's SQL tracker store, configured from one URL, with deletion for "forget me"."""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url

from rasa_addons.retention import delete_conversation, engine_for, tracker_store_url


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

    async def delete(self, sender_id: str) -> int:
        """Deletes the conversation of `sender_id` ("forget me")."""
        return delete_conversation(self.engine, sender_id)
