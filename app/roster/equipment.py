"""Machines and readers: export, and an import planned row by row (matched by name).

Machines name their provider by contributor name (empty: the commons fund);
readers name their machine and product by name (empty: the door, no product).
An empty cell leaves a field as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, SQLModel, col, select

from app.accounting.products.tables import Product
from app.lab import service
from app.lab.models import (
    COMMONS_FUND_ID,
    Contributor,
    Machine,
    MachineCreate,
    MachineUpdate,
    Reader,
    ReaderCreate,
    ReaderUpdate,
)
from app.roster.table import Plan, Row, invalid, read_rows, write_rows

MACHINE_COLUMNS = (
    "name",
    "kind",
    "adapter",
    "address",
    "provider",
    "running_threshold_w",
    "run_start_after_s",
    "run_stop_after_s",
    "idle_timeout_s",
)
READER_COLUMNS = ("name", "protocol", "address", "machine", "product")


def _names(db: Session, model: type[SQLModel]) -> dict[int, str]:
    return {row.id: row.name for row in db.exec(select(model)).all()}  # type: ignore[attr-defined]


def export_machines(db: Session) -> str:
    """Every active machine, its provider by name, as CSV."""
    people = _names(db, Contributor)
    machines = db.exec(select(Machine).where(Machine.active).order_by(col(Machine.id))).all()
    return write_rows(
        MACHINE_COLUMNS,
        (
            {
                **{c: getattr(m, c) for c in MACHINE_COLUMNS if c != "provider"},
                "provider": "" if m.provider_id == COMMONS_FUND_ID else people[m.provider_id],
            }
            for m in machines
        ),
    )


def export_readers(db: Session) -> str:
    """Every active reader, its machine and product by name, as CSV."""
    machines, products = _names(db, Machine), _names(db, Product)
    readers = db.exec(select(Reader).where(Reader.active).order_by(col(Reader.id))).all()
    return write_rows(
        READER_COLUMNS,
        (
            {
                "name": r.name,
                "protocol": r.protocol,
                "address": r.address,
                "machine": machines.get(r.machine_id) if r.machine_id else None,
                "product": products.get(r.product_id) if r.product_id else None,
            }
            for r in readers
        ),
    )


def _lookup(
    db: Session, model: Any, name: str | None, what: str, row: Row, plan: Plan
) -> int | None:
    """The id of the active row named `name`, or a problem."""
    if name is None:
        return None
    found = db.exec(select(model).where(model.name == name, model.active)).first()
    if found is None:
        plan.problems.append(f"row {row.number}: no active {what} named {name!r}")
        return None
    return int(found.id)


def _plan_rows(
    db: Session,
    plan: Plan,
    rows: list[Row],
    model: Any,
    cells: Callable[[Row], dict[str, Any] | None],
    create: tuple[type[BaseModel], Callable[[Session, Any], object]],
    update: tuple[type[BaseModel], Callable[[Session, Any, Any], object]],
    what: str,
) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        name = row.get("name") or ""
        if name in seen:
            plan.problems.append(f"row {row.number}: same {what} as row {seen[name]}")
            continue
        seen[name] = row.number
        values = cells(row)
        if values is None:
            continue
        existing = db.exec(select(model).where(model.name == name)).first()
        schema = update[0] if existing is not None else create[0]
        try:
            data = schema(**values)
        except ValidationError as error:
            plan.problems.append(invalid(row, error))
            continue
        if existing is None:
            plan.change(
                f"row {row.number}: add {what} {name!r}",
                partial(_create, data=data, apply=create[1]),
            )
            continue
        changed = [
            k for k, v in data.model_dump(exclude_unset=True).items() if getattr(existing, k) != v
        ]
        if not existing.active:
            plan.problems.append(f"row {row.number}: {what} {name!r} is deactivated")
        elif changed:
            plan.change(
                f"row {row.number}: update {what} {existing.id} {name!r}: {', '.join(changed)}",
                partial(_update, model=model, row_id=existing.id, data=data, apply=update[1]),
            )
        else:
            plan.unchanged += 1


def _create(db: Session, data: BaseModel, apply: Callable[[Session, Any], object]) -> None:
    apply(db, data)


def _update(
    db: Session,
    model: Any,
    row_id: int,
    data: BaseModel,
    apply: Callable[[Session, Any, Any], object],
) -> None:
    apply(db, db.get(model, row_id), data)


def plan_machines(db: Session, text: str) -> Plan:
    """What importing this machines CSV would change; nothing is written."""
    plan = Plan()

    def cells(row: Row) -> dict[str, Any] | None:
        values: dict[str, Any] = {k: v for k, v in row.cells.items() if k != "provider"}
        provider = row.get("provider")
        if provider is not None:
            found = _lookup(db, Contributor, provider, "contributor", row, plan)
            if found is None:
                return None
            values["provider_id"] = found
        return values

    rows = read_rows(text, MACHINE_COLUMNS, ("name", "kind", "adapter", "address"), plan)
    _plan_rows(
        db,
        plan,
        rows,
        Machine,
        cells,
        (MachineCreate, service.create_machine),
        (MachineUpdate, service.update_machine),
        "machine",
    )
    return plan


def plan_readers(db: Session, text: str) -> Plan:
    """What importing this readers CSV would change; nothing is written."""
    plan = Plan()

    def cells(row: Row) -> dict[str, Any] | None:
        values: dict[str, Any] = {
            k: v for k, v in row.cells.items() if k not in ("machine", "product")
        }
        for column, model in (("machine", Machine), ("product", Product)):
            if row.get(column) is not None:
                found = _lookup(db, model, row.get(column), column, row, plan)
                if found is None:
                    return None
                values[f"{column}_id"] = found
        return values

    rows = read_rows(text, READER_COLUMNS, ("name",), plan)
    _plan_rows(
        db,
        plan,
        rows,
        Reader,
        cells,
        (ReaderCreate, service.create_reader),
        (ReaderUpdate, service.update_reader),
        "reader",
    )
    return plan
