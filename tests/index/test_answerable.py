from __future__ import annotations

from index.documents import DocumentInfo, Highlight, Hit, Passage, Span
from index.search.answerable import is_answerable, named_terms, names_found_together


def hit(
    text: str, similarity: float = 0.6, title: str | None = None, late: float | None = None
) -> Hit:
    passage = Passage("d#0", "d", 0, 0, len(text), text, (Span(0, len(text)),))
    info = DocumentInfo("d", title, None, None, None, 1, len(text))
    highlight = Highlight(text, 0, len(text), similarity)
    return Hit(1, 1.0, passage, info, highlight, 1, 1, similarity, late)


def test_named_terms_are_the_capitalized_words_after_the_first() -> None:
    assert named_terms("What did Vladimir Putin say about Maduro's plans?") == {
        "vladim", "putin", "maduro"
    }  # fmt: skip
    assert named_terms("how many barrels of oil does it pump?") == set()
    assert named_terms("Who said the CIA was involved?") == {"cia"}


def test_a_name_no_result_mentions_means_not_in_the_corpus() -> None:
    hits = [hit("Maduro spoke on TV about secret talks with Washington.")]
    assert not is_answerable("What did Putin say about Maduro?", hits, 0.4)
    assert is_answerable("What did Maduro say about the talks?", hits, 0.4)


def test_names_must_meet_in_one_result_or_its_title() -> None:
    apart = [hit("Rubio met the opposition."), hit("Cabello leads the assembly.")]
    assert not names_found_together("What did Rubio say about Cabello?", apart)
    titled = [hit("He met the opposition and Cabello.", title="Rubio in Caracas")]
    assert names_found_together("What did Rubio say about Cabello?", titled)


def test_similarity_still_has_to_reach_the_threshold() -> None:
    assert not is_answerable("what is the weather?", [hit("Rain fell.", 0.2)], 0.4)
    assert is_answerable("what is the weather?", [hit("Rain fell.", 0.5)], 0.4)
    assert not is_answerable("what is the weather?", [], 0.0)


def test_with_pooled_sentences_the_closeness_is_maxsim() -> None:
    close_tokens = [hit("Rain fell.", 0.2, late=0.5)]
    assert is_answerable("what is the weather?", close_tokens, 0.4, by_tokens=True)
    assert not is_answerable("what is the weather?", close_tokens, 0.4)
    far_tokens = [hit("Rain fell.", 0.5, late=0.2)]
    assert not is_answerable("what is the weather?", far_tokens, 0.4, by_tokens=True)
    no_tokens = [hit("Rain fell.", 0.5)]  # stored without token vectors: its sentence cosine
    assert is_answerable("what is the weather?", no_tokens, 0.4, by_tokens=True)
