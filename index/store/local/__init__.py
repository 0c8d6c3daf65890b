"""The local store: SQLite for documents and passages, and per-generation FAISS, BM25
and token-segment files beside it, named by the manifest."""
