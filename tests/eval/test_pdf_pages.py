from __future__ import annotations

from eval.pdf_pages import locate, probes_of, words_with_offsets


def test_words_are_found_in_order_whatever_the_ligatures_and_case() -> None:
    hay, offsets = words_with_offsets("The ﬁrst Page said: the first page, again.")
    assert locate(["the", "first", "page"], hay) == [0, 4]
    assert offsets[1] == (4, 8)  # the ligature is one character of the text


def test_only_sentences_that_occur_once_in_the_file_are_asked() -> None:
    repeated = "This sentence is printed on every single page of the file."
    pages = [
        f"{repeated} The minister met the envoy in Caracas on a Monday morning.",
        f"{repeated} Exports reached three hundred thousand barrels a day in March.",
        "Short one.",
    ]
    chosen = probes_of(pages, per_page=3)
    assert chosen == [
        (1, "The minister met the envoy in Caracas on a Monday morning."),
        (2, "Exports reached three hundred thousand barrels a day in March."),
    ]
