"""`labledger inductions ...`: machine groups, trainers, inductions and denied scans from a shell.

Contributors, machines and groups are named by id or by name. Every command
goes through the same service functions as the REST API, so the rules (only a
trainer inducts, nothing is deleted) are the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, col, select

from app.cli.common import fail, load, ready_engine
from app.errors import LabLedgerError
from app.lab.access import inductions
from app.lab.access.inductions import induction_problem
from app.lab.access.models import (
    DeniedScan,
    Induction,
    InductionCreate,
    MachineGroup,
    MachineGroupCreate,
    TrainerCreate,
)
from app.lab.access.queries import induction_rows
from app.lab.models import Contributor, Machine

inductions_cli = typer.Typer(help="Who may use which machine: inductions, trainers, groups.")
T = TypeVar("T", bound=SQLModel)
BY = "cli"

Who = Annotated[str, typer.Option("--contributor", help="Contributor id or name.")]
MachineOpt = Annotated[str | None, typer.Option("--machine", help="Machine id or name.")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="Machine group id or name.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"labledger: {message}", err=True)
    return typer.Exit(2)


@contextmanager
def _db() -> Iterator[Session]:
    """A database session, with the project's errors printed as one line and exit status 2."""
    with Session(ready_engine(load()), expire_on_commit=False) as db:
        try:
            yield db
        except LabLedgerError as exc:
            fail(exc.message)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            fail(problems)


def _find(db: Session, model: type[T], text: str, what: str) -> T:
    """A row by id, or by its name (contributors also by display name)."""
    row = db.get(model, int(text)) if text.isdigit() else None
    if row is None and not text.isdigit():
        names = [model.name == text]  # type: ignore[attr-defined]
        if model is Contributor:
            names.append(Contributor.display_name == text)
        for clause in names:
            row = db.exec(select(model).where(clause)).first()
            if row is not None:
                break
    if row is None:
        raise _fail(f"no {what} {text!r}")
    return row


def _id(row: SQLModel) -> int:
    value = getattr(row, "id", None)
    assert isinstance(value, int)
    return value


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{option}: not a date or date-time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _scope(db: Session, machine: str | None, group: str | None) -> tuple[int | None, int | None]:
    return (
        _id(_find(db, Machine, machine, "machine")) if machine else None,
        _id(_find(db, MachineGroup, group, "machine group")) if group else None,
    )


@inductions_cli.command("list")
def list_inductions(
    contributor: Annotated[str | None, typer.Option(help="Contributor id or name.")] = None,
    machine: MachineOpt = None,
    status: Annotated[str | None, typer.Option(help="valid, expired, revoked or not_yet.")] = None,
) -> None:
    """Inductions, newest first, with their status now."""
    with _db() as db:
        rows = induction_rows(
            db,
            datetime.now(UTC),
            contributor_id=_id(_find(db, Contributor, contributor, "contributor"))
            if contributor
            else None,
            machine_id=_id(_find(db, Machine, machine, "machine")) if machine else None,
            status=status,
        )
    typer.echo(
        f"{'ID':>4}  {'WHO':<16} {'ON':<24} {'BY':<12} {'GRANTED':<10} {'EXPIRES':<10} STATUS"
    )
    for row in rows:
        expires = row.expires_at.date().isoformat() if row.expires_at else "-"
        typer.echo(
            f"{row.id:>4}  {row.contributor[:16]:<16} {row.scope[:24]:<24} {row.trainer[:12]:<12} "
            f"{row.granted_at.date().isoformat():<10} {expires:<10} {row.status}"
        )


@inductions_cli.command("grant")
def grant(
    contributor: Who,
    trainer: Annotated[str, typer.Option(help="The trainer's id or name.")],
    machine: MachineOpt = None,
    group: GroupOpt = None,
    expires: Annotated[str | None, typer.Option(help="Expiry date (ISO 8601).")] = None,
    granted: Annotated[
        str | None, typer.Option(help="Date of the induction (default now).")
    ] = None,
    note: Annotated[str, typer.Option(help="What was covered.")] = "",
) -> None:
    """Record an induction given by a trainer for a machine or a group."""
    with _db() as db:
        machine_id, group_id = _scope(db, machine, group)
        row = inductions.grant_induction(
            db,
            InductionCreate(
                contributor_id=_id(_find(db, Contributor, contributor, "contributor")),
                trainer_id=_id(_find(db, Contributor, trainer, "contributor")),
                machine_id=machine_id,
                group_id=group_id,
                granted_at=_when(granted, "--granted"),
                expires_at=_when(expires, "--expires"),
                note=note,
            ),
            BY,
        )
    typer.echo(f"induction {row.id} granted")


@inductions_cli.command("revoke")
def revoke(
    induction_id: Annotated[int, typer.Argument(help="The induction's id.", min=1)],
    reason: Annotated[str, typer.Option(help="Why it ends.")],
) -> None:
    """Revoke an induction; it stays on record with the reason."""
    with _db() as db:
        row = db.get(Induction, induction_id)
        if row is None:
            raise _fail(f"no induction {induction_id}")
        inductions.revoke_induction(db, row, reason.strip() or "revoked", BY)
    typer.echo(f"induction {induction_id} revoked: {reason}")


@inductions_cli.command("check")
def check(
    contributor: Who, machine: Annotated[str, typer.Option(help="Machine id or name.")]
) -> None:
    """Say whether a contributor may badge in at a machine now (exit 1 if not)."""
    with _db() as db:
        person = _find(db, Contributor, contributor, "contributor")
        target = _find(db, Machine, machine, "machine")
        problem = (
            induction_problem(db, _id(person), _id(target), datetime.now(UTC))
            if target.requires_induction
            else None
        )
    if problem is None:
        typer.echo(f"{person.display_name} may use {target.name}")
        return
    typer.echo(f"{person.display_name} may not use {target.name}: {problem}")
    raise typer.Exit(1)


@inductions_cli.command("trainer")
def appoint(contributor: Who, machine: MachineOpt = None, group: GroupOpt = None) -> None:
    """Make a contributor a trainer for a machine or a group."""
    with _db() as db:
        machine_id, group_id = _scope(db, machine, group)
        row = inductions.appoint_trainer(
            db,
            TrainerCreate(
                contributor_id=_id(_find(db, Contributor, contributor, "contributor")),
                machine_id=machine_id,
                group_id=group_id,
            ),
            BY,
        )
    typer.echo(f"trainer {row.id} appointed")


@inductions_cli.command("group")
def make_group(
    name: Annotated[str, typer.Argument(help="The group's name.")],
    machine: Annotated[list[str] | None, typer.Option(help="A machine (repeat).")] = None,
) -> None:
    """Make a machine group of the given machines."""
    with _db() as db:
        ids = [_id(_find(db, Machine, m, "machine")) for m in machine or []]
        row = inductions.create_group(db, MachineGroupCreate(name=name, machine_ids=ids))
    typer.echo(f"group {row.id} {row.name!r}: {len(ids)} machine(s)")


@inductions_cli.command("denied")
def denied(
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=500)] = 20,
) -> None:
    """Recent badge scans that opened no session, with why."""
    with _db() as db:
        rows = db.exec(select(DeniedScan).order_by(col(DeniedScan.at).desc()).limit(limit)).all()
        names = {c.id: c.display_name for c in db.exec(select(Contributor)).all()}
        machines = {m.id: m.name for m in db.exec(select(Machine)).all()}
    for row in rows:
        who = (
            names.get(row.contributor_id, "unknown card") if row.contributor_id else "unknown card"
        )
        typer.echo(
            f"{row.at.isoformat(timespec='seconds')}  {who:<16} "
            f"{machines.get(row.machine_id, 'door') if row.machine_id else 'door':<16} {row.reason}"
        )
