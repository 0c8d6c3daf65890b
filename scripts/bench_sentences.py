"""Sentence splitting time by text length, on prose with no line breaks (as PDF text often
comes), against the same prose broken into 500-character lines.

    .venv/bin/python scripts/bench_sentences.py          # 25k .. 5M characters
    -> bench/results/sentences.json and sentences.png

The prose is the seed articles' own sentences joined into one line and repeated to
length, so pysbd meets real news punctuation (quotes, abbreviations, numbers).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from index.read.sentences import sentence_spans  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results"
SIZES = [25_000, 100_000, 400_000, 1_000_000, 5_000_000]


def prose(size: int) -> str:
    """Real sentences, one line: the seeds with their line breaks made spaces."""
    seeds = " ".join(" ".join(p.read_text().split()) for p in sorted((ROOT / "seeds").glob("*")))
    return ((seeds + " ") * (size // (len(seeds) + 1) + 1))[:size]


def timed(text: str) -> tuple[float, int]:
    started = time.perf_counter()
    found = sentence_spans(text)
    return time.perf_counter() - started, len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    rows = []
    for size in sizes:
        text = prose(size)
        one_line, sentences = timed(text)
        lines, _ = timed("\n".join(text[i : i + 500] for i in range(0, size, 500)))
        rows.append({"chars": size, "one_line_s": round(one_line, 3),
                     "lines_500_s": round(lines, 3), "sentences": sentences,
                     "chars_per_s": round(size / one_line)})  # fmt: skip
        print(f"{size:>10,} chars  one line {one_line:7.2f} s  500-char lines {lines:7.2f} s  "
              f"{sentences:,} sentences  {size / one_line / 1e6:.2f} M chars/s", flush=True)  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sentences.json").write_text(json.dumps(rows, indent=2) + "\n")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot([r["chars"] for r in rows], [r["one_line_s"] for r in rows], "o-", label="one line")
    ax.plot([r["chars"] for r in rows], [r["lines_500_s"] for r in rows], "s--",
            label="a line break every 500 chars")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="characters", ylabel="seconds",
           title="sentence_spans: time by text length (linear = slope 1)")  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "sentences.png", dpi=110)
    print(f"-> {OUT / 'sentences.json'}, {OUT / 'sentences.png'}")


if __name__ == "__main__":
    main()
