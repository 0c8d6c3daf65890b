"""Load proof: N clients for T seconds, mostly questions and some document writes.

    .venv/bin/python scripts/load.py                 # starts its own server over a copy of seeds/
    .venv/bin/python scripts/load.py --url URL --api-key KEY --clients 8 --seconds 60

Every request must succeed; afterwards every acknowledged write is checked: the document
reads back with the text sent, and a question filtered to it finds it. Prints p50/p99 per
kind and writes bench/results/load.{json,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import CLI, pct, serving

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
QUESTIONS = [
    "What did Bolton say about the talks?",
    "Who did Cabello talk to in the Trump administration?",
    "Why did Machado dedicate her Nobel prize to Trump?",
    "What did Maduro offer in exchange for stepping down?",
    "What is the Cartel de los Soles?",
    "What did Richard Grenell negotiate in Caracas?",
]
PLACES = ["Maracaibo", "Valencia", "Barquisimeto", "Ciudad Guayana", "Cumana", "Merida"]
GOODS = ["diesel", "insulin", "wheat flour", "car batteries", "school books", "cooking gas"]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"query": [], "write": []})
    errors: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)


def memo(client_no: int, n: int) -> tuple[str, str]:
    rng = random.Random(client_no * 100_000 + n)
    place, goods = rng.choice(PLACES), rng.choice(GOODS)
    doc_id = f"load/client-{client_no}/memo-{n}.txt"
    text = (f"Load memo {client_no}-{n}: a shipment of {goods} reached {place} on day {n}.\n"
            f"Officials in {place} counted {rng.randint(10, 999)} crates of {goods}.")  # fmt: skip
    return doc_id, text


async def one_client(
    client_no: int, http: httpx.AsyncClient, deadline: float, write_share: float, tally: Tally
) -> None:
    rng = random.Random(client_no)
    n = 0
    while time.monotonic() < deadline:
        kind = "write" if rng.random() < write_share else "query"
        started = time.perf_counter()
        try:
            if kind == "write":
                n += 1
                doc_id, text = memo(client_no, n)
                response = await http.post("/v1/documents", json={"doc_id": doc_id, "text": text})
            else:
                response = await http.post("/v1/query", json={"question": rng.choice(QUESTIONS)})
        except httpx.HTTPError as exc:
            tally.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            continue
        tally.latencies[kind].append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            tally.errors.append(f"{kind}: HTTP {response.status_code}: {response.text[:200]}")
        elif kind == "write":
            tally.written[doc_id] = text


async def verify(http: httpx.AsyncClient, written: dict[str, str]) -> list[str]:
    problems = []
    for doc_id, text in written.items():
        doc = await http.get(f"/v1/documents/{doc_id}")
        if doc.status_code != 200 or doc.json()["text"] != text:
            problems.append(f"{doc_id}: not read back as written ({doc.status_code})")
            continue
        body = {"question": text.splitlines()[0], "filters": {"doc_ids": [doc_id]}, "top_k": 1}
        found = (await http.post("/v1/query", json=body)).json()
        if not found.get("results") or found["results"][0]["citation"]["doc_id"] != doc_id:
            problems.append(f"{doc_id}: not found by a question filtered to it")
    return problems


async def run(url: str, key: str | None, clients: int, seconds: float, share: float) -> Tally:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    tally = Tally()
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http:
        for question in QUESTIONS:  # warm-up, not measured
            await http.post("/v1/query", json={"question": question})
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(one_client(i, http, deadline, share, tally) for i in range(clients)))
        tally.errors += await verify(http, tally.written)
    return tally


@contextmanager
def own_server() -> Iterator[str]:
    """`citeqa serve` over a fresh index of seeds/, for a self-contained run."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "CITEQA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
        subprocess.run([*CLI, "ingest", str(ROOT / "seeds")], env=env, check=True)
        with serving(data) as url:
            yield url


def chart(tally: Tally, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    qs = list(range(1, 100))
    for kind, values in tally.latencies.items():
        if values:
            ax.plot(qs, [pct(values, q) for q in qs], label=f"{kind} ({len(values)})")
    ax.set(xlabel="percentile", ylabel="ms", yscale="log", title="Latency under mixed load")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one over seeds/)")
    parser.add_argument("--api-key", default=os.environ.get("CITEQA_ADMIN_KEY"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--write-share", type=float, default=0.1)
    args = parser.parse_args()
    started = time.monotonic()
    if args.url:
        tally = asyncio.run(
            run(args.url, args.api_key, args.clients, args.seconds, args.write_share)
        )
    else:
        with own_server() as url:
            tally = asyncio.run(
                run(url, args.api_key, args.clients, args.seconds, args.write_share)
            )
    result: dict[str, Any] = {
        "clients": args.clients, "seconds": args.seconds, "write_share": args.write_share,
        "errors": len(tally.errors), "writes_verified": len(tally.written),
        "wall_s": round(time.monotonic() - started, 1),
    }  # fmt: skip
    for kind, values in tally.latencies.items():
        result[kind] = {"count": len(values), "p50_ms": round(pct(values, 50), 1),
                        "p99_ms": round(pct(values, 99), 1)}  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(result, indent=2))
    chart(tally, OUT / "load.png")
    print(json.dumps(result, indent=2))
    for error in tally.errors[:20]:
        print("error:", error, file=sys.stderr)
    sys.exit(1 if tally.errors else 0)


if __name__ == "__main__":
    main()
