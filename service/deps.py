"""Dependencies: the loaded engine and the key checks (read key, and admin key for writes)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from index import Engine, IndexStateError
from service.settings import Settings

# Declared for the OpenAPI schema (the Authorize button of /docs); checked below.
_bearer = HTTPBearer(auto_error=False, description="The key as a bearer token.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Or in X-API-Key.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
HeaderKey = Annotated[str | None, Depends(_header)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_engine(request: Request) -> Engine:
    slot = request.app.state.slot
    if not slot.loaded.is_set():
        raise IndexStateError("the index is still loading; retry in a few seconds")
    if slot.engine is None:
        raise IndexStateError(f"the index could not be loaded: {slot.error}")
    engine: Engine = slot.engine
    return engine


def _given(bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str:
    return bearer.credentials.strip() if bearer is not None else (header or "")


def _matches(given: str, key: SecretStr | None) -> bool:
    return key is not None and secrets.compare_digest(
        given.encode(), key.get_secret_value().encode()
    )


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require_api_key(settings: SettingsDep, bearer: Bearer, header: HeaderKey) -> None:
    """Reads need the API key when one is set (the admin key also reads)."""
    if settings.api_key is None:
        return
    given = _given(bearer, header)
    if not (_matches(given, settings.api_key) or _matches(given, settings.admin_key)):
        raise _unauthorized(
            "missing or wrong API key; send 'Authorization: Bearer <key>' (or X-API-Key)"
        )


def require_write_key(settings: SettingsDep, bearer: Bearer, header: HeaderKey) -> None:
    """Writes need the admin key when one is set, else the API key when one is set."""
    key = settings.admin_key or settings.api_key
    if key is None:
        return
    given = _given(bearer, header)
    if _matches(given, key):
        return
    if settings.admin_key is not None and _matches(given, settings.api_key):
        raise HTTPException(
            403, "this key can only read; document writes need the admin key (CITEQA_ADMIN_KEY)"
        )
    raise _unauthorized(
        "missing or wrong key for a write; send 'Authorization: Bearer <key>' (or X-API-Key)"
    )


EngineDep = Annotated[Engine, Depends(get_engine)]
