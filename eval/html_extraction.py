"""HTML article extraction: is what citeqa indexes of a web page the article?

The benchmark is the trafilatura project's own evaluation set (``tests/evaldata.json``
and its 990 saved pages in ``tests/eval`` and ``tests/cache``, Apache-2.0): for each
page, up to six snippets the article holds (``with``) and up to six it must not
(``without``, such as menus, footers and share bars). Scoring is trafilatura's own
(``tests/eval_common.count_item``): whitespace-normalized substring tests, summed over
pages into precision, recall and F1.

citeqa is scored on what it indexes: the document text outside every skipped span (the
reader's and cleaning's), block by block. trafilatura is scored on ``extract()`` with its
benchmark's settings, on the same pages in the same run. Then, because citeqa's point is
the citation, each snippet citeqa finds is also located in the document text by an
exact span (``text[start:end]`` equal to the snippet up to whitespace), which
trafilatura's output, a new text, cannot give.

Pages are split in two halves by a hash of their URL: ``tune`` (for looking at errors)
and ``held-out`` (only for the report).

    git clone https://github.com/adbar/trafilatura   # or any copy of its tests/
    .venv/bin/python -m eval.html_extraction path/to/trafilatura
    -> eval/reports/html-extraction.{md,json,png}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.report import bar_chart, markdown_table
from index.errors import BadDocumentError
from index.files import atomic_write
from index.read.formats import html_document
from index.read.html import decode_html
from index.read.passages import content_spans

REPORT = Path(__file__).resolve().parent / "reports" / "html-extraction"
SYSTEMS = ("citeqa", "trafilatura")
HALVES = ("all", "tune", "held-out")


def norm(text: str) -> str:
    """trafilatura's scorer: whitespace runs are one space, so layout costs nothing."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Page:
    url: str
    path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]

    @property
    def half(self) -> str:
        return "tune" if hashlib.sha256(self.url.encode()).digest()[0] % 2 == 0 else "held-out"


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp = self.tp + other.tp, self.fp + other.fp
        self.fn, self.tn = self.fn + other.fn, self.tn + other.tn

    @property
    def precision(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def recall(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def count(page: Page, output: str | None) -> Counts:
    """trafilatura's ``count_item``: a missing output finds nothing and wrongly keeps nothing."""
    found = norm(output) if output else ""
    tp = sum(norm(w) in found for w in page.with_) if output else 0
    fp = sum(norm(w) in found for w in page.without) if output else 0
    return Counts(tp, fp, len(page.with_) - tp, len(page.without) - fp)


def load_pages(root: Path) -> list[Page]:
    """The annotated pages of a trafilatura checkout (or of its ``tests`` folder)."""
    tests = root / "tests" if (root / "tests" / "evaldata.json").exists() else root
    data_file = tests / "evaldata.json"
    if not data_file.exists():
        raise SystemExit(
            f"{root}: no tests/evaldata.json here. Point this at a copy of "
            "https://github.com/adbar/trafilatura (git clone it, then pass its folder)."
        )
    pages = []
    for url, item in sorted(json.loads(data_file.read_text(encoding="utf-8")).items()):
        found = [tests / sub / item["file"] for sub in ("cache", "eval")]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            raise SystemExit(
                f"{url}: its page {item['file']} is in neither tests/cache nor tests/eval"
            )
        pages.append(Page(url, path, tuple(item["with"]), tuple(item["without"])))
    return pages


@dataclass(frozen=True)
class Indexed:
    """What citeqa indexes of a page, and the page's whole document text."""

    text: str
    blocks: tuple[tuple[int, int], ...]

    @property
    def indexed(self) -> str:
        return "\n".join(self.text[a:b] for a, b in self.blocks)


def citeqa_read(page: Page) -> Indexed | None:
    try:
        doc = html_document(decode_html(page.path.read_bytes()), page.path.name, page.url)
    except BadDocumentError:
        return None
    return Indexed(doc.text, tuple((s.start, s.end) for s in content_spans(doc)))


def trafilatura_read(page: Page) -> str | None:
    import trafilatura

    markup = page.path.read_bytes()
    return trafilatura.extract(  # the benchmark's own settings (tests/eval_common.py)
        markup, include_comments=False, include_tables=True, include_formatting=False,
        fast=False,
    )  # fmt: skip


def exact_span(text: str, blocks: Sequence[tuple[int, int]], snippet: str) -> bool:
    """Whether ``snippet`` is ``text[start:end]`` up to whitespace, inside one indexed
    block or across neighbouring ones: what a citation of it would quote."""
    words = norm(snippet).split(" ")
    pattern = r"\s+".join(re.escape(w) for w in words)
    for match in re.finditer(pattern, text):
        start, end = match.span()
        if any(a <= start < b for a, b in blocks) and any(a < end <= b for a, b in blocks):
            return norm(text[start:end]) == norm(snippet)
    return False


@dataclass
class PageResult:
    url: str
    half: str
    counts: dict[str, Counts]
    located: int = 0
    error: str | None = None
    missed: list[dict[str, Any]] = field(default_factory=list)


def score_page(page: Page) -> PageResult:
    mine = citeqa_read(page)
    theirs = trafilatura_read(page)
    ours = mine.indexed if mine else None
    result = PageResult(page.url, page.half, {"citeqa": count(page, ours),
                                              "trafilatura": count(page, theirs)})  # fmt: skip
    if mine is None:
        result.error = "unreadable"
        return result
    for snippet in page.with_:
        if norm(snippet) in norm(ours or ""):
            result.located += exact_span(mine.text, mine.blocks, snippet)
        elif theirs and norm(snippet) in norm(theirs):  # for looking at errors (tune half)
            where = "skipped" if norm(snippet) in norm(mine.text) else "not in text"
            result.missed.append({"snippet": snippet, "kind": "with", "where": where})
    for snippet in page.without:
        if norm(snippet) in norm(ours or "") and not (theirs and norm(snippet) in norm(theirs)):
            result.missed.append({"snippet": snippet, "kind": "without", "where": "kept"})
    return result


def summarize(results: Sequence[PageResult]) -> dict[str, dict[str, dict[str, float]]]:
    table: dict[str, dict[str, dict[str, float]]] = {}
    for half in HALVES:
        chosen = [r for r in results if half in ("all", r.half)]
        table[half] = {}
        for system in SYSTEMS:
            total = Counts()
            for r in chosen:
                total.add(r.counts[system])
            table[half][system] = {"pages": len(chosen), "precision": total.precision,
                                   "recall": total.recall, "f1": total.f1}  # fmt: skip
    return table


def main(argv: Sequence[str] | None = None) -> None:
    from rich.progress import track

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trafilatura", type=Path, help="a trafilatura checkout, or its tests/")
    parser.add_argument("--limit", type=int, help="only the first N pages (a quick look)")
    parser.add_argument("--out", type=Path, default=REPORT, help="report path, no suffix")
    args = parser.parse_args(argv)
    pages = load_pages(args.trafilatura)[: args.limit]
    results = [score_page(p) for p in track(pages, description="pages")]
    table = summarize(results)
    found = sum(r.counts["citeqa"].tp for r in results)
    located = sum(r.located for r in results)
    errors = [r.url for r in results if r.error]
    payload = {"pages": len(results), "table": table, "snippets_found": found,
               "snippets_located_exactly": located, "unreadable": errors,
               "tune_misses": [asdict(r) | {"counts": None} for r in results
                               if r.half == "tune" and r.missed]}  # fmt: skip
    report = args.out
    report.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(report.with_suffix(".json"), json.dumps(payload, indent=1).encode())
    rows = [[half, system, str(v["pages"]), f"{v['precision']:.3f}", f"{v['recall']:.3f}",
             f"{v['f1']:.3f}"] for half, by in table.items() for system, v in by.items()]  # fmt: skip
    md = [
        "# HTML article extraction (trafilatura's evaluation set)",
        "",
        f"{len(results)} pages, scored as trafilatura scores itself: `python -m "
        "eval.html_extraction <trafilatura checkout>`. citeqa is scored on the text it "
        "indexes; trafilatura on `extract()` with its benchmark's settings, same run.",
        "",
        markdown_table(["pages", "system", "n", "precision", "recall", "F1"], rows),
        "",
        f"- Snippets citeqa finds: {found}; located by an exact span of the document text: "
        f"{located} ({located / max(found, 1):.1%}).",
        f"- Pages citeqa could not read: {len(errors)}.",
    ]
    atomic_write(report.with_suffix(".md"), ("\n".join(md) + "\n").encode())
    bar_chart(report.with_suffix(".png"), "HTML extraction, trafilatura's evaluation set",
              {f"{system} ({half})": {m: table[half][system][m] for m in ("precision", "recall", "f1")}
               for half in ("tune", "held-out") for system in SYSTEMS})  # fmt: skip
    print("\n".join(md))


if __name__ == "__main__":
    main(sys.argv[1:])
