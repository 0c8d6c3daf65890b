"""Pick the storage the config names; the one module that knows both implementations."""

from __future__ import annotations

from index.config import EngineConfig
from index.store.protocol import Storage


def open_storage(config: EngineConfig, *, create: bool = False) -> Storage:
    """The storage ``config.store`` names; ``create`` makes an empty one when there is none."""
    if config.store == "milvus":
        from index.store.milvus.storage import MilvusStorage

        return MilvusStorage(config, create=create)
    from index.store.local.storage import LocalStorage

    return LocalStorage(config, create=create)
