"""PDF page accuracy: is a sentence from page N cited as page N?

The reference is a second, independent reader: pypdf's text of each page. From it we take
sentences that occur once in the whole file, then ask two things of citeqa:

- located: the sentence's words, found in the document text citeqa keeps, lie within the
  span citeqa gives page N (its page spans are right);
- cited: asking the sentence as a question (restricted to that file) gives a top result
  whose answer sentence citeqa places on page N (what a reader clicks is right).

Words are compared casefolded and NFKC-normalized (ligatures, hyphenation and spacing
differ between readers), so a sentence pypdf splits differently may not be found; those
are counted apart, not as errors.

    .venv/bin/python -m eval.pdf_pages [eval/pdfs] [--per-page 3]
    -> eval/reports/pdf-pages.{md,json,png}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval.report import bar_chart, markdown_table
from index import Engine, EngineConfig, Filters, read_path
from index.documents import Document
from index.files import atomic_write
from index.read.sentences import sentence_spans

DATA = Path(__file__).resolve().parent / "pdfs"
REPORTS = Path(__file__).resolve().parent / "reports"
MIN_WORDS = 8
_WORD = re.compile(r"\w+")


def _norm(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


def words_with_offsets(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    found = list(_WORD.finditer(text))
    return [_norm(m.group()) for m in found], [(m.start(), m.end()) for m in found]


def locate(needle: Sequence[str], hay: Sequence[str]) -> list[int]:
    """Every index at which the word sequence ``needle`` starts in ``hay``."""
    n, first = len(needle), needle[0]
    return [i for i, w in enumerate(hay) if w == first and list(hay[i : i + n]) == list(needle)]


@dataclass(frozen=True)
class Probe:
    page: int
    sentence: str
    located_page: int | None = None
    """The page citeqa's spans give the sentence (None: not found in citeqa's text)."""
    cited_page: int | None = None
    """The page of the top result's answer sentence when the sentence is asked."""


@dataclass
class FileResult:
    name: str
    pages: int
    probes: list[Probe] = field(default_factory=list)

    def share(self, attr: str) -> float | None:
        found = [p for p in self.probes if p.located_page is not None]
        if not found:
            return None
        right: int = sum(getattr(p, attr) == p.page for p in found)
        return right / len(found)


def reference_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


def probes_of(pages: list[str], per_page: int) -> list[tuple[int, str]]:
    """Up to ``per_page`` sentences of each page, spread over it, that occur once in the file."""
    flat = [" ".join(text.split()) for text in pages]
    everywhere = [words_with_offsets(text)[0] for text in flat]
    chosen: list[tuple[int, str]] = []
    for number, text in enumerate(flat, 1):
        candidates = []
        for span in sentence_spans(text):
            sentence = text[span.start : span.end]
            words = words_with_offsets(sentence)[0]
            if len(words) < MIN_WORDS:
                continue
            if sum(len(locate(words, other)) for other in everywhere) == 1:
                candidates.append(sentence)
        step = max(1, len(candidates) // per_page)
        chosen += [(number, s) for s in candidates[::step][:per_page]]
    return chosen


def measure(engine: Engine, doc: Document, pages: list[str], per_page: int) -> FileResult:
    result = FileResult(doc.doc_id, len(doc.layout.pages))
    hay, offsets = words_with_offsets(doc.text)
    only = Filters(doc_ids=frozenset({doc.doc_id}))
    for page, sentence in probes_of(pages, per_page):
        words = words_with_offsets(sentence)[0]
        starts = locate(words, hay)
        if len(starts) != 1:
            result.probes.append(Probe(page, sentence))
            continue
        start, end = offsets[starts[0]][0], offsets[starts[0] + len(words) - 1][1]
        located = doc.layout.pages_of(start, end)
        hits = engine.search(sentence, top_k=1, filters=only).hits
        cited = None
        if hits:
            h = hits[0].highlight
            cited_pages = doc.layout.pages_of(h.char_start, h.char_end)
            cited = cited_pages[0] if cited_pages else None
        result.probes.append(Probe(page, sentence, located[0] if located else None, cited))
    return result


def _shown(folder: Path) -> str:
    try:
        return str(folder.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(folder)


def write_report(results: list[FileResult], folder: Path) -> list[Path]:
    rows, series = [], {}
    for r in results:
        found = [p for p in r.probes if p.located_page is not None]
        located, cited = r.share("located_page"), r.share("cited_page")
        rows.append([r.name, str(r.pages), str(len(r.probes)), str(len(found)),
                     f"{located:.3f}" if located is not None else "-",
                     f"{cited:.3f}" if cited is not None else "-"])  # fmt: skip
        series[r.name] = {"located on page N": located, "cited as page N": cited}
    every = [p for r in results for p in r.probes if p.located_page is not None]
    total = len(every) or 1
    located_all = sum(p.located_page == p.page for p in every) / total
    cited_all = sum(p.cited_page == p.page for p in every) / total
    rows.append(["all", str(sum(r.pages for r in results)),
                 str(sum(len(r.probes) for r in results)), str(len(every)),
                 f"{located_all:.3f}", f"{cited_all:.3f}"])  # fmt: skip
    header = ["file", "pages", "sentences", "found", "located on page N", "cited as page N"]
    misses = [
        f"- {r.name} p. {p.page}: located {p.located_page}, cited {p.cited_page}: "
        f"{p.sentence[:90]!r}"
        for r in results for p in r.probes
        if p.located_page is not None and p.page != p.cited_page
    ][:20]  # fmt: skip
    markdown = (
        "# PDF page accuracy\n\n"
        "Sentences taken from each page by pypdf (a second reader), which occur once in "
        "the file; *found*: those whose words citeqa's text holds in the same order. "
        "*Located*: the words lie in citeqa's span of page N. *Cited*: asking the "
        "sentence, the top result's answer sentence is on page N.\n\n"
        f"Command: `.venv/bin/python -m eval.pdf_pages {_shown(folder)}`\n\n"
        + markdown_table(header, rows)
        + ("\n\nMisses:\n\n" + "\n".join(misses) + "\n" if misses else "\n")
    )
    REPORTS.mkdir(parents=True, exist_ok=True)
    md, js, png = (REPORTS / f"pdf-pages.{ext}" for ext in ("md", "json", "png"))
    atomic_write(md, markdown.encode())
    atomic_write(js, json.dumps([asdict(r) for r in results], indent=2).encode())
    bar_chart(png, "PDF page accuracy (share of found sentences)", series)
    return [md, js, png]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DATA)
    parser.add_argument("--per-page", type=int, default=3)
    args = parser.parse_args(argv)
    files = sorted(args.folder.glob("*.pdf"))
    if not files:
        print(f"no .pdf files in {args.folder}", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(EngineConfig(data_dir=Path(tmp)), create=True)
        try:
            docs = {d.doc_id: d for d in read_path(args.folder)}
            engine.ingest(docs.values())
            for path in files:
                print(f"{path.name}: asking its sentences", file=sys.stderr)
                results.append(
                    measure(engine, docs[path.name], reference_pages(path), args.per_page)
                )
        finally:
            engine.close()
    for written in write_report(results, args.folder):
        print(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
