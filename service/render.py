"""The plain-text layout of an answer, shared by `citeqa ask` and `scripts/ask.sh`."""

from __future__ import annotations

import textwrap

from service.schemas import QueryResponse


def wants_text(accept: str) -> bool:
    """The client asked for plain text (ask.sh does) rather than JSON."""
    return "text/plain" in accept and "application/json" not in accept


def render_text(response: QueryResponse, width: int = 100) -> str:
    """One block per result: label, title and source, highlighted sentence, span, passage."""
    lines = [f"Q: {response.question}  ({response.mode}, {response.took_ms:.0f} ms)"]
    if not response.answerable:
        lines.append("! The answer may not be in these documents; the closest passages follow.")
    if not response.results:
        lines.append("No passages matched.")
    for r in response.results:
        c = r.citation
        source = f" — {c.source}" if c.source else ""
        pages = _pages(c.page_start, c.page_end)
        page = f", p. {r.highlight.page}" if r.highlight.page and c.page_start != c.page_end else ""
        lines += [
            "",
            f"{c.label} {c.title or c.doc_id}{source}",
            f"    doc {c.doc_id}  {pages}chars {c.char_start}-{c.char_end}  score {r.score:.4f}",
            f"    » {r.highlight.text}",
            f"      (chars {r.highlight.char_start}-{r.highlight.char_end}{page})",
        ]
        if c.link:
            lines.append(f"    link {c.link}")
        body = " ".join(r.text.split())
        lines += textwrap.wrap(body, width=width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines) + "\n"


def _pages(start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    return f"p. {start}  " if end in (None, start) else f"pp. {start}-{end}  "
