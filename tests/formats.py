"""Real files of each format, made by the tests: PDFs written with fpdf2, Word files with
python-docx, and a news page with the chrome real sites wrap around an article."""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF

PAGE_FACTS = {
    1: "The envoy met the oil minister in Caracas on Monday to agree a tanker schedule.",
    2: "Exports to Gulf Coast refineries reached 310,000 barrels a day in March.",
    3: "The second round of talks is planned for Bridgetown in the first week of June.",
}
FILLER = (
    "Officials from both delegations described the meeting as cordial and long overdue. "
    "Each side brought lawyers, engineers and a list of demands that ran to several pages. "
)


class _Report(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, "Caribbean Energy Monitor - Quarterly Report", align="C")
        self.ln(8)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, f"Page {self.page_no()}", align="C")


def report_pdf(path: Path | None = None, *, password: str | None = None) -> bytes:
    """Three pages, each with a running head, a page number and one fact of its own."""
    pdf = _Report()
    pdf.set_title("Caribbean Energy Monitor")
    pdf.set_author("Energy Desk")
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    for page, fact in PAGE_FACTS.items():
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 5, f"Section {page}. {FILLER * 2}{fact} {FILLER}")
        pdf.ln(4)
        pdf.multi_cell(0, 5, f"Notes for section {page}: the delegation's schedule-keeper "
                       "recorded every session in a ledger kept in both languages.")  # fmt: skip
    data = bytes(pdf.output())
    if path:
        path.write_bytes(data)
    return data


def scanned_pdf() -> bytes:
    """Two pages with a drawing and no text: what a scanner gives without OCR."""
    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 170, 250, style="F")
    return bytes(pdf.output())


def memo_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Tanker memo"
    document.add_heading("Tanker schedule", level=1)
    document.add_paragraph("The envoy agreed a tanker schedule with the oil minister.")
    table = document.add_table(rows=2, cols=2)
    for row, (name, value) in enumerate([("Tankers", "4"), ("Barrels a day", "310,000")]):
        table.cell(row, 0).text, table.cell(row, 1).text = name, value
    document.add_paragraph("The next review is due in June.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


ARTICLE = [
    "The US envoy met Venezuela's oil minister in Caracas on Monday to discuss a tanker "
    "schedule, officials said.",
    "The talks, which lasted three hours, covered sanctions relief and the resumption of "
    "crude exports to refineries on the Gulf Coast.",
    "“We made progress,” the envoy told reporters after the meeting, adding that a second "
    "round would follow next month in Bridgetown.",
    "Analysts said the meeting signalled a thaw in relations that had been frozen since the "
    "disputed election.",
]
CHROME = ["Home", "World", "Share on Facebook", "Related stories",
          "Oil prices fall again as demand slows", "Sign up for our newsletter",
          "© 2019 Daily Planet. All rights reserved."]  # fmt: skip


def news_html() -> str:
    paragraphs = "".join(f"<p>{text}</p>" for text in ARTICLE)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Envoy meets oil minister | Daily Planet</title>
<meta property="og:title" content="Envoy meets oil minister in Caracas">
<meta property="og:site_name" content="Daily Planet"><meta name="author" content="Lois Lane">
<link rel="canonical" href="https://dailyplanet.example/world/envoy-meets-minister">
<meta property="article:published_time" content="2019-05-02T10:00:00Z">
<script>window.secret = "script text is never indexed";</script>
<style>.hidden {{ display: none }}</style></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li></ul></nav>
<div class="share"><a href="#">Share on Facebook</a></div>
<div style="display:none">A hidden cookie banner nobody sees.</div>
<main><article><h1>Envoy meets oil minister in Caracas</h1>
<p class="byline">By Lois Lane, <time datetime="2019-05-02">May 2, 2019</time></p>
{paragraphs}</article></main>
<aside><h3>Related stories</h3><ul><li><a href="/a">Oil prices fall again as demand slows</a></li>
<li><a href="/b">Election disputed in neighbouring country</a></li></ul></aside>
<div class="newsletter">Sign up for our newsletter</div>
<footer><p>© 2019 Daily Planet. All rights reserved.</p></footer></body></html>"""
