from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import index
from tests.conftest import ROOT

EXPORTED = [
    "BUNDLED_MODEL", "MODES", "RRF_K", "BadDocumentError", "BadQueryError", "Block", "ChunkSpec",
    "CiteqaError", "ConfigError", "Document", "DocumentChange", "DocumentInfo", "Embedder", "Engine",
    "EngineConfig", "Filters", "HashEmbedder", "Highlight", "Hit", "IndexStateError",
    "IngestReport", "Mode", "ModelMismatchError", "NotFoundError", "Packed", "Passage", "Progress",
    "SearchResult", "SentenceTransformerEmbedder", "SkippedFile", "Span", "count_documents", "document_from_bytes", "pack",
    "read_path", "rrf",
]  # fmt: skip


def test_public_api_is_deliberate_and_sorted() -> None:
    assert index.__all__ == EXPORTED
    assert index.__all__ == sorted(index.__all__, key=lambda n: (not n.isupper(), n))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_layers_point_one_way() -> None:
    for path in (ROOT / "index").glob("*.py"):
        names = _imports(path)
        web = {"service", "fastapi", "pydantic_settings", "pydantic", "prometheus_client"}
        assert not web & names, path
        assert not any(n.startswith("service") for n in names), path
    for module in ("cleaning", "chunking", "fusion", "highlight", "sentences"):
        assert "index.search" not in _imports(ROOT / "index" / f"{module}.py")


def test_importing_the_engine_loads_no_model_or_heavy_library() -> None:
    code = (
        "import sys, index, service.app, service.cli;"
        "heavy = {'torch', 'sentence_transformers', 'faiss', 'bm25s'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
