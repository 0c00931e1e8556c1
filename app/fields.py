"""Field types shared by request schemas: bounded, and free of characters databases refuse.

One length rule for every text field: a request field's maximum length is the
length of the column it is stored in, and both come from the tiers below
(labels such as roles 50, names 200, short texts 500, long texts 4000, emails
320). Too long is therefore a 422 naming the field on every database, never a
database error; `tests/reliability/test_lengths.py` holds every request
field to its column.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

MAX_ID = 2**31 - 1
LABEL_LEN = 50
NAME_LEN = 200
TEXT_LEN = 500
LONG_LEN = 4000
EMAIL_LEN = 320


def _printable(value: str) -> str:
    """Refuse NUL and other control characters (PostgreSQL rejects NUL outright)."""
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=LABEL_LEN),
    AfterValidator(_printable),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LEN),
    AfterValidator(_printable),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_LEN),
    AfterValidator(_printable),
]
LongText = Annotated[str, StringConstraints(max_length=LONG_LEN), AfterValidator(_printable)]
OptionalName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=NAME_LEN), AfterValidator(_printable)
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=EMAIL_LEN, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
    AfterValidator(_printable),
]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
