"""Field types shared by request schemas: bounded, and free of characters databases refuse."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

MAX_ID = 2**31 - 1


def _printable(value: str) -> str:
    """Refuse NUL and other control characters (PostgreSQL rejects NUL outright)."""
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_printable),
]
LongText = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_printable)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(_printable),
]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
