"""Tables as CSV downloads: one header row from the model's fields, one row per item."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from typing import Any

from fastapi.responses import Response


def csv_text(rows: Sequence[Any], fields: Sequence[str]) -> str:
    """The rows as CSV text with a header line of `fields`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        values = [getattr(row, f) for f in fields]
        writer.writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def json_response(rows: Sequence[Any]) -> Response:
    """Plain dataclass rows as a JSON array, without per-row validation (they are our own data)."""
    return Response(json.dumps([vars(row) for row in rows]), media_type="application/json")


def _fields(model: type[Any]) -> list[str]:
    """The column names of a dataclass or a pydantic model, in order."""
    if dataclasses.is_dataclass(model):
        return [field.name for field in dataclasses.fields(model)]
    return list(model.model_fields)


def csv_response(rows: Sequence[Any], model: type[Any], name: str) -> Response:
    """A CSV attachment of `rows` named `name`.csv."""
    return Response(
        csv_text(rows, _fields(model)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
