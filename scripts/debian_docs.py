"""A real-text corpus for `make bench-scale`: the HTML manuals seven Debian packages ship.

The documentation of the Linux kernel, Python, PostgreSQL, Git, Django and SQLite, and
the Debian Administrator's Handbook: about 6,500 pages of
prose written by people, with code, tables and cross references, as a team's own
documentation would look. They come from the Debian mirror through ``apt-get download``
(no root, no install), are unpacked with ``dpkg-deb -x`` into ``bench/.corpus/`` and linked
into one folder that `citeqa ingest` reads like any folder of HTML files. Index pages
(general index, search) and translations are left out: they repeat the rest. Queries are
the pages' own section headings, as people search a manual.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".corpus"


@dataclass(frozen=True)
class Manual:
    """One package's HTML manual: where its pages are, and which to leave out."""

    name: str
    package: str
    html: str
    skip: tuple[str, ...] = ()


MANUALS = (
    Manual("linux", "linux-doc-6.1", "usr/share/doc/linux-doc-6.1/html",
           ("translations/", "_sources/", "_static/", "genindex.html", "search.html")),
    Manual("python", "python3.11-doc", "usr/share/doc/python3.11/html",
           ("_static/", "genindex", "search.html", "py-modindex.html")),
    Manual("postgresql", "postgresql-doc-15", "usr/share/doc/postgresql-doc-15/html",
           ("bookindex.html",)),
    Manual("git", "git-doc", "usr/share/doc/git-doc"),
    Manual("django", "python-django-doc", "usr/share/doc/python-django-doc/html",
           ("_modules/", "_static/", "_images/", "genindex.html", "search.html", "py-modindex.html")),
    Manual("sqlite", "sqlite3-doc", "usr/share/doc/sqlite3"),
    Manual("debian", "debian-handbook", "usr/share/doc/debian-handbook/html/en-US"),
    Manual("sqlalchemy", "python-sqlalchemy-doc", "usr/share/doc/python-sqlalchemy-doc/html",
           ("_static/", "_modules/", "genindex.html", "search.html", "py-modindex.html")),
    Manual("octave", "octave-doc", "usr/share/doc/octave"),
)  # fmt: skip
NAMES = tuple(manual.name for manual in MANUALS)


def unpacked(manual: Manual, cache: Path = CACHE) -> Path:
    """The package's files under ``cache``, downloaded and unpacked on first use."""
    target = cache / "debs" / manual.package
    if (target / manual.html).is_dir():
        return target
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for old in debs.glob(f"{manual.package}_*.deb"):
        old.unlink()
    try:
        subprocess.run(["apt-get", "download", manual.package], cwd=debs, check=True,
                       capture_output=True, text=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise SystemExit(
            f"cannot download {manual.package} with apt-get ({detail.strip()}); this corpus "
            "needs a Debian bookworm machine with its package lists (apt-get update)"
        ) from exc
    (deb,) = debs.glob(f"{manual.package}_*.deb")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(partial)], check=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    deb.unlink()
    return target


def pages(manual: Manual, cache: Path = CACHE) -> list[Path]:
    """The manual's HTML pages, in path order, without the ones ``skip`` names."""
    html = unpacked(manual, cache) / manual.html
    found = []
    for page in sorted(html.rglob("*.html")):
        relative = page.relative_to(html).as_posix()
        if page.is_file() and not any(part in relative for part in manual.skip):
            found.append(page)
    return found


def corpus(names: tuple[str, ...] = NAMES, cache: Path = CACHE) -> Path:
    """One folder of links, ``<manual>/<page path>``, to the chosen manuals' pages: the
    documents' ids stay readable and no page is copied."""
    folder = cache / ("docs-" + "-".join(names))
    if folder.is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for manual in MANUALS:
        if manual.name not in names:
            continue
        html = unpacked(manual, cache) / manual.html
        for page in pages(manual, cache):
            link = partial / manual.name / page.relative_to(html)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(page)
    partial.rename(folder)
    return folder


def headings(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` section headings (h1 to h3, three words or more) drawn from the pages."""
    found: set[str] = set()
    for page in sorted(p for p in folder.rglob("*.html") if p.is_file()):
        root = lxml.html.fromstring(page.read_bytes())
        for element in root.iter("h1", "h2", "h3"):
            text = " ".join(element.text_content().replace("\u00b6", " ").split())
            if len(text.split()) >= 3 and len(text) <= 120:
                found.add(text)
    ordered = sorted(found)
    random.Random(seed).shuffle(ordered)
    return ordered[:count]
