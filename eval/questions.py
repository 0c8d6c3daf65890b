"""The eval question file: one JSON object a line, gold evidence as exact quotes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Kind = Literal["fact", "paraphrase", "multi", "who-said", "number", "unanswerable"]
KINDS: tuple[Kind, ...] = ("fact", "paraphrase", "multi", "who-said", "number", "unanswerable")


class EvalInputError(ValueError):
    """A question file that cannot be scored; the message says which line and why."""


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    doc_id: str = Field(min_length=1)
    quote: str = Field(min_length=3, description="An exact substring of the document's text.")


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    kind: Kind
    evidence: tuple[Evidence, ...] = ()

    @model_validator(mode="after")
    def _evidence_matches_kind(self) -> Question:
        if self.kind == "unanswerable" and self.evidence:
            raise ValueError("an unanswerable question takes no evidence")
        if self.kind != "unanswerable" and not self.evidence:
            raise ValueError("an answerable question needs at least one evidence quote")
        if self.kind == "multi" and len({e.doc_id for e in self.evidence}) < 2:
            raise ValueError("a multi question needs evidence from two or more documents")
        return self

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_questions(path: Path) -> list[Question]:
    """Every question in ``path``; EvalInputError names the first bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalInputError(f"cannot read questions from {path}: {exc}") from exc
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            question = Question.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise EvalInputError(f"{path}:{number}: {_brief(exc)}") from exc
        if question.id in seen:
            raise EvalInputError(f"{path}:{number}: id {question.id!r} is used twice")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise EvalInputError(f"{path} holds no questions")
    return questions


def _brief(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors()
        )
    return f"not a JSON object ({exc})"


def missing_quotes(questions: list[Question], texts: Mapping[str, str]) -> list[str]:
    """Each evidence quote that is not an exact substring of its document, described."""
    problems: list[str] = []
    for q in questions:
        for e in q.evidence:
            if e.doc_id not in texts:
                problems.append(f"{q.id}: no document {e.doc_id!r}")
            elif e.quote not in texts[e.doc_id]:
                problems.append(f"{q.id}: quote not found in {e.doc_id}: {e.quote[:60]!r}")
    return problems
