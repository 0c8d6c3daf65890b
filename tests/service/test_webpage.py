"""The web page in a real headless Chromium against a real `citeqa serve` (uvicorn on a free
loopback port): ask, read the marked sentence, follow the citation to the exact span."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, watch
from tests.conftest import BOLTON, BOLTON_ANSWER
from tests.live import serving

pytestmark = pytest.mark.e2e

KEY = "page-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
BOLTON_DOC = "002_97bb957da4f5db3c.txt"
MISSING_DOC = "no-such-doc.txt"
EXPECTED_404 = f"/v1/documents/{MISSING_DOC}"  # the one failed request a test asks for
OFF_TOPIC = "How do I bake sourdough bread at home?"
# `make screenshots` sets this to docs/; otherwise the screenshots go to a temporary folder.
SCREENSHOTS = os.environ.get("SCREENSHOTS")

HOSTILE = {
    "doc_id": "memos/<b>hostile</b> memo.txt",
    "title": "<img src=x onerror=\"window.__pwned='title'\"> Envoy memo",
    "source": "<script>window.__pwned='source'</script>",
    "url": "javascript:window.__pwned='url'",
    "text": (
        "Memo on the quartermaster talks.\n\n"
        "<script>window.__pwned = 'text'</script> The quartermaster envoy met the "
        "harbour pilots on Tuesday to agree the lighthouse schedule.\n\n"
        "<img src=x onerror=\"window.__pwned='img'\"> The pilots asked for two more "
        "lighthouse keepers before winter."
    ),
}
# A browser folds "a/../b" in a path to "b", even spelled %2E%2E: the page must not.
DOTS = {"doc_id": "notes/../dots.txt", "title": "Dotted id", "text": "The tide log for Maracaibo."}
# Characters outside the Basic Multilingual Plane are two UTF-16 units in JavaScript but
# one Python index: the page must count the way the API does.
ASTRAL = {
    "doc_id": "astral.txt",
    "title": "Flags and faces",
    "text": (
        "🇻🇪🇺🇸 Reactions 😀😀😀 poured in overnight.\n\n"
        "The falconry guild of Maracaibo announced its annual falcon parade for March. "
        "Organisers expect 🦅 forty falcons and their handlers on the waterfront.\n\n"
        "𝔗𝔥𝔢 𝔢𝔫𝔡."
    ),
}


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("page") / "data"
    shutil.copytree(seeded_dir, data)  # this server writes: keep the shared seeds clean
    log = data.parent / "server.log"
    with serving(data, log, CITEQA_API_KEY=KEY) as url:
        yield url


@pytest.fixture(scope="module")
def posted(server: str) -> None:
    """The hostile and the astral documents, added through the API (not in the seeds, so
    `make screenshots` shows the seeds alone)."""
    # A javascript: url is refused at the door (and filtered on the way out for indexes
    # that hold one already: test_hostile_input.py), so the page never receives one.
    refused = httpx.post(f"{server}/v1/documents", json=HOSTILE, headers=AUTH, timeout=120)
    assert refused.status_code == 422 and "http:// or https://" in refused.text
    for doc in ({k: v for k, v in HOSTILE.items() if k != "url"}, ASTRAL, DOTS):
        done = httpx.post(f"{server}/v1/documents", json=doc, headers=AUTH, timeout=120)
        assert done.status_code == 200, done.text


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A tab whose session already holds the API key (as after the first prompt)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('citeqa.apiKey', {KEY!r})")
    tab = context.new_page()
    problems = watch(tab, EXPECTED_404)
    yield tab
    context.close()
    assert not problems


def api(server: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{server}{path}", params=params, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def ask_url(server: str, question: str, mode: str | None = None) -> str:
    return f"{server}/?q={quote(question)}" + (f"&mode={mode}" if mode else "")


def test_the_bolton_question_marks_the_answer_in_the_first_result(server: str, page: Page) -> None:
    page.goto(ask_url(server, BOLTON))
    first = page.locator(".result").first
    expect(first.locator("mark")).to_contain_text(BOLTON_ANSWER)
    expect(first.locator(".label")).to_have_text("[1]")
    top = api(server, "/v1/query", q=BOLTON, top_k=10)["results"][0]["citation"]
    expect(first.locator("a.cite")).to_have_text(top["title"])
    expect(first.locator(".meta")).to_contain_text(
        f"characters {top['char_start']}–{top['char_end']}"
    )
    expect(page.locator("#not-answerable")).to_have_count(0)
    assert page.locator(".result").count() == 10


def test_the_question_lives_in_the_url_and_the_mode_switch_asks_again(
    server: str, page: Page
) -> None:
    page.goto(server + "/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type(BOLTON)
    page.keyboard.press("Enter")
    expect(page.locator(".result mark").first).to_contain_text(BOLTON_ANSWER)
    assert parse_qs(urlsplit(page.url).query) == {"q": [BOLTON]}

    page.get_by_label("words only").check()
    expect(page).to_have_url(re.compile(r"mode=lexical"))
    lexical = api(server, "/v1/query", q=BOLTON, top_k=10, mode="lexical")["results"][0]
    expect(page.locator(".result .meta").first).to_contain_text(
        f"characters {lexical['citation']['char_start']}–{lexical['citation']['char_end']}"
    )
    page.reload()  # the link alone reproduces the answer, mode included
    expect(page.get_by_label("words only")).to_be_checked()
    expect(page.locator("#q")).to_have_value(BOLTON)

    page.go_back()
    expect(page.get_by_label("meaning and words")).to_be_checked()
    page.locator("a.cite").first.focus()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()


def test_a_citation_opens_its_document_with_exactly_that_span_marked(
    server: str, page: Page
) -> None:
    page.goto(ask_url(server, BOLTON))
    top = api(server, "/v1/query", q=BOLTON, top_k=10)["results"][0]
    page.locator("a.cite").first.click()
    cited = page.locator("mark#cited")
    expect(cited).to_be_in_viewport()
    expect(cited).to_be_focused()

    c = top["citation"]
    match = re.search(r"/documents/(.+)#(\d+)-(\d+)", page.url)
    assert match and match[1] == quote(c["doc_id"]) and match[1] == BOLTON_DOC
    start, end = int(match[2]), int(match[3])
    assert (start, end) == (c["char_start"], c["char_end"])
    doc = api(server, f"/v1/documents/{BOLTON_DOC}")
    assert cited.text_content() == doc["text"][start:end]
    assert page.locator("#cited .answer").text_content() == top["highlight"]["text"]
    assert page.locator(".doc-text").text_content() == doc["text"]  # the whole text, as is

    # What the index skipped is shown, dimmed: exactly the text outside the indexed spans.
    skipped = "".join(page.locator(".doc-text .skipped").all_text_contents())
    outside, cursor = [], 0
    for span in doc["indexed"]:
        outside.append(doc["text"][cursor : span["char_start"]])
        cursor = span["char_end"]
    outside.append(doc["text"][cursor:])
    assert skipped == "".join(outside)
    assert "Join the conversation as a VIP Member" in skipped
    assert float(page.locator(".doc-text .skipped").first.evaluate(
        "e => getComputedStyle(e).opacity")) < 1  # fmt: skip


def test_offsets_count_characters_as_the_api_does_beyond_the_basic_plane(
    server: str, page: Page, posted: None
) -> None:
    question = "When is the falcon parade in Maracaibo?"
    page.goto(ask_url(server, question))
    first = page.locator(".result").first
    expect(first.locator("a.cite")).to_have_text("Flags and faces")
    top = api(server, "/v1/query", q=question, top_k=10)["results"][0]
    expect(first.locator("mark")).to_have_text(top["highlight"]["text"])
    first.locator("a.cite").click()
    c = top["citation"]
    expect(page.locator("mark#cited")).to_have_text(ASTRAL["text"][c["char_start"] : c["char_end"]])


def test_not_answerable_shows_a_banner_above_what_was_found(server: str, page: Page) -> None:
    assert api(server, "/v1/query", q=OFF_TOPIC)["answerable"] is False
    page.goto(ask_url(server, OFF_TOPIC))
    banner = page.locator("#not-answerable")
    expect(banner).to_contain_text("The documents may not answer this")
    expect(page.locator(".result").first).to_be_visible()
    assert banner.evaluate(
        "b => b.compareDocumentPosition(document.querySelector('.result')) & 4"
    ), "the banner comes before the results"


def test_document_text_is_shown_as_text_never_run_as_markup(
    server: str, page: Page, posted: None
) -> None:
    page.goto(server + "/documents")
    row = page.locator("#documents tbody tr", has_text="Envoy memo")
    expect(row).to_contain_text(HOSTILE["title"])
    expect(row).to_contain_text(HOSTILE["source"])
    row.locator("a").click()
    body = page.locator(".doc-text")
    expect(body).to_have_text(HOSTILE["text"])
    expect(page.locator("#document h1")).to_have_text(HOSTILE["title"])
    assert page.locator("main img, main script").count() == 0

    page.goto(ask_url(server, "lighthouse keepers for the harbour pilots"))
    expect(page.locator(".result a.cite").first).to_have_text(HOSTILE["title"])
    assert page.evaluate("window.__pwned") is None


def test_an_id_with_dot_segments_opens_that_document(server: str, page: Page, posted: None) -> None:
    page.goto(server + "/documents")
    page.locator("#documents tbody tr", has_text="Dotted id").locator("a").click()
    expect(page.locator("#document h1")).to_have_text("Dotted id")
    expect(page.locator(".doc-text")).to_have_text(DOTS["text"])


def test_the_documents_list_shows_titles_sources_and_passage_counts(
    server: str, page: Page
) -> None:
    listed = api(server, "/v1/documents")["documents"]
    page.goto(server + "/documents")
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(len(listed))
    for doc in listed:
        row = rows.filter(has_text=doc["title"] or doc["doc_id"]).first
        expect(row.locator("td").nth(3)).to_have_text(str(doc["passages"]))
        if doc["source"]:
            expect(row.locator("td").nth(1)).to_have_text(doc["source"])
    page.get_by_label("Filter by title, source or id").fill("guardian")
    expect(rows).to_have_count(sum("Guardian" in (d["source"] or "") for d in listed))


def test_the_api_key_is_asked_once_and_kept_for_the_tab_only(server: str, browser: Browser) -> None:
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(server + "/documents")
    key = tab.get_by_label("API key")
    expect(key).to_be_focused()
    key.fill("wrong")
    key.press("Enter")
    expect(tab.locator("#key-error")).to_contain_text("refused")
    key.fill(KEY)
    key.press("Enter")
    expect(tab.locator("#documents tbody tr").first).to_be_visible()
    expect(tab.locator("#key-form")).to_be_hidden()

    tab.goto(ask_url(server, BOLTON))  # same tab: not asked again
    expect(tab.locator(".result mark").first).to_contain_text(BOLTON_ANSWER)
    expect(tab.locator("#key-form")).to_be_hidden()

    other = context.new_page()  # a new tab is a new session: asked again
    other.goto(ask_url(server, BOLTON))
    expect(other.get_by_label("API key")).to_be_visible()

    tab.get_by_role("button", name="Forget API key").click()
    tab.reload()
    expect(tab.get_by_label("API key")).to_be_visible()
    context.close()


def test_a_span_outside_the_document_or_an_unknown_document_says_so(
    server: str, page: Page
) -> None:
    page.goto(f"{server}/documents/{BOLTON_DOC}#90000-90010")
    expect(page.locator("#document-status")).to_contain_text("not inside this document")
    expect(page.locator("mark#cited")).to_have_count(0)
    page.goto(f"{server}/documents/{MISSING_DOC}")
    expect(page.locator("#document-status")).to_contain_text("No such document")


@pytest.mark.parametrize("path", ["/?q=" + quote(BOLTON), "/documents", f"/documents/{BOLTON_DOC}"])
def test_every_view_fits_a_phone_width_screen(server: str, browser: Browser, path: str) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    context.add_init_script(f"sessionStorage.setItem('citeqa.apiKey', {KEY!r})")
    tab = context.new_page()
    tab.goto(server + path)
    expect(tab.locator(".result, #documents tbody tr, .doc-text").first).to_be_visible()
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360, "no sideways scrolling"
    font = tab.locator("main").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 16
    context.close()


def test_screenshots_of_the_three_views(server: str, page: Page, tmp_path: Path) -> None:
    out = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    page.goto(ask_url(server, BOLTON))
    expect(page.locator(".result mark").first).to_be_visible()
    page.screenshot(path=out / "page-ask.png")
    page.locator("a.cite").first.click()
    expect(page.locator("mark#cited")).to_be_in_viewport()
    page.screenshot(path=out / "page-document.png")
    page.goto(server + "/documents")
    expect(page.locator("#documents tbody tr").first).to_be_visible()
    page.screenshot(path=out / "page-documents.png")
    for name in ("page-ask", "page-document", "page-documents"):
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000, name
