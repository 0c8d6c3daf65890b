"""A BEIR benchmark (SciFact): index its corpus once, run its queries, score documents.

A document scores as its best passage. Figures are computed per query as trec_eval does
and averaged over every query in the split's qrels.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from eval import metrics
from eval.questions import EvalInputError
from index import Engine, EngineConfig

DOC_DEPTH = 100
"""Documents ranked per query: enough for Recall@100."""


@dataclass(frozen=True)
class BeirSplit:
    name: str
    corpus: Path
    queries: dict[str, str]
    """Only the queries judged in this split."""
    qrels: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Published:
    system: str
    ndcg_at_10: float | None
    recall_at_100: float | None


@dataclass(frozen=True)
class BeirScores:
    mode: str
    queries: int
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    per_query_ndcg: dict[str, float]


def load_split(folder: Path, split: str) -> BeirSplit:
    corpus, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for path in (corpus, queries_path, qrels_path):
        if not path.is_file():
            raise EvalInputError(
                f"{path} is missing; --beir takes a BEIR folder with corpus.jsonl, "
                f"queries.jsonl and qrels/{split}.tsv"
            )
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), 1):
        cells = line.split("\t")
        if number == 1 and cells[0] == "query-id":
            continue
        if len(cells) != 3 or not cells[2].strip().lstrip("-").isdigit():
            raise EvalInputError(f"{qrels_path}:{number}: expected query-id, corpus-id, score")
        qrels.setdefault(cells[0], {})[cells[1]] = int(cells[2])
    queries: dict[str, str] = {}
    with queries_path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                qid, text = str(row["_id"]), str(row["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise EvalInputError(f"{queries_path}:{number}: {exc}") from exc
            if qid in qrels:
                queries[qid] = text
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        raise EvalInputError(f"{qrels_path} judges queries not in {queries_path}: {unknown[:5]}")
    return BeirSplit(split, corpus, queries, qrels)


_ROW_RE = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([0-9.]+|-)\s*\|\s*([0-9.]+|-)\s*\|")


def published_figures(folder: Path) -> list[Published]:
    """The rows of the README's figures table: system | nDCG@10 | R@100 | ..."""
    readme = folder / "README.md"
    if not readme.is_file():
        return []
    rows: list[Published] = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        if match := _ROW_RE.match(line):
            system, ndcg, recall = match.groups()
            rows.append(Published(system, _number(ndcg), _number(recall)))
    return rows


def _number(cell: str) -> float | None:
    return None if cell == "-" else float(cell)


def cache_dir(root: Path, folder: Path, config: EngineConfig) -> Path:
    """One data dir per corpus and per setting that changes what is embedded, so a rerun
    with other search settings reuses the stored embeddings. Settings added to the key
    later join it only when they differ from what was built before them (ONNX passages,
    separate sentences), so those folders stay valid."""
    parts: list[object] = [config.model, config.chunk.max_chars, config.chunk.overlap,
                           config.title_in_index]  # fmt: skip
    if (config.passage_runtime, config.sentence_vectors) != ("onnx", "separate"):
        parts += [config.passage_runtime, config.sentence_vectors]
    key = json.dumps(parts)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return root / f"{folder.resolve().name}-{digest}"


def rank_documents(
    engine: Engine, question: str, mode: str, passages: int, exclude: str = ""
) -> list[str]:
    """Document ids, best first, each placed by its best passage."""
    seen: dict[str, None] = {}
    for passage, _ in engine.retrieve(question, passages, mode):
        if passage.doc_id != exclude:
            seen.setdefault(passage.doc_id, None)
        if len(seen) >= DOC_DEPTH:
            break
    return list(seen)


def score_split(
    engine: Engine,
    split: BeirSplit,
    modes: Sequence[str],
    passages: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[BeirScores]:
    results: list[BeirScores] = []
    for mode in modes:
        ndcg: dict[str, float] = {}
        recall: list[float] = []
        mrr: list[float] = []
        for done, (qid, text) in enumerate(split.queries.items(), 1):
            # As BEIR and MTEB do (ignore_identical_ids): a document that shares the
            # query's id is dropped, so our figures compare with the published ones.
            ranking = rank_documents(engine, text, mode, passages, exclude=qid)
            judged = split.qrels[qid]
            ndcg[qid] = metrics.graded_ndcg_at(ranking, judged, 10)
            recall.append(metrics.doc_recall_at(ranking, judged, 100))
            mrr.append(metrics.doc_mrr_at(ranking, judged, 10))
            if progress:
                progress(mode, done, len(split.queries))
        results.append(
            BeirScores(mode, len(ndcg), fmean(ndcg.values()), fmean(recall), fmean(mrr), ndcg)
        )
    return results
