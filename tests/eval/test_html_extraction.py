"""The HTML extraction scorer: trafilatura's own counting, on a benchmark folder laid out
as trafilatura's is, with real pages through the real reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.html_extraction import Counts, Page, count, exact_span, load_pages, main, score_page
from tests.formats import ARTICLE, CHROME, news_html


def _page(with_: tuple[str, ...], without: tuple[str, ...]) -> Page:
    return Page("https://example.org/a", Path("a.html"), with_, without)


def test_counting_is_trafilaturas_whitespace_blind_substring_test() -> None:
    page = _page(("the envoy  met\nthe minister", "not there"), ("Home", "Share"))
    assert count(page, "The talks: the envoy met the minister. Home") == Counts(1, 1, 1, 1)
    assert count(page, None) == Counts(0, 0, 2, 2)  # no output finds nothing, keeps nothing
    total = Counts()
    total.add(Counts(3, 1, 1, 0))
    assert (total.precision, total.recall) == (0.75, 0.75)
    assert Counts().f1 == 0.0


def test_an_exact_span_is_found_across_blocks_but_never_in_skipped_text() -> None:
    text = "Home\n\nThe envoy met\n\nthe minister today."
    assert exact_span(text, [(6, len(text))], "The envoy met the minister")
    assert not exact_span(text, [(21, len(text))], "The envoy met the minister")


def _benchmark(root: Path, pages: dict[str, tuple[str, str, list[str], list[str]]]) -> None:
    for sub in ("cache", "eval"):
        (root / "tests" / sub).mkdir(parents=True)
    data = {}
    for url, (sub, markup, with_, without) in pages.items():
        name = url.rsplit("/", 1)[1] + ".html"
        (root / "tests" / sub / name).write_text(markup, encoding="utf-8")
        data[url] = {"file": name, "with": with_, "without": without}
    (root / "tests" / "evaldata.json").write_text(json.dumps(data), encoding="utf-8")


def test_a_real_page_scores_its_article_found_and_its_chrome_left_out(tmp_path: Path) -> None:
    url = "https://dailyplanet.example/envoy"
    _benchmark(tmp_path, {url: ("eval", news_html(), ARTICLE[:2], CHROME[2:5])})
    [page] = load_pages(tmp_path)
    result = score_page(page)
    assert result.counts["citeqa"] == Counts(tp=2, fp=0, fn=0, tn=3)
    assert result.located == 2  # each found snippet is an exact span of the document text


def test_the_run_writes_a_report_beside_trafilatura(tmp_path: Path) -> None:
    pages = {
        "https://dailyplanet.example/one": ("cache", news_html(), ARTICLE[1:3], CHROME[:2]),
        "https://dailyplanet.example/two": ("eval", news_html(), ARTICLE[3:], CHROME[5:]),
    }
    _benchmark(tmp_path / "trafilatura", pages)
    main([str(tmp_path / "trafilatura"), "--out", str(tmp_path / "report")])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pages"] == 2 and report["unreadable"] == []
    assert set(report["table"]["all"]) == {"citeqa", "trafilatura"}
    assert report["table"]["all"]["citeqa"]["f1"] == 1.0
    assert (tmp_path / "report.md").read_text().count("| all |") == 2
    assert (tmp_path / "report.png").stat().st_size > 0


def test_a_folder_without_the_benchmark_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="github.com/adbar/trafilatura"):
        load_pages(tmp_path)
