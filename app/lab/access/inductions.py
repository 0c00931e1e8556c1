"""Machine groups, trainers and inductions: who may use which machine, granted by whom.

An induction covers one machine, or every machine of a group (while the group
is active). It is granted by a contributor appointed trainer for that machine,
for that group, or (for a machine) for a group the machine belongs to. It is
valid from `granted_at` until `expires_at` (if any) unless revoked; nothing is
deleted. When several inductions cover a machine, one valid one is enough; if
none is, the newest one says why (expired or revoked), and with none at all
the person is not inducted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select

from app.crud import apply_update, get_or_404
from app.db import utcnow
from app.errors import Conflict, InvalidInput
from app.lab.access.models import (
    DenyReason,
    Induction,
    InductionCreate,
    MachineGroup,
    MachineGroupCreate,
    MachineGroupMember,
    MachineGroupPublic,
    MachineGroupUpdate,
    Trainer,
    TrainerCreate,
)
from app.lab.models import Contributor, Machine


def aware(moment: datetime) -> datetime:
    """A datetime sent without a zone is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one_scope(machine_id: int | None, group_id: int | None) -> None:
    if (machine_id is None) == (group_id is None):
        raise InvalidInput(
            "give exactly one of machine_id or group_id", {"fields": ["machine_id", "group_id"]}
        )


def _person(db: Session, contributor_id: int, what: str) -> Contributor:
    person = get_or_404(db, Contributor, contributor_id)
    if person.is_commons_fund:
        raise InvalidInput(f"the commons fund cannot be a {what}", {"field": "contributor_id"})
    if not person.active:
        raise Conflict(f"contributor {contributor_id} is deactivated")
    return person


# --- groups -------------------------------------------------------------------


def group_machine_ids(db: Session, group_id: int) -> list[int]:
    """The machines of a group, by id."""
    rows = db.exec(
        select(MachineGroupMember.machine_id)
        .where(MachineGroupMember.group_id == group_id)
        .order_by(col(MachineGroupMember.machine_id))
    ).all()
    return list(rows)


def groups_of(db: Session, machine_id: int) -> list[int]:
    """The active groups a machine belongs to, by id."""
    rows = db.exec(
        select(MachineGroupMember.group_id)
        .join(MachineGroup, col(MachineGroup.id) == MachineGroupMember.group_id)
        .where(MachineGroupMember.machine_id == machine_id, col(MachineGroup.active))
    ).all()
    return list(rows)


def group_public(db: Session, group: MachineGroup) -> MachineGroupPublic:
    """A group with its machine ids."""
    assert group.id is not None
    return MachineGroupPublic(**group.model_dump(), machine_ids=group_machine_ids(db, group.id))


def _set_members(db: Session, group_id: int, machine_ids: list[int]) -> None:
    wanted = set(machine_ids)
    for machine_id in wanted:
        get_or_404(db, Machine, machine_id)
    current = db.exec(
        select(MachineGroupMember).where(MachineGroupMember.group_id == group_id)
    ).all()
    for member in current:
        if member.machine_id not in wanted:
            db.delete(member)  # membership is configuration, not history
    have = {member.machine_id for member in current}
    for machine_id in sorted(wanted - have):
        db.add(MachineGroupMember(group_id=group_id, machine_id=machine_id))


def _name_free(db: Session, name: str, me: int | None) -> None:
    same = db.exec(select(MachineGroup).where(MachineGroup.name == name)).first()
    if same is not None and same.id != me:
        raise Conflict(f"a machine group named {name!r} exists (group {same.id})")


def create_group(db: Session, data: MachineGroupCreate) -> MachineGroup:
    """Add a machine group with its machines."""
    _name_free(db, data.name, None)
    group = MachineGroup(name=data.name, description=data.description)
    db.add(group)
    db.flush()
    assert group.id is not None
    _set_members(db, group.id, data.machine_ids)
    db.commit()
    return group


def update_group(db: Session, group: MachineGroup, data: MachineGroupUpdate) -> MachineGroup:
    """Rename a group or replace its machines."""
    assert group.id is not None
    if data.name is not None:
        _name_free(db, data.name, group.id)
    apply_update(group, data, exclude={"machine_ids"})
    if data.machine_ids is not None:
        _set_members(db, group.id, data.machine_ids)
    db.commit()
    return group


def deactivate_group(db: Session, group: MachineGroup) -> MachineGroup:
    """Stop a group counting: its inductions and trainers no longer admit anyone."""
    group.active = False
    group.updated_at = utcnow()
    db.commit()
    return group


# --- trainers -----------------------------------------------------------------


def appoint_trainer(db: Session, data: TrainerCreate, by: str) -> Trainer:
    """Make a contributor a trainer for one machine or one group."""
    _one_scope(data.machine_id, data.group_id)
    _person(db, data.contributor_id, "trainer")
    if data.machine_id is not None:
        get_or_404(db, Machine, data.machine_id)
    if data.group_id is not None:
        get_or_404(db, MachineGroup, data.group_id)
    existing = db.exec(
        select(Trainer).where(
            Trainer.contributor_id == data.contributor_id,
            Trainer.machine_id == data.machine_id,
            Trainer.group_id == data.group_id,
            col(Trainer.revoked_at).is_(None),
        )
    ).first()
    if existing is not None:
        raise Conflict(f"already a trainer for this (trainer {existing.id})", {"id": existing.id})
    row = Trainer(**data.model_dump(), appointed_by=by[:200])
    db.add(row)
    db.commit()
    return row


def revoke_trainer(db: Session, trainer: Trainer, by: str) -> Trainer:
    """End a trainer appointment; the inductions they granted stay valid."""
    if trainer.revoked_at is not None:
        raise Conflict(f"trainer {trainer.id} was already revoked")
    trainer.revoked_at = utcnow()
    trainer.revoked_by = by[:200]
    db.commit()
    return trainer


def is_trainer(
    db: Session, contributor_id: int, machine_id: int | None, group_id: int | None
) -> bool:
    """Whether a contributor may induct others on this machine (or group)."""
    scopes: list[ColumnElement[bool]] = []
    if group_id is not None:
        scopes.append(col(Trainer.group_id) == group_id)
    if machine_id is not None:
        scopes.append(col(Trainer.machine_id) == machine_id)
        groups = groups_of(db, machine_id)
        if groups:
            scopes.append(col(Trainer.group_id).in_(groups))
    found = db.exec(
        select(Trainer.id).where(
            Trainer.contributor_id == contributor_id,
            col(Trainer.revoked_at).is_(None),
            or_(*scopes),
        )
    ).first()
    return found is not None


# --- inductions ---------------------------------------------------------------


def status_of(induction: Induction, at: datetime) -> str:
    """`valid`, `expired`, `revoked` or `not_yet` (granted with a future date) at a moment."""
    if induction.revoked_at is not None and induction.revoked_at <= at:
        return "revoked"
    if induction.granted_at > at:
        return "not_yet"
    if induction.expires_at is not None and induction.expires_at <= at:
        return "expired"
    return "valid"


def grant_induction(db: Session, data: InductionCreate, by: str) -> Induction:
    """Record an induction granted by a trainer for its machine or group."""
    _one_scope(data.machine_id, data.group_id)
    _person(db, data.contributor_id, "maker with an induction")
    _person(db, data.trainer_id, "trainer")
    if data.machine_id is not None:
        get_or_404(db, Machine, data.machine_id)
    if data.group_id is not None:
        group = get_or_404(db, MachineGroup, data.group_id)
        if not group.active:
            raise Conflict(f"machine group {group.id} is deactivated")
    if not is_trainer(db, data.trainer_id, data.machine_id, data.group_id):
        raise Conflict(
            f"contributor {data.trainer_id} is not a trainer for this "
            f"{'machine' if data.machine_id else 'group'}",
            {"trainer_id": data.trainer_id},
        )
    granted_at = aware(data.granted_at) if data.granted_at else utcnow()
    expires_at = aware(data.expires_at) if data.expires_at else None
    if expires_at is not None and expires_at <= granted_at:
        raise InvalidInput("expires_at must be after granted_at", {"field": "expires_at"})
    row = Induction(
        contributor_id=data.contributor_id,
        machine_id=data.machine_id,
        group_id=data.group_id,
        trainer_id=data.trainer_id,
        granted_at=granted_at,
        expires_at=expires_at,
        note=data.note,
        recorded_by=by[:200],
    )
    db.add(row)
    db.commit()
    return row


def revoke_induction(db: Session, induction: Induction, reason: str, by: str) -> Induction:
    """End an induction with a reason; it stays on record."""
    if induction.revoked_at is not None:
        raise Conflict(f"induction {induction.id} was already revoked ({induction.revoke_reason})")
    induction.revoked_at = utcnow()
    induction.revoked_by = by[:200]
    induction.revoke_reason = reason
    db.commit()
    return induction


def covering(db: Session, contributor_id: int, machine_id: int) -> list[Induction]:
    """Every induction of a contributor that covers a machine, newest grant first."""
    groups = groups_of(db, machine_id)
    scope: list[ColumnElement[bool]] = [col(Induction.machine_id) == machine_id]
    if groups:
        scope.append(col(Induction.group_id).in_(groups))
    return list(
        db.exec(
            select(Induction)
            .where(Induction.contributor_id == contributor_id, or_(*scope))
            .order_by(col(Induction.granted_at).desc(), col(Induction.id).desc())
        ).all()
    )


def induction_problem(
    db: Session, contributor_id: int, machine_id: int, at: datetime
) -> DenyReason | None:
    """None if the contributor holds a valid induction for the machine at `at`, else why not."""
    return problem_among(covering(db, contributor_id, machine_id), at)


def problem_among(found: list[Induction], at: datetime) -> DenyReason | None:
    """`induction_problem` given every induction that covers the machine, newest grant first
    (the ingest batch reads them once for all its scans)."""
    statuses = [status_of(row, at) for row in found]
    if "valid" in statuses:
        return None
    for status in statuses:
        if status == "expired":
            return DenyReason.EXPIRED
        if status == "revoked":
            return DenyReason.REVOKED
    return DenyReason.NOT_INDUCTED
