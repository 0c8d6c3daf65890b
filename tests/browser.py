"""Debian's Chromium, headless, driven by Playwright: the browser the page tests and
`make screenshots` use. No browser download: Playwright gets the system binary."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

# Without the background-networking flags Chromium keeps dialling Google's hosts, which a
# machine with no internet refuses, many at a time.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    raise RuntimeError(
        "no chromium on PATH: the browser tests drive Debian's chromium; `make test` "
        "installs it (apt-get install chromium)"
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watch(page: Page, expected: str | None = None) -> list[str]:
    """Script errors and console errors (a CSP violation is one) collected as they happen;
    an error from a request to a URL ending with ``expected`` is one a test asks for."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def console(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not (expected and where.endswith(expected)):
            problems.append(f"console: {message.text} ({where})")

    page.on("console", console)
    return problems
