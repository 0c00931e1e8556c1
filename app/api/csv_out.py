"""Tables as CSV downloads: one header row from the model's fields, one row per item."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from fastapi.responses import Response
from pydantic import BaseModel


def csv_text(rows: Sequence[BaseModel], fields: Sequence[str]) -> str:
    """The rows as CSV text with a header line of `fields`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        values = row.model_dump()
        writer.writerow(["" if values[f] is None else values[f] for f in fields])
    return buffer.getvalue()


def csv_response(rows: Sequence[BaseModel], model: type[BaseModel], name: str) -> Response:
    """A CSV attachment of `rows` named `name`.csv."""
    return Response(
        csv_text(rows, list(model.model_fields)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
