"""Eval reports: a markdown table to read, JSON to diff, a PNG chart to glance at."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.beir import BeirScores, Published
from eval.seed import SeedRun, Summary
from index.files import atomic_write

COLUMNS: tuple[tuple[str, str], ...] = (
    ("hit_at_1", "hit@1"),
    ("hit_at_5", "hit@5"),
    ("recall_at_5", "recall@5"),
    ("mrr_at_10", "MRR@10"),
    ("ndcg_at_10", "nDCG@10"),
    ("highlight_at_1", "highlight@1"),
    ("unanswerable_flagged", "unans. flagged"),
    ("answerable_flagged", "ans. flagged"),
    ("mean_passage_chars", "passage chars"),
)


def cell(value: float | int | None, name: str = "") -> str:
    if value is None:
        return "-"
    if name == "mean_passage_chars" or isinstance(value, int):
        return f"{value:.0f}"
    return f"{value:.3f}"


def summary_rows(groups: Mapping[str, Summary]) -> list[list[str]]:
    return [
        [label, str(s.questions), *(cell(getattr(s, name), name) for name, _ in COLUMNS)]
        for label, s in groups.items()
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def seed_markdown(name: str, run: SeedRun, meta: Mapping[str, Any]) -> str:
    header = ["", "questions", *(label for _, label in COLUMNS)]
    parts = [
        f"# Seed eval: {name}",
        "",
        "\n".join(f"- {key}: {value}" for key, value in meta.items()),
        "",
        "Retrieval figures are over answerable questions; *unans. flagged* is the share of "
        "unanswerable questions called not answerable (higher is better), *ans. flagged* the "
        "share of answerable ones wrongly called so (lower is better).",
        "",
        "## By mode",
        "",
        markdown_table(["mode", *header[1:]], summary_rows(run.by_mode)),
    ]
    for mode, kinds in run.by_kind.items():
        parts += ["", f"## {mode}, by kind", "", markdown_table(["kind", *header[1:]],
                                                                 summary_rows(kinds))]  # fmt: skip
    misses = [s for s in run.scores if s.answerable and s.hit_at_1 < 1]
    if misses:
        parts += ["", "## Not first (answerable, gold not at rank 1)", "",
                  markdown_table(["mode", "id", "kind", "gold rank", "top highlight"], [
                      [s.mode, s.id, s.kind, str(s.first_rank or "-"),
                       s.top_highlight[:100].replace("|", "/")]
                      for s in misses
                  ])]  # fmt: skip
    return "\n".join(parts) + "\n"


def write_seed_report(folder: Path, name: str, run: SeedRun, meta: Mapping[str, Any]) -> list[Path]:
    """``<name>.md``, ``<name>.json`` and ``<name>.png``, each written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js, png = (folder / f"{name}{ext}" for ext in (".md", ".json", ".png"))
    atomic_write(md, seed_markdown(name, run, meta).encode())
    payload = {"name": name, "meta": dict(meta), **asdict(run)}
    atomic_write(js, json.dumps(payload, indent=2, ensure_ascii=False).encode())
    bar_chart(
        png,
        f"Seed eval ({name}): answerable questions by mode",
        {mode: {label: getattr(s, field) for field, label in COLUMNS[:6]}
         for mode, s in run.by_mode.items()},
    )  # fmt: skip
    return [md, js, png]


def bar_chart(path: Path, title: str, series: Mapping[str, Mapping[str, float | None]]) -> None:
    """Grouped bars: one group per metric, one bar per series (mode or setting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(next(iter(series.values())).keys()) if series else []
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.3 * len(labels) + 2), 4.2))
    for i, (name, values) in enumerate(series.items()):
        xs = [j + i * width - 0.4 + width / 2 for j in range(len(labels))]
        ys = [values.get(label) or 0.0 for label in labels]
        bars = ax.bar(xs, ys, width, label=name)
        ax.bar_label(bars, labels=[f"{y:.2f}" for y in ys], fontsize=7, padding=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.08)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def beir_markdown(
    name: str,
    scores: Sequence[BeirScores],
    published: Sequence[Published],
    meta: Mapping[str, Any],
) -> str:
    ours = [[f"citeqa {s.mode}", f"{s.ndcg_at_10:.3f}", f"{s.recall_at_100:.3f}",
             f"{s.mrr_at_10:.3f}"] for s in scores]  # fmt: skip
    theirs = [[p.system, cell(p.ndcg_at_10), cell(p.recall_at_100), "-"] for p in published]
    return "\n".join([
        f"# BEIR eval: {name}",
        "",
        "\n".join(f"- {key}: {value}" for key, value in meta.items()),
        "",
        markdown_table(["system", "nDCG@10", "R@100", "MRR@10"], ours + theirs),
        "",
    ])  # fmt: skip


def write_beir_report(
    folder: Path,
    name: str,
    scores: Sequence[BeirScores],
    published: Sequence[Published],
    meta: Mapping[str, Any],
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js, png = (folder / f"{name}{ext}" for ext in (".md", ".json", ".png"))
    atomic_write(md, beir_markdown(name, scores, published, meta).encode())
    payload = {
        "name": name,
        "meta": dict(meta),
        "scores": [asdict(s) for s in scores],
        "published": [asdict(p) for p in published],
    }
    atomic_write(js, json.dumps(payload, indent=2).encode())
    bars = {f"citeqa {s.mode}": s.ndcg_at_10 for s in scores}
    bars.update({p.system: p.ndcg_at_10 for p in published if p.ndcg_at_10 is not None})
    ranked_bars(png, f"{name}: nDCG@10, citeqa (dark) beside published figures", bars)
    return [md, js, png]


def ranked_bars(path: Path, title: str, values: Mapping[str, float]) -> None:
    """Horizontal bars, best on top, ours dark: a ranking reads best this way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(values.items(), key=lambda item: item[1])
    fig, ax = plt.subplots(figsize=(9.0, 0.45 * len(items) + 1.2))
    colors = ["#1f3b73" if label.startswith("citeqa") else "#9bb3d6" for label, _ in items]
    bars = ax.barh([label[:70] for label, _ in items], [v for _, v in items], color=colors)
    ax.bar_label(bars, labels=[f"{v:.3f}" for _, v in items], fontsize=8, padding=2)
    low = min(v for _, v in items)
    ax.set_xlim(max(0.0, low - 0.1), min(1.0, max(v for _, v in items) + 0.05))
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    """Write the PNG beside its final name, then rename: never a half-written chart."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    tmp.replace(path)
