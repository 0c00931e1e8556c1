"""`labledger rollups`: the hourly rollups the dashboards read."""

from __future__ import annotations

import typer
from sqlmodel import Session

from app.cli.common import load, ready_engine

rollups_cli = typer.Typer(help="The hourly rollups the dashboards read.", no_args_is_help=True)


@rollups_cli.command("rebuild")
def rollups_rebuild() -> None:
    """Recompute every hourly rollup row from the runs and sessions (repair, bulk imports)."""
    from app.lab.rollups import rebuild

    with Session(ready_engine(load())) as session:
        runs, sessions = rebuild(session)
    typer.echo(f"rollups rebuilt: {runs} run rows, {sessions} session rows")
