"""Schemathesis against the live OpenAPI schema of a real `citeqa serve`: no request gets a 5xx.

Every operation in the served /openapi.json gets a bounded, derandomized run of schema-valid
cases, and of schema-invalid ones where it takes a body or query parameters. Schemathesis never
generates lone surrogates or invalid UTF-8 (they cannot be sent as UTF-8 text), so those are
sent by hand at the end.

schemathesis.pytest.from_fixture is not used: with pytest 9.2 it fails on `Function._nodeid`
(schemathesis 4.32.5), so each operation is a subtest over `APIOperation.as_strategy`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.schemas import APIOperation

from tests.live import serving

pytestmark = pytest.mark.e2e
CONFORMANCE = [status_code_conformance, response_schema_conformance, content_type_conformance]

EXAMPLES = 40  # per operation and generation mode: about 20 s in all against the real model
OPERATIONS = {
    "GET /healthz",
    "GET /readyz",
    "POST /v1/query",
    "GET /v1/query",
    "GET /v1/documents",
    "GET /v1/documents/{doc_id}",
    "GET /v1/documents/{doc_id}/original",
    "POST /v1/documents",
    "PUT /v1/documents/{doc_id}",
    "DELETE /v1/documents/{doc_id}",
    "POST /v1/context",
    "GET /v1/context",
    "GET /v1/tools",
    "POST /v1/tools/{name}",
}


@dataclass(frozen=True)
class Server:
    url: str
    log: Path


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A copy: the write routes get examples too, and other tests share the seeded dir.
    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copytree(seeded_dir, folder / "data")
    with serving(folder / "data", folder / "server.log") as url:
        yield Server(url, folder / "server.log")


def _modes(operation: APIOperation) -> list[GenerationMode]:
    # Negative cases need an input to break; a path-only string (any doc_id) has none.
    if len(operation.query) or operation.body:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def _no_5xx(operation: APIOperation, mode: GenerationMode, url: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,  # a real model answers; timing is the benchmark's job
        derandomize=True,  # the same cases every run
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: Case) -> None:
        response = case.call(base_url=url, timeout=60)
        where = f"{response.status_code} for {mode.value} case\n{case.as_curl_command()}\n"
        assert response.status_code < 500, where + response.text[:500]
        assert "Traceback" not in response.text, where + response.text[:500]
        # Every answer is one the schema declares, with the body and type it declares.
        case.validate_response(response, checks=CONFORMANCE)

    run()


def test_no_operation_answers_5xx(server: Server, subtests: pytest.Subtests) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == OPERATIONS
    for operation in operations:
        for mode in _modes(operation):
            with subtests.test(operation=operation.label, mode=mode.value):
                _no_5xx(operation, mode, server.url)
    log = server.log.read_text()
    # The server logs JSON lines (service.observability): an access line per request.
    assert "Traceback" not in log and '"status": 500' not in log, log[-5000:]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"question": "\\ud800"}', "question: must be valid Unicode text (UTF-8)"),
        (b'{"question": "Bolton \\udfff talks"}', "lone surrogate U+DFFF"),
        (b'{"question": "x", "filters": {"doc_ids": ["\\ud800"]}}', "filters.doc_ids.0: must be"),
        (b'{"question": "x", "filters": {"sources": ["\\udc00"]}}', "filters.sources.0: must be"),
        (b'{"question": "x", "mode": "\\ud800"}', "mode: must be valid Unicode"),
        (b'{"question": "\xff\xfe"}', "not valid UTF-8 (byte 14 is 0xff)"),
    ],
)
def test_text_that_is_not_unicode_is_a_422(server: Server, body: bytes, says: str) -> None:
    """What schemathesis cannot send: lone surrogates as JSON escapes, and bytes that are not UTF-8."""
    headers = {"content-type": "application/json"}
    response = httpx.post(f"{server.url}/v1/query", content=body, headers=headers, timeout=30)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and says in error["message"]
