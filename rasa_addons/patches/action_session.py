"""Keeps one HTTP session per endpoint (so its connections) instead of a new one for every call.

Rasa 3.6 opens a new aiohttp session for every call to an endpoint (`EndpointConfig.request`
does `async with self.session()`): every action call, so every turn, opens a new TCP connection
to the action server and closes it again, and encodes the request (the whole tracker and domain)
with the standard `json` module. Here `EndpointConfig.session` hands out one long-lived session
per endpoint and event loop, made by Rasa's own `session()` (same headers, auth and timeout), that
reuses its connections and encodes JSON with ujson (the same JSON, parsed back: the action server
reads the same request). A session belongs to the event loop it was made in: another loop, or a
closed session, gets a new one. The server runs one loop, so one session; code that runs several
loops one after another (tests, tools) leaves the old loops' sessions unclosed (aiohttp logs it).

Measured 2026-11-29: per turn, CPU alone, leaving it out cost +0.74 ms (noise 0.80 ms;
python -m tools.bench_patches), so it was dropped with four others, within noise one by one, and
restored the same day: `make bench` side by side on the same machine gave 205.6 turns/s at 10
patients with all eight patches (3a7bc01), 102.6 without these five (438d268), though their CPU
per turn together was only about 1.6 ms.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ujson
from rasa.utils.endpoints import EndpointConfig

from rasa_addons.patches import Swaps

#: Rasa's own `EndpointConfig.session`, which makes a new session.
_session_stock = vars(EndpointConfig)["session"]

#: The attribute of an endpoint that holds its kept session: (event loop, session).
KEPT = "_needlewise_session"


class _KeptSession:
    """`async with endpoint.session()` that hands out the endpoint's one long-lived session and
    leaves it open."""

    def __init__(self, endpoint: EndpointConfig) -> None:
        self.endpoint = endpoint

    async def __aenter__(self) -> Any:
        loop = asyncio.get_running_loop()
        kept = getattr(self.endpoint, KEPT, None)
        if kept is None or kept[0] is not loop or kept[1].closed:
            session = _session_stock(self.endpoint)
            session._json_serialize = ujson.dumps  # what aiohttp encodes a `json=` body with
            kept = (loop, session)
            setattr(self.endpoint, KEPT, kept)
        return kept[1]

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _session(self: EndpointConfig) -> Any:
    """The endpoint's kept session, as an async context manager that does not close it."""
    return _KeptSession(self)


_swaps = Swaps(__name__, (EndpointConfig, "session", _session))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
