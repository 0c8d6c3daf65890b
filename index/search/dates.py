"""Publication dates as written by sources, read as calendar dates for date filters.

``published`` is kept as the source gave it ("2019-05-02T10:00:00Z", "May 2, 2019"); a
filter compares calendar dates, so each is read once here. A document whose date cannot
be read, or that has none, is outside every date range (a filter by date is a question
about when, and such a document cannot answer it).
"""

from __future__ import annotations

import re
from datetime import date, datetime

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%d/%m/%Y", "%B %Y")


def read_date(value: str | None) -> date | None:
    """The calendar date ``value`` names, or None.

    >>> read_date("2019-05-02T10:00:00Z"), read_date("May 2, 2019"), read_date("soon")
    (datetime.date(2019, 5, 2), datetime.date(2019, 5, 2), None)
    """
    if not value:
        return None
    text = " ".join(value.split())
    if found := _ISO.match(text):
        try:
            return date(*map(int, found.groups()))
        except ValueError:
            return None
    for form in _FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def in_range(value: str | None, after: date | None, before: date | None) -> bool:
    """Whether ``value`` falls on or after ``after`` and on or before ``before``."""
    when = read_date(value)
    if when is None:
        return False
    return (after is None or when >= after) and (before is None or when <= before)
