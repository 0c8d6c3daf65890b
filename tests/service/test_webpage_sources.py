"""The web page's way back to the source, in a real headless Chromium against a real
`citeqa serve` over a real PDF (fpdf2) and a news page with a URL: the page number beside a
citation, the kept original at that page, the text-fragment link to the live page, and the
page breaks of a PDF in the document view (drawn beside the text, never inserted into it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from playwright.sync_api import Browser, Frame, Page, expect

from tests.browser import chromium, watch
from tests.formats import PAGE_FACTS, news_html, report_pdf
from tests.live import citeqa, serving

pytestmark = pytest.mark.e2e

KEY = "sources-page-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PDF_ID, NEWS_ID = "report.pdf", "news.html"
NEWS_URL = "https://dailyplanet.example/world/envoy-meets-minister"
ENVOY = "What did the envoy tell reporters?"
VIEWER = "chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/"  # Chromium's PDF viewer


@dataclass(frozen=True)
class Served:
    url: str
    pdf: bytes


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("sources")
    folder = tmp / "docs"
    folder.mkdir()
    pdf = report_pdf(folder / PDF_ID)
    (folder / NEWS_ID).write_text(news_html(), encoding="utf-8")
    run = citeqa("ingest", folder, "--data-dir", tmp / "data")
    assert run.returncode == 0 and "2 added" in run.stderr, run.stderr
    with serving(tmp / "data", tmp / "server.log", CITEQA_API_KEY=KEY) as url:
        yield Served(url, pdf)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A tab whose session already holds the API key."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('citeqa.apiKey', {KEY!r})")
    tab = context.new_page()
    problems = watch(tab)
    yield tab
    context.close()
    assert not problems


def api(served: Served, path: str, **params: Any) -> Any:
    response = httpx.get(f"{served.url}{path}", params=params, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def ask(served: Served, page: Page, question: str) -> dict[str, Any]:
    """The page asked ``question``; the API's top result for it, which the page shows first."""
    page.goto(f"{served.url}/?q={quote(question)}")
    top: dict[str, Any] = api(served, "/v1/query", q=question, top_k=10)["results"][0]
    expect(page.locator(".result").first.locator("mark")).to_have_text(top["highlight"]["text"])
    return top


def _frame(tab: Page, prefix: str, seconds: float = 30) -> Frame:
    """The tab's frame whose URL starts with ``prefix``, once it is there."""
    for _ in range(int(seconds * 10)):
        if found := [f for f in tab.frames if f.url.startswith(prefix)]:
            return found[0]
        tab.wait_for_timeout(100)  # lets Playwright take in the frames attached meanwhile
    raise AssertionError(f"no frame at {prefix} in {[f.url for f in tab.frames]}")


def _opens_in_a_new_tab(link: Any) -> None:
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")


@pytest.mark.parametrize("number", sorted(PAGE_FACTS))
def test_a_pdf_citation_shows_the_page_of_its_quote_and_links_the_original_there(
    served: Served, page: Page, number: int
) -> None:
    top = ask(served, page, PAGE_FACTS[number])
    c, h = top["citation"], top["highlight"]
    assert c["doc_id"] == PDF_ID and h["text"] == PAGE_FACTS[number] and h["page"] == number
    first = page.locator(".result").first
    shown = first.locator(".meta .pages")
    if c["page_start"] == c["page_end"]:
        expect(shown).to_have_text(f"p. {number}")
    else:
        expect(shown).to_have_text(
            f"pp. {c['page_start']}–{c['page_end']} (sentence on p. {number})"
        )

    original = first.locator("a.original")
    expect(original).to_have_text("original")
    _opens_in_a_new_tab(original)
    href = original.get_attribute("href")
    assert href == f"/v1/documents/{PDF_ID}/original#page={number}"
    fetched = httpx.get(served.url + href, headers=AUTH, timeout=30)
    assert fetched.status_code == 200 and fetched.content == served.pdf
    expect(first.locator("a.source")).to_have_count(0)  # no URL of its own: nothing else to open


def test_the_original_opens_with_the_tabs_key_at_the_page(served: Served, page: Page) -> None:
    # A new tab sends no Authorization header; this server wants one for every /v1/ path.
    assert httpx.get(f"{served.url}/v1/documents/{PDF_ID}/original").status_code == 401
    ask(served, page, PAGE_FACTS[3])
    with page.context.expect_page() as opened:
        page.locator(".result a.original").first.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url.startswith("blob:") and tab.url.endswith("#page=3")
    assert tab.evaluate("document.contentType") == "application/pdf"
    # Chromium's own PDF viewer (an extension frame) shows the file, at that page.
    viewer = _frame(tab, VIEWER)
    expect(viewer.locator("viewer-page-selector input")).to_have_value("3")
    expect(viewer.locator("#title").first).to_have_text("Caribbean Energy Monitor")


def test_a_web_page_citation_links_to_the_sentence_in_the_live_page(
    served: Served, page: Page
) -> None:
    top = ask(served, page, ENVOY)
    c, h = top["citation"], top["highlight"]
    assert c["doc_id"] == NEWS_ID and c["url"] == NEWS_URL
    first = page.locator(".result").first
    link = first.locator("a.source")
    expect(link).to_have_text("open at passage")
    _opens_in_a_new_tab(link)
    href = link.get_attribute("href")
    assert href and href.startswith(NEWS_URL) and "#:~:text=" in href
    start, _, end = href.split("#:~:text=", 1)[1].partition(",")
    assert h["text"].startswith(unquote(start)) and h["text"].endswith(unquote(end or start))
    expect(first.locator(".meta .pages")).to_have_count(0)
    expect(first.locator("a.original")).to_have_count(0)  # a web page: no file kept

    first.locator("a.cite").click()
    expect(page.locator("mark#cited")).to_have_text(
        api(served, f"/v1/documents/{NEWS_ID}")["text"][c["char_start"] : c["char_end"]]
    )
    expect(page.locator("#document a.source")).to_have_attribute("href", NEWS_URL)
    expect(page.locator(".doc-text .page-break")).to_have_count(0)


# The text before each page break, as the browser holds it (a Range from the text's start).
_BEFORE = """(marker) => { const range = document.createRange();
  range.setStart(document.querySelector('.doc-text'), 0); range.setEndBefore(marker);
  return range.toString().length; }"""


def test_the_document_view_of_a_pdf_marks_each_page_start_beside_the_text(
    served: Served, page: Page
) -> None:
    top = ask(served, page, PAGE_FACTS[2])
    page.locator(".result a.cite").first.click()
    cited = page.locator("mark#cited")
    expect(cited).to_be_in_viewport()
    doc = api(served, f"/v1/documents/{PDF_ID}")
    c = top["citation"]
    assert len(doc["pages"]) == 3
    expect(cited).to_have_text(doc["text"][c["char_start"] : c["char_end"]])
    expect(page.locator("#cited .answer")).to_have_text(top["highlight"]["text"])

    breaks = page.locator(".doc-text .page-break")
    expect(breaks).to_have_count(len(doc["pages"]))
    assert [b.get_attribute("data-page") for b in breaks.all()] == ["1", "2", "3"]
    for number, (marker, span) in enumerate(zip(breaks.all(), doc["pages"], strict=True), 1):
        expect(marker).to_be_visible()
        expect(marker).to_have_attribute("aria-label", f"Page {number}")
        drawn = marker.evaluate("m => getComputedStyle(m, '::before').content")
        assert drawn == f'"Page {number}"'
        assert marker.evaluate(_BEFORE) == span["char_start"]  # at the page's first character
    # The text is still exactly the document's: in the DOM, and in what a reader copies.
    assert page.locator(".doc-text").text_content() == doc["text"]
    copied = page.evaluate("""() => { const s = getSelection();
        s.selectAllChildren(document.querySelector('.doc-text')); return s.toString(); }""")
    assert copied == doc["text"]

    header = page.locator("#document a.original")
    expect(header).to_have_text("original file at p. 2")
    _opens_in_a_new_tab(header)
    href = header.get_attribute("href")
    assert href == f"/v1/documents/{PDF_ID}/original#page=2"
    assert httpx.get(served.url + href, headers=AUTH).content == served.pdf
    expect(page.locator("#document .meta")).to_contain_text("3 pages")


def test_a_cited_span_over_a_page_break_holds_the_marker_but_not_its_label(
    served: Served, page: Page
) -> None:
    doc = api(served, f"/v1/documents/{PDF_ID}")
    start, end = doc["pages"][1]["char_start"] - 40, doc["pages"][1]["char_start"] + 40
    page.goto(f"{served.url}/documents/{PDF_ID}#{start}-{end}")
    cited = page.locator("mark#cited")
    expect(cited.locator(".page-break")).to_have_count(1)
    expect(cited.locator(".page-break")).to_have_attribute("data-page", "2")
    assert cited.text_content() == doc["text"][start:end]
    expect(page.locator(".doc-text .page-break")).to_have_count(3)
    expect(page.locator("#document a.original")).to_have_text("original file at p. 1")


BAD_LINKS = ["javascript:alert(1)", " javascript:alert(1)", "JavaScript:alert(1)",
             "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
             "file:///etc/passwd", "//evil.example/v1/x", "/\\evil.example/v1/x",
             "/documents/x", "/v1/../admin", "/static/citeqa.js", "", None]  # fmt: skip


def test_only_http_links_and_this_servers_api_paths_pass_the_filter(
    served: Served, page: Page
) -> None:
    page.goto(f"{served.url}/documents")
    expect(page.locator("#documents tbody tr")).to_have_count(2)
    check = "(urls) => urls.map((u) => window.citeqa.safeUrl(u))"
    assert page.evaluate(check, BAD_LINKS) == [None] * len(BAD_LINKS)
    good = [f"{NEWS_URL}#:~:text=We%20made", "http://example.org/a",
            "/v1/documents/a%2F..%2Fb/original#page=2"]  # fmt: skip
    assert page.evaluate(check, good) == good
