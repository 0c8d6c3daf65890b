from __future__ import annotations

import io
import json
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from index import Document, Engine, EngineConfig, HashEmbedder, IngestReport, read_path
from index.model.embedder import Vectors
from service.app import create_app
from service.observability import JsonFormatter, request_id
from service.settings import Settings
from tests.conftest import BOLTON, SEEDS

HEX32 = r"[0-9a-f]{32}"


class GatedEmbedder(HashEmbedder):
    """HashEmbedder that, once armed, holds its next batch until released."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed_batch(self, texts: Sequence[str]) -> Vectors:
        if self.armed:
            self.armed = False
            self.entered.set()
            self.release.wait(10)
        return super().embed_batch(texts)


@pytest.fixture(scope="module")
def hash_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed with the fake embedder (fast; a fresh copy is made per test)."""
    data = tmp_path_factory.mktemp("observed")
    engine = Engine.open(EngineConfig(data_dir=data), HashEmbedder(), create=True)
    engine.ingest(read_path(SEEDS))
    engine.close()
    return data


@contextmanager
def _started(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        for _ in range(200):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        yield client


@pytest.fixture
def client(hash_dir: Path) -> Iterator[TestClient]:
    with _started(create_app(Settings(data_dir=hash_dir), HashEmbedder())) as client:
        yield client


def _value(client: TestClient, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when the series does not exist yet)."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_metrics_count_a_query_and_its_search_stages(client: TestClient) -> None:
    requests = "citeqa_http_requests_total"
    before = _value(client, requests, method="POST", route="/v1/query", status="200")
    assert client.post("/v1/query", json={"question": BOLTON}).status_code == 200
    after = _value(client, requests, method="POST", route="/v1/query", status="200")
    assert after == before + 1
    latency = "citeqa_http_request_duration_seconds_count"
    assert _value(client, latency, method="POST", route="/v1/query") >= 1
    for stage in ("embed", "dense", "lexical", "fuse", "late", "highlight"):
        assert _value(client, "citeqa_search_stage_duration_seconds_count", stage=stage) >= 1
    assert _value(client, "citeqa_search_stage_duration_seconds_count", stage="filter") == 0


def test_metrics_read_the_engine_at_scrape_time(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert _value(client, "citeqa_documents") == 5
    passages = _value(client, "citeqa_passages")
    assert passages > 5 and f"{passages:.0f} passages" in client.get("/readyz").text
    assert _value(client, "citeqa_index_generation") >= 1
    assert "citeqa_model_load_seconds " in response.text
    for outcome in ("added", "replaced", "unchanged", "empty", "deleted"):
        assert f'citeqa_documents_written_total{{outcome="{outcome}"}} 0.0' in response.text


def test_routes_are_labelled_by_template_not_by_path(client: TestClient) -> None:
    doc_id = client.get("/v1/documents").json()["documents"][0]["doc_id"]
    client.get(f"/v1/documents/{doc_id}")
    client.get("/v1/documents/nope.txt")
    client.get("/no/such/route")
    requests = "citeqa_http_requests_total"
    route = "/v1/documents/{doc_id}"
    assert _value(client, requests, method="GET", route=route, status="200") == 1
    assert _value(client, requests, method="GET", route=route, status="404") == 1
    assert _value(client, requests, method="GET", route="unmatched", status="404") == 1
    assert doc_id not in client.get("/metrics").text


def test_write_counters(client: TestClient) -> None:
    metrics = client.app.state.metrics  # type: ignore[attr-defined]
    metrics.record_write(IngestReport(added=2, replaced=1, unchanged=3, passages=9, empty=("e",)))
    metrics.record_delete()
    written = "citeqa_documents_written_total"
    counts = {o: _value(client, written, outcome=o) for o in ("added", "replaced", "unchanged")}
    assert counts == {"added": 2, "replaced": 1, "unchanged": 3}
    assert _value(client, written, outcome="empty") == 1
    assert _value(client, written, outcome="deleted") == 1


def test_metrics_need_no_key_and_each_app_has_its_own(hash_dir: Path) -> None:
    settings = Settings(data_dir=hash_dir, api_key="secret")
    with _started(create_app(settings, HashEmbedder())) as client:
        assert client.get("/v1/documents").status_code == 401
        assert client.get("/metrics").status_code == 200
        requests = "citeqa_http_requests_total"
        assert _value(client, requests, route="/v1/documents", status="401") == 1
        # A second app in the same process starts from zero (no global registry).
        with _started(create_app(settings, HashEmbedder())) as other:
            assert _value(other, requests, route="/v1/documents", status="401") == 0


def test_a_given_request_id_comes_back(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42"})
    assert response.headers["x-request-id"] == "lb-7f3a:42"


@pytest.mark.parametrize("given", [None, b"", b"x" * 129, b"caf\xe9", b"a\x01b"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(
    client: TestClient, given: bytes | None
) -> None:
    headers = {} if given is None else {b"X-Request-ID": given}
    response = client.get("/healthz", headers=headers)
    assert re.fullmatch(HEX32, response.headers["x-request-id"])


def test_request_id_rules() -> None:
    assert request_id("x" * 128) == "x" * 128
    assert request_id("trace 1/2") == "trace 1/2"
    assert len({request_id(None) for _ in range(3)}) == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/v1/documents/nope.txt", None, 404),
        ("GET", "/no/such/route", None, 404),
        ("POST", "/v1/query", {"question": ""}, 422),
        ("POST", "/v1/query", {"topk": 3}, 422),
        ("DELETE", "/healthz", None, 405),
    ],
)
def test_error_responses_carry_the_request_id(
    client: TestClient, method: str, path: str, body: object, status: int
) -> None:
    response = client.request(method, path, json=body, headers={"X-Request-ID": "err-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "err-1"
    assert "error" in response.json()


def test_an_unexpected_error_is_a_500_with_the_request_id(
    hash_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(data_dir=hash_dir), HashEmbedder())

    def boom() -> None:
        raise RuntimeError("bug")

    app.add_api_route("/boom", boom)
    served = io.StringIO()
    handler = logging.StreamHandler(served)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("citeqa.service").addHandler(handler)
    try:
        with (
            TestClient(app, raise_server_exceptions=False) as client,
            caplog.at_level(logging.INFO),
        ):
            response = client.get("/boom", headers={"X-Request-ID": "crash-1"})
            counted = _value(client, "citeqa_http_requests_total", route="/boom", status="500")
    finally:
        logging.getLogger("citeqa.service").removeHandler(handler)
    assert counted == 1
    # The traceback's log line names the request it came from.
    logged = [json.loads(line) for line in served.getvalue().splitlines()]
    assert [(x["request_id"], "RuntimeError: bug" in x["exc"]) for x in logged if "exc" in x] == [
        ("crash-1", True)
    ]
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal"
    assert response.headers["x-request-id"] == "crash-1"
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "citeqa.access"]
    assert [(a["status"], a["request_id"]) for a in access if a["route"] == "/boom"] == [
        (500, "crash-1")
    ]
    traceback = [r for r in caplog.records if r.name == "citeqa.service" and r.exc_info]
    assert len(traceback) == 1


def test_one_json_access_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="citeqa.access"):
        response = client.post("/v1/query", json={"question": BOLTON})
    lines = [r for r in caplog.records if r.name == "citeqa.access"]
    assert len(lines) == 1
    line = json.loads(lines[0].getMessage())
    assert set(line) == {
        "time", "request_id", "method", "route", "path", "status", "duration_ms", "client",
    }  # fmt: skip
    assert line["request_id"] == response.headers["x-request-id"]
    assert (line["method"], line["route"], line["status"]) == ("POST", "/v1/query", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["client"] == "testclient"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_json_formatter_writes_one_object_a_line() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("citeqa", logging.WARNING, __file__, 1, "a %s\nb", ("x",), None)
    assert json.loads(formatter.format(record)) == {
        "time": json.loads(formatter.format(record))["time"],
        "level": "warning",
        "logger": "citeqa",
        "message": "a x\nb",
    }
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()
    out = formatter.format(record)
    assert "\n" not in out and "ValueError: bad" in json.loads(out)["exc"]


def test_serve_log_config_gives_json_lines() -> None:
    """Applied in a child process: dictConfig changes logging for the whole process."""
    code = (
        "import logging, logging.config;"
        "from service.observability import log_config;"
        "logging.config.dictConfig(log_config('info'));"
        "logging.getLogger('citeqa.service').info('serving generation %d', 3);"
        "logging.getLogger('uvicorn.error').info('Started server process');"
        "logging.getLogger('other').info('hidden');"
        "logging.getLogger('other').warning('shown')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in out.stderr.splitlines()]
    assert [(x["logger"], x["message"]) for x in lines] == [
        ("citeqa.service", "serving generation 3"),
        ("uvicorn.error", "Started server process"),
        ("other", "shown"),
    ]


def test_shutdown_waits_for_a_write_in_progress(hash_dir: Path, tmp_path: Path) -> None:
    data = shutil.copytree(hash_dir, tmp_path / "data")
    embedder = GatedEmbedder()
    errors: list[BaseException] = []
    app = create_app(Settings(data_dir=data), embedder)
    with _started(app):
        engine: Engine = app.state.slot.engine
        embedder.armed = True

        def write() -> None:
            try:
                engine.ingest([Document("late.txt", "A document still being written at shutdown.")])
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        assert embedder.entered.wait(10)
        threading.Timer(0.3, embedder.release.set).start()
    # The lifespan has shut down; the write it waited for is whole.
    writer.join(10)
    assert errors == []
    reopened = Engine.open(EngineConfig(data_dir=data), HashEmbedder())
    assert reopened.document("late.txt").text.startswith("A document still being written")
    assert reopened.search("document written at shutdown").hits[0].passage.doc_id == "late.txt"
    reopened.close()


def test_a_request_refused_before_routing_is_counted_and_stamped(hash_dir: Path) -> None:
    app = create_app(Settings(data_dir=hash_dir, max_body_bytes=1000), HashEmbedder())
    with _started(app) as client:
        response = client.post("/v1/query", json={"question": "x" * 2000})
        assert response.status_code == 413 and re.fullmatch(HEX32, response.headers["x-request-id"])
        # The body limit answers before routing, so no route template is known.
        requests = "citeqa_http_requests_total"
        assert _value(client, requests, method="POST", route="unmatched", status="413") == 1
