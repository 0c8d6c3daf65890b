"""Function-calling definitions of the `search` and `fetch` tools, and their executor.

The definitions are generated from the argument models in ``service.tools`` (so what a
model is told can never drift from what runs): for OpenAI Chat Completions in strict mode
and for Anthropic's Messages API. Strict mode takes only a subset of JSON Schema: every
object closed (``additionalProperties: false``) with every property required, optional
ones nullable, and no ``default`` or length and range keywords, so those move into the
descriptions. A null argument means "the default", as the descriptions say.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from index import Engine
from service.tools import (
    ANSWERABLE_NOTE,
    MAX_FETCH_CHARS,
    FetchArgs,
    SearchArgs,
    run_fetch,
    run_search,
)

A = TypeVar("A", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)
Format = Literal["openai", "anthropic"]

# Kept as they are in strict mode; the limits below become words in the description.
_STRICT_KEYS = {"type", "description", "enum", "items", "properties", "required", "format"}
_FORMATS = {"date", "date-time", "time", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
"""String formats OpenAI's strict mode accepts."""
_DROPPED_KEYS = {"title", "default", "additionalProperties", "anyOf"}
_LIMIT_KEYS = {"minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"}


@dataclass(frozen=True)
class Tool(Generic[A, R]):
    """A tool a model can call: its name, what it does, its arguments and its logic."""

    name: str
    description: str
    args: type[A]
    run: Callable[[Engine, A, str | None], R]

    def call(
        self, engine: Engine, arguments: Mapping[str, object], base_url: str | None = None
    ) -> R:
        """Run with the arguments a model produced; a null argument takes its default, and
        ``base_url`` gives documents without a source URL their view on this server.

        Raises pydantic's ValidationError for arguments the tool does not take."""
        given = {key: value for key, value in arguments.items() if value is not None}
        return self.run(engine, self.args.model_validate(given), base_url)

    def definition(self, format: Format) -> dict[str, Any]:
        """The ready-to-paste definition for one provider's tools list."""
        if format == "anthropic":
            return {"name": self.name, "description": self.description,
                    "input_schema": _plain(self.args.model_json_schema())}  # fmt: skip
        function = {"name": self.name, "description": self.description, "strict": True,
                    "parameters": strict_schema(self.args)}  # fmt: skip
        return {"type": "function", "function": function}


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the subset OpenAI's strict mode accepts."""
    schema = model.model_json_schema()
    if "$defs" in schema:  # nested models would need $ref handling; the tools take none
        raise ValueError(f"{model.__name__} nests models; strict_schema supports flat ones")
    return _strict_object(schema)


def _strict_object(schema: Mapping[str, Any]) -> dict[str, Any]:
    required = set(schema.get("required", ()))
    properties = {
        name: _strict_value(sub, nullable=name not in required)
        for name, sub in schema.get("properties", {}).items()
    }
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}  # fmt: skip


def _strict_value(schema: Mapping[str, Any], nullable: bool) -> dict[str, Any]:
    node = dict(schema)
    if "anyOf" in node:  # pydantic's `X | None`: one type, or null
        variants = [v for v in node["anyOf"] if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"strict_schema supports X | None unions only, not {node['anyOf']}")
        node = {**variants[0], **node}
        nullable = True
    unknown = set(node) - _STRICT_KEYS - _DROPPED_KEYS - _LIMIT_KEYS
    if unknown:  # a keyword strict mode may refuse: decide how to express it, don't drop it
        raise ValueError(f"strict_schema does not handle {sorted(unknown)}")
    if node.get("type") == "object":
        return _strict_object(node)
    out: dict[str, Any] = {"type": [node["type"], "null"] if nullable else node["type"]}
    description = " ".join(filter(None, [node.get("description"), _limits(node, nullable)]))
    if description:
        out["description"] = description
    if "format" in node:
        if node["format"] not in _FORMATS:
            raise ValueError(f"strict mode does not take the string format {node['format']!r}")
        out["format"] = node["format"]
    if "enum" in node:
        out["enum"] = [*node["enum"], *([None] if nullable else [])]
    if "items" in node:
        out["items"] = _strict_value(node["items"], nullable=False)
    return out


def _limits(node: Mapping[str, Any], nullable: bool) -> str:
    """The dropped keywords in words, e.g. "1 to 50; null means 5."."""
    parts = []
    for low, high, unit in (("minLength", "maxLength", " characters"),
                            ("minimum", "maximum", ""), ("minItems", "maxItems", " items")):  # fmt: skip
        if node.get(low) == 1 and high not in node and unit == " characters":
            parts.append("not empty")
        elif low in node and high in node:
            parts.append(f"{node[low]} to {node[high]}{unit}")
        elif low in node:
            parts.append(f"at least {node[low]}{unit}")
        elif high in node:
            parts.append(f"at most {node[high]}{unit}")
    if nullable and node.get("default") is not None:
        parts.append(f"null means {json.dumps(node['default'])}")
    words = "; ".join(parts)
    return f"{words[:1].upper()}{words[1:]}." if words else ""


def _plain(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The full JSON schema without pydantic's titles (the description goes beside it)."""
    out = {key: value for key, value in schema.items() if key not in ("title", "description")}
    if "properties" in out:
        out["properties"] = {
            name: {k: v for k, v in sub.items() if k != "title"}
            for name, sub in out["properties"].items()
        }
    return out


SEARCH = Tool(
    "search",
    f"{SearchArgs.__doc__} Returns results in rank order, each with its [n] label, doc_id, "
    "title, url, char_start/char_end and the exact text there, and `context`, all blocks as "
    f"one text. Cite by label. {ANSWERABLE_NOTE}",
    SearchArgs,
    run_search,
)
FETCH = Tool(
    "fetch",
    f"{FetchArgs.__doc__} Returns the exact text of a doc_id, or of doc_id:start-end, at most "
    f"{MAX_FETCH_CHARS:,} characters a call.",
    FetchArgs,
    run_fetch,
)
TOOLS: dict[str, Tool[Any, Any]] = {tool.name: tool for tool in (SEARCH, FETCH)}
"""The tools by name; ``search`` returns a SearchOut and ``fetch`` a FetchOut."""
