"""MCP `search` round trips against the seeds: 100 over stdio (`citeqa mcp`) and 100 over
Streamable HTTP (`/mcp` of `citeqa serve`), each against its own process started here, with
the same calls through the SDK's in-process client as the no-transport baseline.

Prints p50/p90/p99 per transport and writes bench/results/mcp.json.
Run: .venv/bin/python scripts/mcp_bench.py
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from bench import CLI, OUT, QUESTIONS, build_index, console, pct, serving, summary
from index import SentenceTransformerEmbedder
from service.mcp import CiteqaMCP, FollowedEngine
from service.settings import Settings

CALLS = 100


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    return {**env, "HF_HUB_OFFLINE": "1", "CITEQA_DATA_DIR": str(data),
            "CITEQA_LOG_LEVEL": "warning", **extra}  # fmt: skip


async def _calls(client: Client) -> list[float]:
    """Warm up on each question, then time CALLS `search` round trips (ms)."""
    for question in QUESTIONS:
        await client.call_tool("search", {"query": question})
    times = []
    for i in range(CALLS):
        started = time.perf_counter()
        result = await client.call_tool("search", {"query": QUESTIONS[i % len(QUESTIONS)]})
        times.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise SystemExit(f"search failed: {result.content}")
    return times


def in_process(data: Path) -> list[float]:
    settings = Settings(data_dir=data)
    server = CiteqaMCP(FollowedEngine(settings, SentenceTransformerEmbedder()), settings.base_url)

    async def main() -> list[float]:
        async with Client(server) as client:
            return await _calls(client)

    return anyio.run(main)


def over_stdio(data: Path, log: Path) -> list[float]:
    params = StdioServerParameters(command=CLI[0], args=[*CLI[1:], "mcp"], env=_env(data))

    async def main() -> list[float]:
        with log.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                return await _calls(client)

    return anyio.run(main)


def over_http(data: Path, log: Path) -> list[float]:
    async def main() -> list[float]:
        async with httpx2.AsyncClient(timeout=60) as http:
            async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                return await _calls(client)

    with serving(data, log) as url:
        return anyio.run(main)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        console.print("indexing seeds/ with the bundled model ...")
        build_index(data)
        console.print(f"{CALLS} search calls in-process, over stdio, over Streamable HTTP ...")
        runs = {
            "in_process": in_process(data),
            "stdio": over_stdio(data, Path(tmp) / "stdio.log"),
            "streamable_http": over_http(data, Path(tmp) / "serve.log"),
        }
    base = pct(runs["in_process"], 50)
    result = {
        "calls": CALLS,
        "tool": "search (top_k=5, hybrid, max_chars=8000)",
        **{f"{name}_ms": summary(times) for name, times in runs.items()},
        "transport_overhead_p50_ms": {
            name: round(pct(runs[name], 50) - base, 2) for name in ("stdio", "streamable_http")
        },
    }
    (OUT / "mcp.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, times in runs.items():
        print(f"{name:>16}: p50 {pct(times, 50):7.2f} ms   p99 {pct(times, 99):7.2f} ms")
    console.print(f"wrote {OUT / 'mcp.json'}")


if __name__ == "__main__":
    main()
