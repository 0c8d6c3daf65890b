"""Packing hits into labelled blocks: merged spans, rank order, a budget never exceeded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from index import DocumentInfo, Highlight, Hit, Passage, pack

TEXT = " ".join(f"Sentence {i} says something about topic {i % 7}." for i in range(60))


def hit(rank: int, start: int, end: int, doc_id: str = "d.txt", text: str = TEXT) -> Hit:
    passage = Passage(f"{doc_id}#{start}", doc_id, 0, start, end, text[start:end], ())
    info = DocumentInfo(doc_id, f"Title of {doc_id}", "Src", None, None, 1, len(text))
    return Hit(rank, 1.0 / rank, passage, info, Highlight(text[start:end], start, end, 0.5),
               None, None, 0.5)  # fmt: skip


def test_overlapping_and_touching_passages_of_a_document_become_one_block() -> None:
    hits = [hit(1, 100, 200), hit(2, 500, 600), hit(3, 180, 300), hit(4, 300, 350),
            hit(5, 100, 150, doc_id="e.txt")]  # fmt: skip
    packed = pack(hits, 10_000)
    spans = [(b.doc_id, b.char_start, b.char_end) for b in packed.blocks]
    assert spans == [("d.txt", 100, 350), ("d.txt", 500, 600), ("e.txt", 100, 150)]
    assert [b.label for b in packed.blocks] == ["[1]", "[2]", "[3]"]
    assert all(b.text == TEXT[b.char_start : b.char_end] for b in packed.blocks)
    assert packed.context.startswith("[1] Title of d.txt (d.txt, chars 100-350)\n")
    assert not packed.truncated


def test_a_passage_that_bridges_two_blocks_joins_them() -> None:
    packed = pack([hit(1, 0, 100), hit(2, 200, 300), hit(3, 90, 210)], 10_000)
    assert [(b.char_start, b.char_end) for b in packed.blocks] == [(0, 300)]
    assert packed.blocks[0].text == TEXT[:300]


@given(
    st.lists(
        st.tuples(st.integers(0, len(TEXT) - 1), st.integers(1, 400)), min_size=1, max_size=12
    ),
    st.integers(0, 3000),
)
def test_the_budget_is_never_exceeded_and_no_block_is_cut(
    spans: list[tuple[int, int]], budget: int
) -> None:
    hits = [hit(rank, start, min(len(TEXT), start + size)) for rank, (start, size) in
            enumerate(spans, start=1)]  # fmt: skip
    packed = pack(hits, budget)
    assert len(packed.context) <= budget
    for block in packed.blocks:
        assert block.text == TEXT[block.char_start : block.char_end]
    everything = pack(hits, 10**9)
    assert packed.truncated == (len(packed.blocks) < len(everything.blocks))
    kept = [(b.char_start, b.char_end) for b in everything.blocks]
    for i, (start, end) in enumerate(kept):  # blocks of one document never touch
        assert all(end < s or e < start for s, e in kept[i + 1 :])
