"""Errors raised by the citeqa engine.

Every message says what happened, which value caused it, and what to do next.
Only ``service/`` maps these to HTTP statuses and only the CLI maps them to exit codes.

    CiteqaError
    ├── NotFoundError          a document id that is not in the index
    ├── BadDocumentError       a document or source file that cannot be read or indexed
    ├── BadQueryError          a question or search option the engine cannot use
    ├── ConfigError            an engine setting that cannot work (bad model name, bad sizes)
    └── IndexStateError        the files in the data dir cannot be used as they are
        └── ModelMismatchError the index was built with another model or dimension
"""

from __future__ import annotations


class CiteqaError(Exception):
    """Base class of every error the engine raises on purpose."""


class NotFoundError(CiteqaError):
    """A document id that is not in the index."""


class BadDocumentError(CiteqaError):
    """A document or source that cannot be read or indexed."""


class BadQueryError(CiteqaError):
    """A question or search option that the engine cannot use."""


class ConfigError(CiteqaError):
    """An engine setting that cannot work."""


class IndexStateError(CiteqaError):
    """The files in the data dir cannot be used as they are."""


class ModelMismatchError(IndexStateError):
    """The index was built with another embedding model or vector dimension."""
