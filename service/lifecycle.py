"""The engine's life in a server: loaded in the background, then kept on the newest generation.

One thread opens the data dir (retrying while there is no index yet, so a server may
start before the first ingest) and then checks every ``refresh_seconds`` whether another
process published a newer generation (a stat of the manifest), swapping to it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

from index import CiteqaError, Embedder, Engine
from index.model.embedder import embedder_for
from service.settings import Settings

log = logging.getLogger("citeqa.service")


@dataclass
class EngineSlot:
    """The engine, once it has loaded in the background (or why it could not)."""

    engine: Engine | None = None
    error: str | None = None
    loaded: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    model_load_seconds: float | None = None


def keep_fresh(slot: EngineSlot, settings: Settings, embedder: Embedder | None) -> None:
    """Open the engine, then follow the data dir's generations until ``slot.stop``."""
    # A write through the API waits a bounded time for another writer (then 503).
    config = replace(settings.engine_config(), lock_timeout=settings.write_wait_seconds)
    embedder = embedder or embedder_for(config)
    try:
        started = time.perf_counter()
        embedder.embed("warm up")  # load the model now, not on the first question
        slot.model_load_seconds = time.perf_counter() - started
        log.info("model %s loaded in %.2f s", embedder.name, slot.model_load_seconds)
    except (CiteqaError, ImportError, OSError) as exc:
        slot.error = f"the model could not be loaded: {exc}"
        log.error("%s", slot.error)
        slot.loaded.set()
        return
    while not slot.stop.is_set():
        try:
            if slot.engine is None:
                slot.engine = Engine.open(config, embedder)
                slot.error = None
                log.info("serving generation %d", slot.engine.generation)
            else:
                slot.engine.refresh()
        except (CiteqaError, OSError) as exc:
            if slot.error != str(exc):
                log.error("the index could not be loaded: %s", exc)
            slot.error = str(exc)
        slot.loaded.set()
        slot.stop.wait(settings.refresh_seconds)
