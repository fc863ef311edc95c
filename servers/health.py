"""`GET /health`: each part Needlewise needs, checked now (the web server serves it; nginx passes it on).

200 when every part answers, 503 when one does not; each part says its state in a few words. The
report names parts ("rasa-2", "tracker_store"), never their internal addresses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Tuple

import aiohttp

from needlewise.knowledge import KnowledgeFileError, KnowledgeStore
from needlewise.strings import StringsStore

TIMEOUT = aiohttp.ClientTimeout(total=3)


@dataclass(frozen=True)
class Backends:
    """What the web server forwards to and checks: internal addresses, never shown to browsers."""

    rasa: Tuple[str, ...] = ()
    actions: str = ""
    forwarded_secret: str = ""
    tracker_store_url: str = ""
    lock_store_url: str = ""


Check = Callable[[], Awaitable[Tuple[bool, str]]]


class Health:
    """Checks each part Needlewise needs; each answers (ok, a short word on its state)."""

    def __init__(self, backends: Backends, store: KnowledgeStore, strings_store: StringsStore) -> None:
        self.backends, self.store, self.strings_store = backends, store, strings_store
        self._engine: Any = None
        self._redis: Any = None

    def checks(self, session: aiohttp.ClientSession) -> Dict[str, Check]:
        checks: Dict[str, Check] = {"knowledge": self.knowledge}
        for number, url in enumerate(self.backends.rasa, start=1):
            name = "rasa" if len(self.backends.rasa) == 1 else f"rasa-{number}"
            checks[name] = self._http(session, f"{url}/webhooks/rest/")
        if self.backends.actions:
            checks["actions"] = self._http(session, f"{self.backends.actions}/health")
        if self.backends.tracker_store_url:
            checks["tracker_store"] = self.tracker_store
        checks["lock_store"] = self.lock_store
        return checks

    async def report(self, session: aiohttp.ClientSession) -> Tuple[bool, Dict[str, Any]]:
        checks = self.checks(session)
        results = await asyncio.gather(*(check() for check in checks.values()), return_exceptions=True)
        components = {}
        for name, result in zip(checks, results, strict=True):
            ok, state = result if isinstance(result, tuple) else (False, type(result).__name__)
            components[name] = {"ok": ok, "state": state}
        healthy = all(c["ok"] for c in components.values())
        return healthy, {"status": "ok" if healthy else "unavailable", "components": components}

    async def knowledge(self) -> Tuple[bool, str]:
        try:
            kb, _ = self.store.get(), self.strings_store.get()
        except KnowledgeFileError:
            return False, "cannot be read"
        return True, f"{len(kb.entries)} answers loaded"

    def _http(self, session: aiohttp.ClientSession, url: str) -> Check:
        async def check() -> Tuple[bool, str]:
            try:
                async with session.get(url, timeout=TIMEOUT) as reply:
                    return reply.status == 200, "up" if reply.status == 200 else f"answers {reply.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                return False, "not answering"

        return check

    async def tracker_store(self) -> Tuple[bool, str]:
        import sqlalchemy as sa

        from needlewise.retention import engine_for

        def ping() -> str:
            if self._engine is None:
                self._engine = engine_for(self.backends.tracker_store_url)
            with self._engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return self._engine.dialect.name

        try:
            return True, await asyncio.get_running_loop().run_in_executor(None, ping)
        except Exception as error:  # any driver error means: not usable now
            return False, f"not answering ({type(error).__name__})"

    async def lock_store(self) -> Tuple[bool, str]:
        if not self.backends.lock_store_url:
            return True, "in memory (one Rasa server)"
        import redis.asyncio as redis

        if self._redis is None:
            self._redis = redis.from_url(self.backends.lock_store_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            await self._redis.ping()
        except Exception as error:  # any redis error means: not usable now
            return False, f"not answering ({type(error).__name__})"
        return True, "redis"
