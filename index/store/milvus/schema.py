"""The shape of the collections (see ``storage``): their fields, indexes and consistency
level, and the sizes rows are cut to so that each fits. Changes when a collection gains or
changes a field or an index; what goes into the rows is ``reads`` and ``writes``'s business."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

VARCHAR = 65_535
"""The longest VARCHAR a Milvus server takes, in bytes."""
PART_CHARS = 16_000
"""Characters of text per part: at most 4 bytes each in UTF-8, so a part always fits."""
BLOB_CHARS = 60_000
"""Base64 characters (one byte each) per part of token vectors."""
ID_CHARS = 2_048
"""Room for a 512-character document id in bytes."""
CONSISTENCY = "Strong"
"""A read sees every write acknowledged before it (a server's default, Bounded, may not)."""
PASSAGES_META = "passages_collection"
"""Which collection holds the passages (a reindex writes a new one, then switches)."""
SCAN = 1_000
"""Rows per page when a whole collection is read."""
ONE = [1.0, 0.0]
"""Milvus wants a vector field in every collection; the collections that need none hold this."""


def _schema() -> Any:
    from pymilvus import MilvusClient

    return MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)


def create_fixed(client: Any, names: Mapping[str, str]) -> None:
    """The collections whose shape does not depend on the model: meta, parts, documents."""
    from pymilvus import DataType

    if not client.has_collection(names["meta"]):
        schema = _schema()
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("value", DataType.VARCHAR, max_length=VARCHAR)
        _create(client, names["meta"], schema)
    if not client.has_collection(names["parts"]):
        schema = _schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
        schema.add_field("kind", DataType.VARCHAR, max_length=16)
        schema.add_field("owner", DataType.INT64)
        schema.add_field("part", DataType.INT64)
        schema.add_field("data", DataType.VARCHAR, max_length=VARCHAR)
        _create(client, names["parts"], schema)
    if not client.has_collection(names["documents"]):
        schema = _schema()
        # Keyed by a number derived from the id: pymilvus writes string keys into its
        # own filter expressions unescaped, which an id holding a quote breaks.
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
        schema.add_field("info", DataType.JSON)
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
        _create(client, names["documents"], schema)


def _create(client: Any, name: str, schema: Any) -> None:
    from pymilvus import DataType

    schema.add_field("one", DataType.FLOAT_VECTOR, dim=len(ONE))
    index = client.prepare_index_params()
    index.add_index(field_name="one", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index, consistency_level=CONSISTENCY)


def create_passages(client: Any, name: str, dimension: int) -> None:
    """A passages collection for vectors of ``dimension`` (a reindex makes a new one)."""
    from pymilvus import DataType, Function, FunctionType

    schema = _schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_CHARS)
    schema.add_field("source", DataType.VARCHAR, max_length=ID_CHARS)
    schema.add_field("seq", DataType.INT64)
    schema.add_field("char_start", DataType.INT64)
    schema.add_field("char_end", DataType.INT64)
    schema.add_field("info", DataType.JSON)  # sentence spans, title, vector dimension
    schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_field(
        "terms", DataType.VARCHAR, max_length=VARCHAR, enable_analyzer=True,
        analyzer_params={"type": "standard"},
    )  # fmt: skip
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_field("sentences", DataType.VARCHAR, max_length=VARCHAR)
    schema.add_function(
        Function(name="terms_bm25", function_type=FunctionType.BM25,
                 input_field_names=["terms"], output_field_names=["sparse"])
    )  # fmt: skip
    index = client.prepare_index_params()
    index.add_index(field_name="dense", index_type="AUTOINDEX", metric_type="IP")
    # k1 and b as bm25s's Lucene variant, which the local store uses.
    index.add_index(
        field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
        params={"bm25_k1": 1.5, "bm25_b": 0.75},
    )  # fmt: skip
    client.create_collection(name, schema=schema, index_params=index, consistency_level=CONSISTENCY)
