"""The request body limit, enforced before a route reads the body.

A declared Content-Length over the limit is refused at once; a chunked body is counted
as it streams and refused the moment it passes the limit, so no route ever holds more.

Refused, the rest of the body is read and dropped (up to ``DRAIN_BYTES``, for at most
``DRAIN_SECONDS``) before the 413 goes out: a server that closes a connection with
unread bytes in it makes the kernel reset it, and the client, still sending, never reads
the answer that says what to change. A client that sent ``Expect: 100-continue`` is
answered at once and sends nothing more.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_BYTES = 256 * 1024 * 1024
DRAIN_SECONDS = 30.0


class _TooLarge(Exception):
    pass


async def _drain(receive: Receive) -> None:
    """Read and drop what is left of the request body, within the bounds above."""
    dropped = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while dropped <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                dropped += len(message.get("body", b""))
    except TimeoutError:
        return


class BodyLimit:
    """Pure ASGI middleware: 413 for a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        waiting = headers.get(b"expect", b"").lower() == b"100-continue"
        if declared.isdigit() and int(declared) > self.max_bytes:
            if not waiting:
                await _drain(receive)
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await _drain(receive)
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = (
            f"the request body is larger than {self.max_bytes:,} bytes; send less at once, "
            "or raise CITEQA_MAX_BODY_BYTES"
        )
        body = json.dumps({"error": {"code": "too_large", "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]  # fmt: skip
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
