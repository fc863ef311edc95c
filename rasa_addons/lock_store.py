"""Rasa's lock store, chosen from one URL: Rasa's Redis lock store when LOCK_STORE_URL is set
(several Rasa servers share the conversations: `make cluster`), else Rasa's in-memory one.

A lock makes a patient's quick double send wait its turn, whichever Rasa server each message
reaches, so two turns of one conversation never interleave.

Rasa 3.6's lock has a flaw this fixes: a ticket's lifetime runs from when it is issued, waiting
included. If the turn ahead never finishes (its Rasa server died), its ticket expires, but a
turn that queued behind it within the same second expires with it, and then waits for a ticket
that no longer exists until the turn timeout. Here a waiting turn whose ticket ran out takes
its place back at the front (everything issued before it has expired too) and goes on.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

from rasa.core import lock_store as rasa_lock_store
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.connection import parse_url

from needlewise import settings

KEY_PREFIX = "needlewise"


class _TakesItsPlaceBack:
    """Rasa's `_acquire_lock`, but a turn whose own ticket expired while it waited is served."""

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if lock is not None and not lock.is_locked(ticket):
                return lock
            if lock is None or lock._ticket_for_ticket_number(ticket) is None:
                # our ticket ran out while we waited, and so did every one issued before it
                lock = lock or self.create_lock(conversation_id)
                lock.tickets.appendleft(Ticket(ticket, time.time() + rasa_lock_store.LOCK_LIFETIME))
                self.save_lock(lock)
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)


class NeedlewiseRedisLockStore(_TakesItsPlaceBack, RedisLockStore):
    """Rasa's Redis lock store, with a waiting turn's expired ticket handled."""


class NeedlewiseInMemoryLockStore(_TakesItsPlaceBack, InMemoryLockStore):
    """Rasa's in-memory lock store, with a waiting turn's expired ticket handled."""


def redis_lock_store(url: str) -> RedisLockStore:
    options: dict[str, Any] = parse_url(url)
    return NeedlewiseRedisLockStore(
        host=options.get("host", "localhost"),
        port=int(options.get("port", 6379)),
        db=int(options.get("db", 0)),
        username=options.get("username"),
        password=options.get("password"),
        use_ssl=url.startswith("rediss://"),
        key_prefix=KEY_PREFIX,
    )


class NeedlewiseLockStore(LockStore):
    """Not a store itself: `bot/endpoints.yml` names it, and it makes Rasa's own (see above)."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        url = settings.current().lock_store_url
        return redis_lock_store(url) if url else NeedlewiseInMemoryLockStore()
