from __future__ import annotations

import subprocess
import sys

import index

EXPORTED = [
    "BUNDLED_MODEL", "MODES", "RRF_K", "BadDocumentError", "BadQueryError", "Block", "ChunkSpec",
    "CiteqaError", "CompactReport", "ConfigError", "Document", "DocumentChange", "DocumentInfo", "Embedder", "Engine",
    "EngineConfig", "FetchPolicy", "Filters", "HashEmbedder", "Highlight", "Hit",
    "IndexStateError", "IngestReport", "Layout", "Mode", "ModelMismatchError", "NotFoundError",
    "Original", "Packed", "Passage", "Progress", "SearchResult", "SentenceTransformerEmbedder",
    "SkippedFile", "Span", "count_documents", "count_sources", "document_from_bytes", "fetch",
    "is_link", "pack", "read_path", "read_sources", "rrf",
]  # fmt: skip


def test_public_api_is_deliberate_and_sorted() -> None:
    assert index.__all__ == EXPORTED
    assert index.__all__ == sorted(index.__all__, key=lambda n: (not n.isupper(), n))


def test_importing_the_engine_loads_no_model_or_heavy_library() -> None:
    code = (
        "import sys, index, service.app, service.cli;"
        "heavy = {'torch', 'sentence_transformers', 'faiss', 'bm25s'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
