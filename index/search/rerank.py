"""An optional second stage: a cross-encoder reads the question with each top candidate.

Off by default: no cross-encoder weights ship with citeqa. Point ``reranker`` at any
sentence-transformers CrossEncoder folder or name to turn it on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.errors import ConfigError


class CrossEncoderReranker:
    """Loaded on first use (never at import)."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        self.name = name
        self._device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            try:
                self._model = CrossEncoder(self.name, device=self._device)
            except (OSError, ValueError) as exc:
                local = " (no such folder)" if not Path(self.name).exists() else ""
                raise ConfigError(
                    f"cannot load reranker {self.name!r}{local}: {exc}. Set CITEQA_RERANKER to "
                    "a sentence-transformers CrossEncoder folder, or leave it unset."
                ) from exc
        return self._model

    def score(self, question: str, texts: Sequence[str]) -> list[float]:
        """Higher is more relevant; one score per text."""
        if not texts:
            return []
        scores = self._load().predict(
            [(question, text) for text in texts], batch_size=32, show_progress_bar=False
        )
        return [float(s) for s in scores]
