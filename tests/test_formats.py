"""Every format end to end: a mixed folder through the real `citeqa ingest`, the same files
uploaded to a real server, and links fetched from a real local web server; each citation
checked against the document text the server gives and, for a PDF, against the page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.formats import ARTICLE, CHROME, PAGE_FACTS, memo_docx, news_html, report_pdf, scanned_pdf
from tests.live import citeqa, serving

pytestmark = pytest.mark.model

NOTES = "# Field notes\n\nThe harbour master counted nine tankers waiting off Jose on Friday.\n"
PLAIN = "A customs officer said the new inspection rules start on the first of July.\n"


def _folder(root: Path) -> Path:
    root.mkdir()
    report_pdf(root / "report.pdf")
    (root / "memo.docx").write_bytes(memo_docx())
    (root / "news.html").write_text(news_html(), encoding="utf-8")
    (root / "notes.md").write_text(NOTES, encoding="utf-8")
    (root / "plain.txt").write_text(PLAIN, encoding="utf-8")
    (root / "scan.pdf").write_bytes(scanned_pdf())
    (root / "locked.pdf").write_bytes(report_pdf(password="secret"))
    (root / "broken.docx").write_bytes(b"PK\x03\x04 not a word file")
    return root


def _one_document(data: Path) -> Path:
    """A data dir holding one document (a server over an empty one is not ready)."""
    data.parent.mkdir(parents=True, exist_ok=True)
    (data.parent / "plain.txt").write_text(PLAIN, encoding="utf-8")
    run = citeqa("ingest", data.parent / "plain.txt", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    return data


@dataclass(frozen=True)
class Indexed:
    url: str
    folder: Path
    ingest_output: str


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexed]:
    tmp = tmp_path_factory.mktemp("formats")
    folder = _folder(tmp / "docs")
    run = citeqa("ingest", folder, "--data-dir", tmp / "data")
    assert run.returncode == 0, run.stderr
    with serving(tmp / "data", tmp / "server.log", CITEQA_PUBLIC_URL="http://citeqa.test") as url:
        yield Indexed(url, folder, run.stderr)


def _ask(url: str, question: str, **filters: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question, "top_k": 3}
    if filters:
        body["filters"] = filters
    response = httpx.post(f"{url}/v1/query", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _checked(url: str, result: dict[str, Any]) -> dict[str, Any]:
    """The cited document, after checking that its text holds exactly what is cited."""
    citation, highlight = result["citation"], result["highlight"]
    doc = httpx.get(f"{url}/v1/documents/{citation['doc_id']}", timeout=30).json()
    assert doc["text"][citation["char_start"] : citation["char_end"]] == result["text"]
    assert doc["text"][highlight["char_start"] : highlight["char_end"]] == highlight["text"]
    return doc  # type: ignore[no-any-return]


def test_a_mixed_folder_ingests_in_one_command_listing_what_it_skipped(indexed: Indexed) -> None:
    out = indexed.ingest_output
    assert "5 added" in out and "3 skipped" in out, out
    assert "scan.pdf" in out and "no text layer" in out
    assert "locked.pdf" in out and "encrypted" in out
    assert "broken.docx" in out
    listed = {d["doc_id"]: d for d in httpx.get(f"{indexed.url}/v1/documents").json()["documents"]}
    assert set(listed) == {"report.pdf", "memo.docx", "news.html", "notes.md", "plain.txt"}
    assert listed["report.pdf"]["pages"] == 3
    assert listed["report.pdf"]["media_type"] == "application/pdf"


@pytest.mark.parametrize("page", sorted(PAGE_FACTS))
def test_a_pdf_citation_names_the_page_that_holds_the_quote(indexed: Indexed, page: int) -> None:
    fact = PAGE_FACTS[page]
    top = _ask(indexed.url, fact, doc_ids=["report.pdf"])["results"][0]
    doc = _checked(indexed.url, top)
    assert top["highlight"]["text"] == fact and top["highlight"]["page"] == page
    citation = top["citation"]
    assert citation["page_start"] <= page <= citation["page_end"]
    span = doc["pages"][page - 1]
    assert fact in doc["text"][span["char_start"] : span["char_end"]]
    original = f"http://citeqa.test/v1/documents/report.pdf/original#page={page}"
    assert citation["original"] == original and citation["link"] == original


def test_the_plain_text_answer_names_the_page_and_the_link(indexed: Indexed) -> None:
    """What `scripts/ask.sh` and `citeqa ask` print: the page beside the span, the link."""
    response = httpx.post(
        f"{indexed.url}/v1/query",
        json={"question": PAGE_FACTS[2], "top_k": 1, "filters": {"doc_ids": ["report.pdf"]}},
        headers={"accept": "text/plain"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    assert any(line.strip().startswith("doc report.pdf  p. 2  chars ") for line in lines)
    link = "http://citeqa.test/v1/documents/report.pdf/original#page=2"
    assert f"    link {link}" in lines


def test_the_original_pdf_is_served_as_it_came(indexed: Indexed) -> None:
    response = httpx.get(f"{indexed.url}/v1/documents/report.pdf/original")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == (indexed.folder / "report.pdf").read_bytes()
    head = httpx.head(f"{indexed.url}/v1/documents/report.pdf/original")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(response.content))
    missing = httpx.get(f"{indexed.url}/v1/documents/notes.md/original")
    assert missing.status_code == 404 and "original" in missing.json()["error"]["message"]


def test_pdf_furniture_is_never_cited(indexed: Indexed) -> None:
    results = _ask(indexed.url, "Caribbean Energy Monitor Quarterly Report page 2")["results"]
    for result in results:
        _checked(indexed.url, result)
        assert "Quarterly Report" not in result["text"]


def test_a_word_file_is_cited_exactly(indexed: Indexed) -> None:
    top = _ask(indexed.url, "How many barrels a day?", doc_ids=["memo.docx"])["results"][0]
    _checked(indexed.url, top)
    assert "310,000" in top["text"]
    assert top["citation"]["title"] == "Tanker memo"
    assert top["citation"]["original"] == "http://citeqa.test/v1/documents/memo.docx/original"


def test_a_web_page_is_cited_with_a_link_to_the_sentence(indexed: Indexed) -> None:
    top = _ask(indexed.url, "What did the envoy tell reporters?", doc_ids=["news.html"])
    result = top["results"][0]
    doc = _checked(indexed.url, result)
    citation = result["citation"]
    assert citation["url"] == "https://dailyplanet.example/world/envoy-meets-minister"
    assert citation["title"] == "Envoy meets oil minister in Caracas"
    assert citation["source"] == "Daily Planet" and citation["published"] == "2019-05-02"
    link = citation["link"]
    assert link.startswith(f"{citation['url']}#:~:text=")
    start, _, end = link.split(":~:text=", 1)[1].partition(",")  # commas in words: %2C
    sentence = result["highlight"]["text"]
    assert sentence.startswith(unquote(start)) and sentence.endswith(unquote(end or start))
    assert ARTICLE[2].split(",")[0] in doc["text"]
    for chrome in CHROME:  # kept in the text the page shows, never in what is cited
        assert chrome in doc["text"] and chrome not in result["text"]


def test_markdown_and_text_are_cited_exactly(indexed: Indexed) -> None:
    for doc_id, question in [("notes.md", "How many tankers were waiting?"),
                             ("plain.txt", "When do the inspection rules start?")]:  # fmt: skip
        top = _ask(indexed.url, question, doc_ids=[doc_id])["results"][0]
        _checked(indexed.url, top)
        assert top["citation"]["page_start"] is None and top["citation"]["original"] is None


def test_the_same_files_upload_through_the_api(indexed: Indexed, tmp_path: Path) -> None:
    names = ["report.pdf", "memo.docx", "news.html", "notes.md", "plain.txt", "scan.pdf"]
    files = [("files", (f"up-{n}", (indexed.folder / n).read_bytes())) for n in names]
    with serving(_one_document(tmp_path / "data"), tmp_path / "server.log") as url:
        response = httpx.post(f"{url}/v1/documents", files=files, timeout=120)
        assert response.status_code == 200, response.text
        body = response.json()
        assert {d["doc_id"] for d in body["documents"]} == {f"up-{n}" for n in names[:-1]}
        assert [s["name"] for s in body["skipped"]] == ["up-scan.pdf"]
        assert "no text layer" in body["skipped"][0]["reason"]
        top = _ask(url, PAGE_FACTS[2], doc_ids=["up-report.pdf"])["results"][0]
        _checked(url, top)
        assert top["highlight"]["page"] == 2
        assert top["citation"]["original"].endswith("/v1/documents/up-report.pdf/original#page=2")


# Links: a real web server on loopback, which the service must refuse unless allowed.


class _Site(BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.startswith("/redirect-to/"):
            self.send_response(302)
            self.send_header("Location", unquote(self.path.removeprefix("/redirect-to/")))
            self.end_headers()
            return
        if self.path not in self.pages:
            self.send_error(404)
            return
        media_type, body = self.pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    _Site.pages = {
        "/news": ("text/html; charset=utf-8", news_html().encode()),
        "/report.pdf": ("application/pdf", report_pdf()),
        "/app.zip": ("application/zip", b"PK\x03\x04"),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_server_refuses_to_fetch_into_its_own_network(indexed: Indexed, site: str) -> None:
    for url in [f"{site}/news", "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/", "http://[::1]/"]:  # fmt: skip
        response = httpx.post(f"{indexed.url}/v1/documents", json={"url": url}, timeout=30)
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert "does not fetch into its own network" in message
        assert "CITEQA_FETCH_ALLOW_HOSTS" in message


def test_an_allowed_host_is_fetched_and_its_redirects_are_checked(
    site: str, tmp_path: Path
) -> None:
    port = site.rsplit(":", 1)[1]
    data = _one_document(tmp_path / "data")
    with serving(data, tmp_path / "log", CITEQA_FETCH_ALLOW_HOSTS="localhost") as url:
        page = f"http://localhost:{port}/news"
        added = httpx.post(f"{url}/v1/documents", json={"url": page}, timeout=60)
        assert added.status_code == 200, added.text
        assert added.json()["documents"][0]["doc_id"] == page
        doc = httpx.get(f"{url}/v1/documents/{page}").json()
        assert doc["url"] == page  # the page fetched, not the canonical URL it names
        assert doc["title"] == "Envoy meets oil minister in Caracas"
        top = _ask(url, "What did the envoy tell reporters?")["results"][0]
        _checked(url, top)
        # An allowed host redirecting to one that is not: every hop is checked.
        hop = f"http://localhost:{port}/redirect-to/http%3A%2F%2F127.0.0.1%3A{port}%2Fnews"
        refused = httpx.post(f"{url}/v1/documents", json={"url": hop}, timeout=30)
        assert refused.status_code == 422 and "127.0.0.1" in refused.json()["error"]["message"]
        zipped = f"http://localhost:{port}/app.zip"
        wrong = httpx.post(f"{url}/v1/documents", json={"url": zipped}, timeout=30)
        assert wrong.status_code == 422 and "application/zip" in wrong.json()["error"]["message"]
        gone = httpx.post(f"{url}/v1/documents", json={"url": f"http://localhost:{port}/gone"})
        assert gone.status_code == 422 and "404" in gone.json()["error"]["message"]


def test_citeqa_ingest_fetches_links_beside_files(site: str, tmp_path: Path) -> None:
    port = site.rsplit(":", 1)[1]
    (tmp_path / "plain.txt").write_text(PLAIN, encoding="utf-8")
    pdf, dead = f"http://localhost:{port}/report.pdf", f"http://localhost:{port}/gone"
    data = tmp_path / "data"
    run = citeqa("ingest", tmp_path / "plain.txt", pdf, dead, "--data-dir", data,
                 CITEQA_FETCH_ALLOW_HOSTS="localhost")  # fmt: skip
    assert run.returncode == 1, run.stderr  # the dead link is an error, after the rest went in
    assert "2 added" in run.stderr and f"skipped {dead}" in run.stderr and "404" in run.stderr
    listed = citeqa("documents", "--data-dir", data)
    assert pdf in listed.stdout and '"pages":3' in listed.stdout
    refused = citeqa("ingest", pdf, "--data-dir", data)  # not allowed by default
    assert refused.returncode == 1 and "loopback" in refused.stderr
