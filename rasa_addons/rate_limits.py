"""How many messages a conversation and a client address may send a minute (RATE_LIMIT_PER_SENDER,
RATE_LIMIT_PER_CLIENT).

With one Rasa server the counts live in its memory. When several share the conversations
(LOCK_STORE_URL set, `make cluster`), they count in the same Redis, so a patient's limit is
the same whichever server each message reaches. Keys are hashed (no address is stored) and
expire after two minutes. If Redis cannot be reached, each server counts on its own meanwhile:
a patient is never refused because a store is down.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Optional

from needlewise import settings
from needlewise.inputs import RateLimiter

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


class RateLimits:
    def __init__(self, per_sender: int, per_client: int, redis_url: str = "") -> None:
        self.per_sender, self.per_client = per_sender, per_client
        self.local_sender, self.local_client = RateLimiter(per_sender), RateLimiter(per_client)
        self.redis: Optional[Any] = None
        if redis_url:
            import redis.asyncio as redis

            self.redis = redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)

    @classmethod
    def from_settings(cls) -> RateLimits:
        values = settings.current()
        return cls(values.rate_limit_per_sender, values.rate_limit_per_client, values.lock_store_url)

    async def allow(self, sender: str, client: str = "") -> bool:
        """True if this message may go through (and counts it)."""
        if self.redis is not None:
            try:
                return await self._allow_shared(sender, client)
            except Exception as error:  # any Redis failure: count locally meanwhile
                logger.warning("Shared rate limits unavailable (%s); counting locally.", type(error).__name__)
        return self.local_sender.allow(sender) and (not client or self.local_client.allow(client))

    async def _allow_shared(self, sender: str, client: str) -> bool:
        window = int(time.time() // WINDOW_SECONDS)
        checks = [("sender", sender, self.per_sender)]
        if client:
            checks.append(("client", client, self.per_client))
        checks = [check for check in checks if check[2] > 0]
        if not checks:
            return True
        pipe = self.redis.pipeline()
        for kind, key, _limit in checks:
            name = f"needlewise:rate:{kind}:{hashlib.sha256(key.encode()).hexdigest()[:32]}:{window}"
            pipe.incr(name)
            pipe.expire(name, 2 * WINDOW_SECONDS)
        counts = (await pipe.execute())[0::2]
        return all(count <= limit for count, (_kind, _key, limit) in zip(counts, checks, strict=True))
