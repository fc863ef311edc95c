"""Moves what the Rasa server loaded at start out of the garbage collector's sight (`gc.freeze`).

Python's full garbage collections walk every tracked object: with the model, TensorFlow and
spaCy loaded that is millions of objects, all alive until the server stops, and a turn that
triggers a full collection waits for the whole walk. This wraps Rasa's
`rasa.core.run.load_agent_on_start` (the server's `before_server_start` listener that loads the
model): once the model is loaded it collects once and freezes what is alive, so later
collections skip it. Only a server started by Rasa's command line (`rasa run`, `rasa shell`)
loads its model that way. A model swapped in through Rasa's HTTP API (`PUT /model`) would keep
the old one in memory: restart instead (`make run` does).

Measured 2026-11-29 (python -m tools.bench_patches): a full collection with the model loaded
takes 327 ms without it and under 0.1 ms with it (spread of the timings 5.2 ms), so no turn
waits for one; per turn it changes nothing beyond noise (-0.43 ms, noise 0.80 ms), full
collections being rare. With 50 patients under `make bench` it took the p99 from about 500 ms
to about 220 ms (earlier measurement, README).
"""

from __future__ import annotations

import gc
import logging
from asyncio import AbstractEventLoop
from typing import Any, Optional

import rasa.core.run

from rasa_addons.patches import Swaps

logger = logging.getLogger(__name__)

#: Rasa's own listener, which loads the model.
_load_agent_stock = vars(rasa.core.run)["load_agent_on_start"]


def freeze_loaded_objects() -> None:
    """Collects, then freezes everything alive now; once per process."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    logger.debug("Froze %d objects loaded at start.", gc.get_freeze_count())


async def _load_agent_on_start(
    model_path: str, endpoints: Any, remote_storage: Optional[str], app: Any, loop: AbstractEventLoop
) -> Any:
    """Rasa's `load_agent_on_start`, then `freeze_loaded_objects()`."""
    agent = await _load_agent_stock(model_path, endpoints, remote_storage, app, loop)
    freeze_loaded_objects()
    return agent


_swaps = Swaps(__name__, (rasa.core.run, "load_agent_on_start", _load_agent_on_start))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
