"""citeqa's engine: documents in, cited passages out. No web code lives here.

>>> from pathlib import Path
>>> from index import Engine, EngineConfig, read_path
>>> engine = Engine.open(EngineConfig(data_dir=Path("data")))   # doctest: +SKIP
>>> engine.ingest(read_path(Path("seeds")))                    # doctest: +SKIP
>>> engine.search("What did Bolton say about the talks?").hits[0].highlight.text  # doctest: +SKIP
"""

from index.config import BUNDLED_MODEL, MODES, RRF_K, ChunkSpec, EngineConfig, Mode
from index.documents import (
    Document,
    DocumentInfo,
    Highlight,
    Hit,
    Layout,
    Original,
    Passage,
    SearchResult,
    Span,
)
from index.engine import Engine
from index.errors import (
    BadDocumentError,
    BadQueryError,
    CiteqaError,
    ConfigError,
    IndexStateError,
    ModelMismatchError,
    NotFoundError,
)
from index.model.embedder import Embedder, HashEmbedder, SentenceTransformerEmbedder
from index.read.sources import (
    SkippedFile,
    count_documents,
    count_sources,
    document_from_bytes,
    is_link,
    read_path,
    read_sources,
)
from index.read.web import FetchPolicy, fetch
from index.search.fusion import rrf
from index.search.packing import Block, Packed, pack
from index.store.protocol import CompactReport, Filters
from index.timing import Progress
from index.write.ingest import DocumentChange, IngestReport

__all__ = [
    "BUNDLED_MODEL",
    "MODES",
    "RRF_K",
    "BadDocumentError",
    "BadQueryError",
    "Block",
    "ChunkSpec",
    "CiteqaError",
    "CompactReport",
    "ConfigError",
    "Document",
    "DocumentChange",
    "DocumentInfo",
    "Embedder",
    "Engine",
    "EngineConfig",
    "FetchPolicy",
    "Filters",
    "HashEmbedder",
    "Highlight",
    "Hit",
    "IndexStateError",
    "IngestReport",
    "Layout",
    "Mode",
    "ModelMismatchError",
    "NotFoundError",
    "Original",
    "Packed",
    "Passage",
    "Progress",
    "SearchResult",
    "SentenceTransformerEmbedder",
    "SkippedFile",
    "Span",
    "count_documents",
    "count_sources",
    "document_from_bytes",
    "fetch",
    "is_link",
    "pack",
    "read_path",
    "read_sources",
    "rrf",
]
