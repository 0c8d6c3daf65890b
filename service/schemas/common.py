"""What every v1 schema shares: text that must be valid Unicode, and the error and status
bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel

NOT_UNICODE = "must be valid Unicode text (UTF-8)"


def check_unicode(value: str) -> str:
    """Refuse lone surrogates: JSON can spell one ("\\ud800"), but no UTF-8 text can hold it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(value[exc.start])
        raise ValueError(
            f"{NOT_UNICODE}; character {exc.start} is a lone surrogate U+{bad:04X}, which is"
            " half of a UTF-16 pair: send the whole character, or remove it"
        ) from None
    return value


UnicodeStr = Annotated[str, AfterValidator(check_unicode)]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class Status(BaseModel):
    status: str
    detail: str | None = None
