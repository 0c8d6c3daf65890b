"""A document's layout as stored: its pages and its original file, as JSON.

Both stores keep it beside the document's fields so a citation read back from the index
still says its page and can open the kept file. ``skipped`` spans are not stored: they
decide what is indexed, and afterwards the passages themselves say what was.
"""

from __future__ import annotations

import json
from typing import Any

from index.documents import Layout, Original, Span


def layout_to_json(layout: Layout) -> str | None:
    """None when there is nothing to keep (plain text, Markdown, most web pages)."""
    if not layout.pages and layout.original is None:
        return None
    stored: dict[str, Any] = {}
    if layout.pages:  # flat [start, end, start, end, ...]: a 1,000-page PDF is about 12 KB
        stored["pages"] = [n for page in layout.pages for n in (page.start, page.end)]
    if layout.original is not None:
        original = layout.original
        stored["original"] = {
            "sha256": original.sha256, "media_type": original.media_type, "name": original.name,
        }  # fmt: skip
    return json.dumps(stored, ensure_ascii=False)


def layout_from_json(stored: str | None) -> Layout:
    if not stored:
        return Layout()
    data = json.loads(stored)
    flat = data.get("pages", [])
    pages = tuple(Span(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2))
    found = data.get("original")
    original = None if found is None else Original(
        str(found["sha256"]), str(found["media_type"]), str(found["name"])
    )  # fmt: skip
    return Layout(pages=pages, original=original)
