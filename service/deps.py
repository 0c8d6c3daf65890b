"""Dependencies: the loaded engine and the API key check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from index import Engine, IndexStateError
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    slot = request.app.state.slot
    if not slot.loaded.is_set():
        raise IndexStateError("the index is still loading; retry in a few seconds")
    if slot.engine is None:
        raise IndexStateError(f"the index could not be loaded: {slot.error}")
    engine: Engine = slot.engine
    return engine


def require_api_key(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    if settings.api_key is None:
        return
    given = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not secrets.compare_digest(given.encode(), settings.api_key.get_secret_value().encode()):
        raise HTTPException(
            401,
            "missing or wrong API key; send 'Authorization: Bearer <key>' (or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )


EngineDep = Annotated[Engine, Depends(get_engine)]
