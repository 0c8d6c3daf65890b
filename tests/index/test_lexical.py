"""BM25 scored from posting lists gives bm25s's own scores and ranking, filters before
it ranks, and breaks ties the same way every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.read.terms import bm25s_module, stemmer
from index.store.local.sparse import LexicalCorpus, LexicalIndex

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
QUESTIONS = [
    "What did Bolton say about the talks?",
    "oil exports sanctions sanctions Chevron",  # a repeated word counts twice, as in bm25s
    "Machado Nobel prize",
    "How many Americans were detained in Caracas?",
    "Venezuela oil production",
]


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    found = [
        line.strip()
        for path in sorted(SEEDS.glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(line.split()) > 5
    ]
    assert len(found) > 50
    return found


def _bm25s_top(index: LexicalIndex, question: str, k: int, mask: np.ndarray | None = None):
    """What bm25s's own ``retrieve`` returns, as (row id, score) above zero."""
    tokens = bm25s_module().tokenize(
        [question], stopwords="en", stemmer=stemmer(), show_progress=False, return_ids=False
    )
    docs, scores = index._retriever.retrieve(
        tokens, k=k, show_progress=False, n_threads=0, weight_mask=mask
    )
    return [
        (int(index._ids[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
    ]


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_and_ranking_are_bm25s_own(paragraphs: list[str], question: str) -> None:
    ids = [10 + 3 * i for i in range(len(paragraphs))]  # row ids are not positions
    index = LexicalIndex.build(ids, paragraphs)
    ours = index.search(question, 10)
    theirs = _bm25s_top(index, question, 10)
    assert ours, "every question shares words with the seeds"
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-5)
    tied = {
        s
        for s in np.round([s for _, s in ours], 5)
        if list(np.round([x for _, x in ours], 5)).count(s) > 1
    }
    for (mine, my_score), (their, _) in zip(ours, theirs, strict=True):
        if round(my_score, 5) not in tied:
            assert mine == their


def test_allowed_ranks_among_those_passages_only(paragraphs: list[str]) -> None:
    ids = list(range(len(paragraphs)))
    index = LexicalIndex.build(ids, paragraphs)
    question = "What did Bolton say about the talks?"
    best = [row for row, _ in index.search(question, 3)]
    allowed = np.array([i for i in ids if i not in best], dtype=np.int64)
    found = index.search(question, 5, allowed)
    mask = np.isin(np.array(ids), allowed).astype(np.float32)
    assert len(found) == 5 and not set(best) & {row for row, _ in found}
    assert found == [
        (r, pytest.approx(s, abs=1e-5)) for r, s in _bm25s_top(index, question, 5, mask)
    ]
    assert index.search(question, 5, np.array([10**9], dtype=np.int64)) == []


def test_ties_come_in_passage_order() -> None:
    texts = ["tanker seized off the coast"] * 6 + ["nothing to see here at all"]
    index = LexicalIndex.build([60, 50, 40, 30, 20, 10, 0], texts)
    found = index.search("tanker", 4)
    assert [row for row, _ in found] == [10, 20, 30, 40]
    assert len({s for _, s in found}) == 1


def test_words_the_index_does_not_hold_find_nothing(paragraphs: list[str]) -> None:
    index = LexicalIndex.build(list(range(len(paragraphs))), paragraphs)
    assert index.search("zyxwv qqqqq", 5) == []
    assert index.search("the and of", 5) == []  # stopwords only
    assert LexicalIndex.build([], []).search("oil", 5) == []


def test_a_writer_built_index_scores_as_one_built_from_text(paragraphs: list[str]) -> None:
    corpus = LexicalCorpus()
    corpus.add(list(range(len(paragraphs))), paragraphs)
    from_tokens = corpus.index()
    from_text = LexicalIndex.build(list(range(len(paragraphs))), paragraphs)
    for question in QUESTIONS:
        assert from_tokens.search(question, 10) == [
            (r, pytest.approx(s, abs=1e-5)) for r, s in from_text.search(question, 10)
        ]


def _bm25s_built(corpus: LexicalCorpus, texts: dict[int, str]) -> dict:
    """bm25s's own build over the same words and vocabulary: the arrays to match."""
    vocab = corpus.vocab
    ids = sorted(texts)
    words = bm25s_module().tokenize(
        [texts[i] for i in ids], stopwords="en", stemmer=stemmer(), show_progress=False,
        return_ids=False,
    )  # fmt: skip
    retriever = bm25s_module().BM25()
    tokenized = bm25s_module().tokenization.Tokenized(
        ids=[[vocab[w] for w in doc] for doc in words], vocab=dict(vocab)
    )
    retriever.index(tokenized, show_progress=False)
    return retriever.scores


def test_a_writer_builds_bm25s_own_arrays_after_adds_and_removals(
    paragraphs: list[str], tmp_path: Path
) -> None:
    corpus = LexicalCorpus()
    texts = {10 + 2 * i: text for i, text in enumerate(paragraphs[:60])}
    corpus.add(list(texts), list(texts.values()))
    gone = [10, 30, 52]  # some words now occur in no passage: they stay in the vocabulary
    corpus.remove(gone)
    for row in gone:
        del texts[row]
    later = {500 + i: text for i, text in enumerate(paragraphs[60:])}
    corpus.add(list(later), list(later.values()))
    texts |= later
    ours = corpus.index()._retriever.scores
    theirs = _bm25s_built(corpus, texts)
    assert ours["num_docs"] == theirs["num_docs"] == len(texts)
    for part in ("data", "indices", "indptr"):
        assert ours[part].dtype == theirs[part].dtype
        assert np.array_equal(ours[part], theirs[part]), part
    built = corpus.index()
    assert built.ids().tolist() == sorted(texts)
    built.save(tmp_path / "bm25")  # what a generation saves, a reader loads
    loaded = LexicalIndex.load(tmp_path / "bm25")
    for question in QUESTIONS:
        assert loaded.search(question, 10) == built.search(question, 10)
