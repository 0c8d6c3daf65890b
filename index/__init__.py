"""citeqa's engine: documents in, cited passages out. No web code lives here.

>>> from pathlib import Path
>>> from index import Engine, EngineConfig, read_path
>>> engine = Engine.open(EngineConfig(data_dir=Path("data")))   # doctest: +SKIP
>>> engine.ingest(read_path(Path("seeds")))                    # doctest: +SKIP
>>> engine.search("What did Bolton say about the talks?").hits[0].highlight.text  # doctest: +SKIP
"""

from index.chunking import ChunkSpec
from index.config import MODES, EngineConfig, Mode
from index.documents import Document, DocumentInfo, Highlight, Hit, Passage, SearchResult, Span
from index.embedder import BUNDLED_MODEL, Embedder, HashEmbedder, SentenceTransformerEmbedder
from index.errors import (
    BadDocumentError,
    BadQueryError,
    CiteqaError,
    ConfigError,
    IndexStateError,
    ModelMismatchError,
    NotFoundError,
)
from index.fusion import RRF_K, rrf
from index.ingest import DocumentChange, IngestReport, Progress
from index.packing import Block, Packed, pack
from index.search import Engine
from index.sources import SkippedFile, count_documents, document_from_bytes, read_path
from index.storage import Filters

__all__ = [
    "BUNDLED_MODEL",
    "MODES",
    "RRF_K",
    "BadDocumentError",
    "BadQueryError",
    "Block",
    "ChunkSpec",
    "CiteqaError",
    "ConfigError",
    "Document",
    "DocumentChange",
    "DocumentInfo",
    "Embedder",
    "Engine",
    "EngineConfig",
    "Filters",
    "HashEmbedder",
    "Highlight",
    "Hit",
    "IndexStateError",
    "IngestReport",
    "Mode",
    "ModelMismatchError",
    "NotFoundError",
    "Packed",
    "Passage",
    "Progress",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "SkippedFile",
    "Span",
    "count_documents",
    "document_from_bytes",
    "pack",
    "read_path",
    "rrf",
]
