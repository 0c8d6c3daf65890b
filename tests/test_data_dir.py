"""One data dir shared by real processes: a live server, concurrent writers, kill -9, odd files.

Every process here is the real `citeqa` command with the real model; state is checked
through a reader engine and the live HTTP API.
"""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from index import Engine, EngineConfig, SentenceTransformerEmbedder
from tests.conftest import BOLTON, BOLTON_ANSWER, SEEDS
from tests.live import CLI, citeqa, cli_env, serving, wait_until

pytestmark = pytest.mark.e2e

BOLTON_DOC = "002_97bb957da4f5db3c.txt"
ANIMALS = "otter falcon badger heron lynx marmot osprey walrus bison gecko ibex jackal".split()
PLACES = "Lisbon Oslo Quito Hanoi Nairobi Perth Tbilisi Lima Riga Dakar Bergen Cusco".split()
THINGS = "lanterns violins kayaks telescopes quilts bicycles".split()
VERBS = ["repaired", "painted", "carried away", "sold"]


def story(i: int) -> str:
    """A short article with a first sentence no other generated article shares."""
    # Each (animal, place) pair occurs once for i < 144: 7 is a unit mod 12.
    animal, place = ANIMALS[i % 12], PLACES[(7 * i + i // 12) % 12]
    thing, verb = THINGS[(i + i // 12) % len(THINGS)], VERBS[(i // 12) % len(VERBS)]
    return (
        f"A {animal} in {place} {verb} {i + 3} old {thing} for the harbour festival.\n"
        f"Volunteers in {place} said the work on the {thing} took {i + 2} weeks.\n"
        "The festival committee thanked everyone who helped.\n"
    )


def write_corpus(folder: Path, prefix: str, count: int, start: int = 0) -> dict[str, str]:
    folder.mkdir(parents=True)
    found = {}
    for i in range(start, start + count):
        name = f"{prefix}-{i:03d}.txt"
        (folder / name).write_text(story(i))
        found[name] = story(i).splitlines()[0]
    return found


def reader(data: Path, model: SentenceTransformerEmbedder) -> Engine:
    return Engine.open(EngineConfig(data_dir=data), model)


def assert_cites_exactly(engine: Engine, doc_id: str, question: str, mode: str = "hybrid") -> None:
    """The document is the top answer and its citation slices the stored text exactly."""
    hits = engine.search(question, top_k=3, mode=mode).hits
    assert hits and hits[0].passage.doc_id == doc_id, (mode, question, hits[:1])
    text = engine.document(doc_id).text
    for hit in hits:
        doc = text if hit.passage.doc_id == doc_id else engine.document(hit.passage.doc_id).text
        assert doc[hit.passage.char_start : hit.passage.char_end] == hit.passage.text
        assert doc[hit.highlight.char_start : hit.highlight.char_end] == hit.highlight.text


def assert_indexes_match_sqlite(engine: Engine) -> None:
    ids = set(engine.store.passage_ids().tolist())
    snapshot = engine.files.current
    assert set(snapshot.dense.ids().tolist()) == ids
    assert set(snapshot.lexical.ids().tolist()) == ids


# -- a live server follows writes made by another process -------------------------------


def test_a_running_server_answers_from_a_reingested_document_within_two_seconds(
    seeded_dir: Path, tmp_path: Path
) -> None:
    data, docs = tmp_path / "data", tmp_path / "docs"
    shutil.copytree(seeded_dir, data)
    shutil.copytree(SEEDS, docs)
    with serving(data, tmp_path / "server.log") as url:
        first = httpx.post(f"{url}/v1/query", json={"question": BOLTON}, timeout=30).json()
        assert BOLTON_ANSWER in first["results"][0]["text"]
        path = docs / BOLTON_DOC
        changed = BOLTON_ANSWER.replace(
            "sole aim of the secret talks", "only aim of the secret talks"
        )
        path.write_text(path.read_text().replace(BOLTON_ANSWER, changed))
        done = citeqa("ingest", docs, "--data-dir", data)
        assert done.returncode == 0, done.stderr
        assert "0 added, 1 replaced, 4 unchanged" in done.stderr

        def answers_from_new_version() -> bool:
            body = httpx.post(f"{url}/v1/query", json={"question": BOLTON}, timeout=30).json()
            top = body["results"][0] if body["results"] else {}
            return bool(body["answerable"]) and changed in top.get("text", "")

        assert wait_until(answers_from_new_version, 2.0) <= 2.0
        filtered = httpx.post(
            f"{url}/v1/query",
            json={"question": BOLTON, "filters": {"doc_ids": [BOLTON_DOC]}},
            timeout=30,
        ).json()
        assert filtered["results"] and all(
            r["citation"]["doc_id"] == BOLTON_DOC for r in filtered["results"]
        )
        served = httpx.get(f"{url}/v1/documents/{BOLTON_DOC}", timeout=30).json()
        assert served["text"] == path.read_text()
        for result in filtered["results"]:
            citation = result["citation"]
            assert served["text"][citation["char_start"] : citation["char_end"]] == result["text"]


# -- two writers and a server at once ---------------------------------------------------


def test_two_writers_at_once_and_a_server_leave_every_document_searchable(
    tmp_path: Path, model: SentenceTransformerEmbedder
) -> None:
    data = tmp_path / "data"
    wanted = write_corpus(tmp_path / "a", "alpha", 8) | write_corpus(tmp_path / "b", "beta", 8, 8)
    with serving(data, tmp_path / "server.log", ready=False) as url:
        logs = [tmp_path / f"{name}.log" for name in ("a", "b")]
        outputs = [log.open("w") for log in logs]
        writers = [
            subprocess.Popen(
                [
                    *CLI,
                    "ingest",
                    str(tmp_path / name),
                    "--data-dir",
                    str(data),
                    "--batch-size",
                    "2",
                ],
                env=cli_env(),
                stdout=subprocess.DEVNULL,
                stderr=out,
            )  # fmt: skip
            for name, out in zip(("a", "b"), outputs, strict=True)
        ]
        statuses = set()
        while any(w.poll() is None for w in writers):  # the server answers all along
            response = httpx.get(f"{url}/v1/query", params={"q": "harbour festival"}, timeout=30)
            statuses.add(response.status_code)
            time.sleep(0.1)
        for out in outputs:
            out.close()
        for writer, log in zip(writers, logs, strict=True):
            assert writer.returncode == 0, log.read_text()
            assert "8 added" in log.read_text()
        assert statuses <= {200, 503}

        def all_served() -> bool:
            body = httpx.get(f"{url}/v1/documents", timeout=30).json()
            return len(body.get("documents", [])) == len(wanted)

        wait_until(all_served, 30)
        for doc_id, sentence in wanted.items():
            for mode in ("dense", "lexical", "hybrid"):
                body = httpx.get(
                    f"{url}/v1/query", params={"q": sentence, "mode": mode, "top_k": 3}, timeout=30
                ).json()
                assert body["results"][0]["citation"]["doc_id"] == doc_id, (mode, sentence)
    engine = reader(data, model)
    assert_indexes_match_sqlite(engine)
    assert engine.files.current.from_files
    engine.close()


# -- kill -9 at random points of a real ingest ------------------------------------------

STAGES = {
    "embedding": "embedding",
    "commit": "committing",
    "index save": "saving generation",
}
BATCH = 2


def _kill_during(stage_marker: str, data: Path, corpus: Path, rng: random.Random) -> list[str]:
    """Run `citeqa ingest` until the ``nth`` line naming ``stage_marker``, then kill -9
    it after a random few milliseconds. Returns the log lines it printed."""
    nth = rng.randint(1, 2)
    proc = subprocess.Popen(
        [*CLI, "ingest", str(corpus), "--data-dir", str(data), "--batch-size", str(BATCH)],
        env=cli_env(CITEQA_LOG_LEVEL="debug"), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    assert proc.stderr is not None
    seen = 0
    for line in proc.stderr:
        lines.append(line)
        if stage_marker in line:
            seen += 1
            if seen == nth:
                time.sleep(rng.uniform(0, 0.03))
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    proc.stderr.close()
    return lines


def _committed_batches(lines: list[str]) -> int:
    found = [
        int(line.split("batch ")[1].split(":")[0])
        for line in lines
        if "committed generation" in line
    ]
    return max(found, default=0)


def test_kill_9_at_random_points_never_loses_or_half_writes_a_document(
    tmp_path: Path, model: SentenceTransformerEmbedder
) -> None:
    """At least 20 kills across embedding, the SQLite commit and the index save: after
    each, the listed documents are exactly the committed batches, each fully searchable
    with exact citations, and SQLite is intact; the next run carries on."""
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    sentences = write_corpus(corpus, "doc", 44)
    order = sorted(sentences)
    rng = random.Random(10)
    known = 0  # batches known to be committed
    checked: set[str] = set()
    kills = {stage: 0 for stage in STAGES}
    while sum(kills.values()) < 21:
        stage = list(STAGES)[sum(kills.values()) % len(STAGES)]
        lines = _kill_during(STAGES[stage], data, corpus, rng)
        if not any(STAGES[stage] in line for line in lines):
            break  # the corpus is done: nothing left to kill
        kills[stage] += 1
        known = max(known, _committed_batches(lines))
        with sqlite3.connect(data / "citeqa.sqlite3") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        engine = reader(data, model)
        listed = sorted(d.doc_id for d in engine.documents())
        # A kill just after COMMIT but before its log line leaves one batch more.
        assert listed in (order[: known * BATCH], order[: (known + 1) * BATCH]), (stage, known)
        known = len(listed) // BATCH
        assert_indexes_match_sqlite(engine)
        for doc_id in set(listed) - checked:
            assert_cites_exactly(engine, doc_id, sentences[doc_id])
            assert engine.document(doc_id).text == (corpus / doc_id).read_text()
        checked |= set(listed)
        engine.close()
    assert sum(kills.values()) >= 21 and all(kills.values()), kills
    done = citeqa("ingest", corpus, "--data-dir", data)
    assert done.returncode == 0, done.stderr
    engine = reader(data, model)
    assert sorted(d.doc_id for d in engine.documents()) == order
    assert_indexes_match_sqlite(engine)
    for doc_id in set(order) - checked:
        assert_cites_exactly(engine, doc_id, sentences[doc_id])
    for doc_id in order[::7]:
        for mode in ("dense", "lexical"):
            assert_cites_exactly(engine, doc_id, sentences[doc_id], mode)
    engine.close()


# -- real-world files --------------------------------------------------------------------


def test_a_folder_of_odd_files_is_read_faithfully(
    tmp_path: Path, model: SentenceTransformerEmbedder
) -> None:
    zoo, data = tmp_path / "zoo", tmp_path / "data"
    (zoo / "a").mkdir(parents=True)
    (zoo / "b").mkdir()
    seed = (SEEDS / BOLTON_DOC).read_text()
    (zoo / "crlf.txt").write_bytes(seed.replace("\n", "\r\n").encode())
    (zoo / "bom.txt").write_bytes(b"\xef\xbb\xbf" + seed.encode())
    (zoo / "latin1.txt").write_bytes("Caf\xe9 owners in M\xe9rida protested.".encode("latin-1"))
    (zoo / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (zoo / "empty.txt").write_text("")
    (zoo / "LOUD.TXT").write_text("Shipping lanes near the Orinoco delta reopened on Monday.\n")
    (zoo / "notes.md").write_text(
        "# Field notes on the oil fields\n\nCrews in Zulia restarted three pumps.\n\n"
        "## Later\n\nThe pumps stopped again after a blackout in Maracaibo.\n"
    )
    (zoo / "notes.txt").write_text("Plain notes: the ferry to Margarita island was delayed.\n")
    (zoo / "a" / "report.txt").write_text("Report A: rice prices in Caracas doubled in March.\n")
    (zoo / "b" / "report.txt").write_text("Report B: the bridge in Ciudad Bolivar was repaired.\n")
    done = citeqa("ingest", zoo, "--data-dir", data)
    assert done.returncode == 0, done.stderr
    assert "skipped latin1.txt" in done.stderr and "skipped binary.txt" in done.stderr
    assert "empty empty.txt" in done.stderr
    assert "7 added, 0 replaced, 0 unchanged, 2 skipped, 1 empty" in done.stderr
    engine = reader(data, model)
    ids = sorted(d.doc_id for d in engine.documents())
    assert ids == ["LOUD.TXT", "a/report.txt", "b/report.txt", "bom.txt", "crlf.txt",
                   "notes.md", "notes.txt"]  # fmt: skip
    titles = {d.doc_id: d.title for d in engine.documents()}
    assert titles["notes.md"] == "Field notes on the oil fields"
    assert titles["bom.txt"] == titles["crlf.txt"] and titles["bom.txt"]
    for doc_id in ids:
        on_disk = (zoo / doc_id).read_bytes().decode("utf-8-sig")
        assert engine.document(doc_id).text == on_disk
    questions = {
        "crlf.txt": BOLTON, "LOUD.TXT": "Which shipping lanes reopened?",
        "notes.md": "Why did the pumps stop again?", "a/report.txt": "What happened to rice prices?",
        "b/report.txt": "Which bridge was repaired?", "notes.txt": "Was the ferry delayed?",
    }  # fmt: skip
    for doc_id, question in questions.items():
        hits = engine.search(question, top_k=5).hits
        assert doc_id in {h.passage.doc_id for h in hits}, question
        for hit in hits:
            on_disk = (zoo / hit.passage.doc_id).read_bytes().decode("utf-8-sig")
            assert on_disk[hit.passage.char_start : hit.passage.char_end] == hit.passage.text
            assert on_disk[hit.highlight.char_start : hit.highlight.char_end] == hit.highlight.text
            assert not hit.highlight.text.startswith("#") and "\r" not in hit.highlight.text
    engine.close()
    again = citeqa("ingest", zoo, "--data-dir", data)
    assert "0 added, 0 replaced, 7 unchanged" in again.stderr
    strict = citeqa("ingest", zoo, "--data-dir", data, "--strict")
    assert strict.returncode == 1 and "binary.txt" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_bad_arguments_get_one_line_not_a_traceback(tmp_path: Path) -> None:
    bad = subprocess.run(
        [*CLI, "ask", "caf\udce9?", "--data-dir", str(tmp_path)],
        env=cli_env(), capture_output=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and b"not valid UTF-8" in bad.stderr
    assert b"Traceback" not in bad.stderr
    missing = citeqa("ask", BOLTON, "--data-dir", tmp_path / "typo")
    assert missing.returncode == 1 and "no index in" in missing.stderr
    assert not (tmp_path / "typo").exists()
