"""`labledger import` and `labledger export`: members, machines and readers as CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from app.cli.common import fail, load, ready_engine
from app.errors import LabLedgerError
from app.roster.equipment import export_machines, export_readers, plan_machines, plan_readers
from app.roster.members import export_members, plan_members
from app.roster.table import Plan

import_cli = typer.Typer(
    help="Import members, machines or readers from CSV (see docs/cli.md).", no_args_is_help=True
)
export_cli = typer.Typer(
    help="Export members, machines or readers as CSV, in the format import reads.",
    no_args_is_help=True,
)

CsvFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")]
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
]


def _import(path: Path, dry_run: bool, plan_for: Callable[[Session, str], Plan]) -> None:
    settings = load()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text; save the sheet as CSV UTF-8")
    with Session(ready_engine(settings)) as db:
        plan = plan_for(db, text)
        if plan.problems:
            for problem in plan.problems:
                typer.echo(f"labledger: {path.name}: {problem}", err=True)
            fail(f"{path.name}: {len(plan.problems)} problem(s); nothing was imported", code=1)
        for line in plan.changes:
            typer.echo(line)
        summary = f"{len(plan.changes)} change(s), {plan.unchanged} row(s) unchanged"
        if dry_run:
            typer.echo(f"dry run: {summary}; nothing was written")
            return
        try:
            plan.apply(db)
        except LabLedgerError as exc:
            fail(f"{path.name}: {exc.message}", code=1)
    typer.echo(f"imported {path.name}: {summary}")


def _export(output: Path | None, text_for: Callable[[Session], str]) -> None:
    settings = load()
    with Session(ready_engine(settings)) as db:
        text = text_for(db)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@import_cli.command("members")
def import_members(path: CsvFile, dry_run: DryRun = False) -> None:
    """Add or update contributors and enrol their badges."""
    _import(path, dry_run, plan_members)


@import_cli.command("machines")
def import_machines(path: CsvFile, dry_run: DryRun = False) -> None:
    """Add or update machines (matched by name)."""
    _import(path, dry_run, plan_machines)


@import_cli.command("readers")
def import_readers(path: CsvFile, dry_run: DryRun = False) -> None:
    """Add or update badge readers (matched by name)."""
    _import(path, dry_run, plan_readers)


@export_cli.command("members")
def export_members_cmd(output: Output = None) -> None:
    """Active contributors and their active badges."""
    _export(output, export_members)


@export_cli.command("machines")
def export_machines_cmd(output: Output = None) -> None:
    """Active machines."""
    _export(output, export_machines)


@export_cli.command("readers")
def export_readers_cmd(output: Output = None) -> None:
    """Active badge readers."""
    _export(output, export_readers)
