"""Reading and writing the roster's CSV files: known columns, row numbers, empty cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlmodel import Session


@dataclass
class Row:
    """One data row: its line number in the file and its non-empty cells."""

    number: int
    cells: dict[str, str]

    def get(self, column: str) -> str | None:
        """The cell's text, or None when the column is absent or the cell empty."""
        return self.cells.get(column) or None


@dataclass
class Plan:
    """What an import would change, what stops it, and the steps that do it."""

    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unchanged: int = 0
    steps: list[Callable[[Session], object]] = field(default_factory=list)

    def change(self, line: str, step: Callable[[Session], object]) -> None:
        """Note one change and the step that makes it."""
        self.changes.append(line)
        self.steps.append(step)

    def apply(self, db: Session) -> None:
        """Make every change, in order (only when there is no problem)."""
        assert not self.problems
        for step in self.steps:
            step(db)


def read_rows(text: str, columns: Sequence[str], required: Sequence[str], plan: Plan) -> list[Row]:
    """The data rows of a CSV text; unknown or missing columns are problems of the plan."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in columns]
    if unknown:
        plan.problems.append(
            f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(columns)}"
        )
    missing = [name for name in required if name not in header]
    if missing:
        plan.problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown or missing:
        return []
    rows = []
    for record in reader:
        cells = {
            key.strip(): (value or "").strip()
            for key, value in record.items()
            if key is not None and isinstance(value, str)
        }
        if not any(cells.values()):
            continue
        rows.append(Row(reader.line_num, {k: v for k, v in cells.items() if v}))
    return rows


def invalid(row: Row, error: ValidationError) -> str:
    """A row's validation problems as one line."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors()]
    return f"row {row.number}: " + "; ".join(parts)


def write_rows(columns: Sequence[str], rows: Iterable[dict[str, object]]) -> str:
    """CSV text with a header; None is an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
