"""Prometheus metrics for one app, served at ``GET /metrics`` (no key, outside /v1).

Each app has its own ``CollectorRegistry``: tests build many apps in one process, and
the global registry would refuse a second copy of each series. The series:

- ``citeqa_http_requests_total{method,route,status}``: requests answered; ``route`` is
  the route's template (``/v1/documents/{doc_id}``), never the raw path
- ``citeqa_http_request_duration_seconds{method,route}``: histogram, arrival to last byte
- ``citeqa_search_stage_duration_seconds{stage}``: histogram of ``SearchResult.stages``
  (filter, embed, dense, lexical, fuse, late, rerank, highlight, answerable)
- ``citeqa_documents_written_total{outcome}``: documents sent to the write routes, by
  outcome (added, replaced, unchanged, empty, deleted)
- ``citeqa_documents``, ``citeqa_passages``, ``citeqa_index_generation``: gauges read
  from the engine at scrape time
- ``citeqa_model_load_seconds``: how long the model took to load at start
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from index import IngestReport, SearchResult
from service.lifecycle import EngineSlot

UNMATCHED = "unmatched"
"""The route label of a request no route matched (so raw paths never become labels)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WRITE_OUTCOMES = ("added", "replaced", "unchanged", "empty", "deleted")
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class _EngineCollector(Collector):
    """Gauges read from the engine when Prometheus scrapes, so they are never stale."""

    def __init__(self, slot: Callable[[], EngineSlot | None]) -> None:
        self._slot = slot

    def collect(self) -> Iterable[Metric]:
        slot = self._slot()
        if slot is None:  # before the lifespan started
            return
        if slot.model_load_seconds is not None:
            yield GaugeMetricFamily(
                "citeqa_model_load_seconds",
                "Seconds the embedding model took to load and answer its warm-up.",
                value=slot.model_load_seconds,
            )
        engine = slot.engine
        if engine is None:
            return
        documents, _ = engine.storage.counts()
        yield GaugeMetricFamily("citeqa_documents", "Documents in the index.", value=documents)
        yield GaugeMetricFamily(
            "citeqa_passages", "Passages searchable in the generation served.", value=engine.size
        )
        yield GaugeMetricFamily(
            "citeqa_index_generation",
            "The index generation questions are answered from.",
            value=engine.generation,
        )


class Metrics:
    """The app's series and the calls that feed them."""

    def __init__(self, slot: Callable[[], EngineSlot | None]) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "citeqa_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "citeqa_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self._stages = Histogram(
            "citeqa_search_stage_duration_seconds",
            "Time each stage of a search took (embed, dense, lexical, fuse, late, highlight, ...).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self._writes = Counter(
            "citeqa_documents_written",
            "Documents sent to the write routes, by what happened to them.",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in WRITE_OUTCOMES:  # every series exists from the start, at 0
            self._writes.labels(outcome)
        self.registry.register(_EngineCollector(slot))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (called by the access-log middleware)."""
        method = method if method in METHODS else "other"  # labels stay a bounded set
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def observe_search(self, result: SearchResult) -> None:
        """Record how long each stage of one search took."""
        for stage, ms in result.stages.items():
            self._stages.labels(stage).observe(ms / 1000)

    def record_write(self, report: IngestReport) -> None:
        """Count what one write did to each document it was sent."""
        for outcome, count in (
            ("added", report.added),
            ("replaced", report.replaced),
            ("unchanged", report.unchanged),
            ("empty", len(report.empty)),
        ):
            if count:
                self._writes.labels(outcome).inc(count)

    def record_delete(self, count: int = 1) -> None:
        """Count documents deleted through the API."""
        self._writes.labels("deleted").inc(count)

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition in the format the scraper asked for, and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


def metrics_of(request: Request) -> Metrics:
    """The app's metrics (``app.state.metrics``, set by ``service.observability.instrument``)."""
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(metrics_of)]

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    body, content_type = metrics_of(request).render(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
