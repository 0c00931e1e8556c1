"""`labledger import-sales`: sales from a shop's CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from app.cli.common import fail, load, ready_engine


def import_sales(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV export.")
    ],
    provider: Annotated[
        str, typer.Option(help="Shop name recorded with the sales (dedupe key).")
    ] = "csv",
    currency: Annotated[
        str | None, typer.Option(help="Currency when the file has no column.")
    ] = None,
) -> None:
    """Import sales from a shop's CSV export (Tindie, Crowd Supply...); re-importing is harmless."""
    from app.accounting.sales.apply import apply_shop_event
    from app.accounting.sales.csv_import import parse_sales_csv
    from app.errors import LabLedgerError

    settings = load()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (byte {exc.start}); export the file as UTF-8")
    try:
        events = parse_sales_csv(text, provider=provider, default_currency=currency)
    except LabLedgerError as exc:
        fail(f"{path}: {exc.message}")
    counts: dict[str, int] = {}
    with Session(ready_engine(settings)) as session:
        for event in events:
            outcome = apply_shop_event(session, event)
            counts[outcome] = counts.get(outcome, 0) + 1
        session.commit()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"
    typer.echo(f"{len(events)} events from {path.name}: {summary}")
