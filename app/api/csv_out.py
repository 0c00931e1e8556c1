"""Tables as downloads: CSV (one header row, one row per item) and JSON arrays.

A CSV cell that begins like a formula (`=`, `+`, `-`, `@`, tab, carriage return)
is prefixed with `'`, so a spreadsheet shows what a device or person typed instead
of running it. Numbers are written as they are: a negative amount stays a number.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from fastapi.responses import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (text only; numbers pass as they are)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_rows(fields: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text of a header of `fields` and already-ordered value rows, every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def csv_text(rows: Sequence[Any], fields: Sequence[str]) -> str:
    """The rows (objects with these attributes) as CSV text with a header line of `fields`."""
    return csv_rows(fields, ([getattr(row, f) for f in fields] for row in rows))


def json_response(rows: Sequence[Any]) -> Response:
    """Dataclass rows as a JSON array, serialised natively (no per-row Python or validation)."""
    return Response(orjson.dumps(rows), media_type="application/json")


def _fields(model: type[Any]) -> list[str]:
    """The column names of a dataclass or a pydantic model, in order."""
    if dataclasses.is_dataclass(model):
        return [field.name for field in dataclasses.fields(model)]
    return list(model.model_fields)


def csv_download(text: str, name: str) -> Response:
    """CSV text as an attachment named `name`.csv."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def csv_response(rows: Sequence[Any], model: type[Any], name: str) -> Response:
    """A CSV attachment of `rows` named `name`.csv."""
    return csv_download(csv_text(rows, _fields(model)), name)
