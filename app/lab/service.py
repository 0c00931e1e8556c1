"""Rules for contributors, badges, machines and readers, independent of HTTP."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.crud import apply_update, get_or_404
from app.db import utcnow
from app.errors import Conflict, InvalidInput
from app.lab.activity import MachineStatus
from app.lab.adapters import MachineSettings, SettingProblem, machine_problem, reader_problem
from app.lab.models import (
    Adapter,
    Badge,
    BadgeCreate,
    BadgeStatus,
    BadgeUpdate,
    Contributor,
    ContributorCreate,
    ContributorUpdate,
    Machine,
    MachineCreate,
    MachineUpdate,
    Reader,
    ReaderCreate,
    ReaderUpdate,
)
from devices.relay import check_address
from devices.rfid import normalise_badge


def canonical_card_id(text: str) -> str:
    """Any reader's form of a card id in the one canonical form, or InvalidInput."""
    card = normalise_badge(text)
    if card is None:
        raise InvalidInput(
            "card_id is not a card number: give the printed number, the reader's hex frame "
            "data or a card UID",
            {"field": "card_id"},
        )
    return card


def _commit(session: Session, conflict_message: str) -> None:
    """Commit, turning a unique-constraint clash that slipped past the checks into a 409."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(conflict_message) from None


def _active_contributor(session: Session, contributor_id: int) -> Contributor:
    contributor = get_or_404(session, Contributor, contributor_id)
    if not contributor.active:
        raise Conflict(f"contributor {contributor_id} is deactivated")
    return contributor


# --- contributors -------------------------------------------------------------


def create_contributor(session: Session, data: ContributorCreate) -> Contributor:
    """Add a contributor; the public display name defaults to the name."""
    row = Contributor(
        name=data.name,
        email=data.email,
        display_name=data.display_name or data.name,
        payout_details=data.payout_details,
        role=data.role,
        name_public=data.name_public,
    )
    session.add(row)
    _commit(session, "contributor could not be stored")
    return row


def update_contributor(session: Session, row: Contributor, data: ContributorUpdate) -> Contributor:
    """Change a contributor's details."""
    apply_update(row, data, nullable={"email"})
    _commit(session, "contributor could not be stored")
    return row


def deactivate_contributor(session: Session, row: Contributor) -> Contributor:
    """Stop a contributor from opening sessions; their history stays. Their badges are revoked."""
    if row.is_commons_fund:
        raise Conflict("the commons fund cannot be deactivated")
    row.active = False
    row.updated_at = utcnow()
    for badge in session.exec(select(Badge).where(Badge.contributor_id == row.id)).all():
        if badge.status == BadgeStatus.ACTIVE:
            badge.status = BadgeStatus.REVOKED
            badge.revoked_at = utcnow()
    session.commit()
    return row


# --- badges -------------------------------------------------------------------


def _badge_clash(session: Session, card_id: str, contributor_id: int) -> None:
    existing = session.exec(select(Badge).where(Badge.card_id == card_id)).first()
    if existing is None:
        return
    if existing.contributor_id == contributor_id:
        raise Conflict(
            f"this card is already enrolled for contributor {contributor_id} (badge {existing.id})",
            {"badge_id": existing.id},
        )
    raise Conflict(
        f"this card is already enrolled to another contributor (badge {existing.id}); "
        "revoke it there or move it with PATCH before enrolling it again",
        {"badge_id": existing.id},
    )


def enrol_badge(session: Session, data: BadgeCreate) -> Badge:
    """Enrol a card for a contributor; a card enrols once, to one person."""
    card_id = canonical_card_id(data.card_id)
    if _active_contributor(session, data.contributor_id).is_commons_fund:
        raise InvalidInput("the commons fund cannot hold a badge", {"field": "contributor_id"})
    _badge_clash(session, card_id, data.contributor_id)
    row = Badge(card_id=card_id, contributor_id=data.contributor_id, label=data.label)
    session.add(row)
    _commit(session, "this card is already enrolled")
    return row


def update_badge(session: Session, row: Badge, data: BadgeUpdate) -> Badge:
    """Relabel, move to another contributor, revoke or reinstate a badge."""
    if data.contributor_id is not None:
        _active_contributor(session, data.contributor_id)
    changes = apply_update(row, data)
    if "status" in changes:
        row.revoked_at = utcnow() if row.status == BadgeStatus.REVOKED else None
    _commit(session, "badge could not be stored")
    return row


def revoke_badge(session: Session, row: Badge) -> Badge:
    """Revoke a badge; scans of it are then recorded as unknown."""
    row.status = BadgeStatus.REVOKED
    row.revoked_at = utcnow()
    session.commit()
    return row


# --- machines -----------------------------------------------------------------


def find_machine(session: Session, ref: str) -> Machine | None:
    """The active machine a device names by its name or, failing that, by its address."""
    by_name = session.exec(select(Machine).where(Machine.name == ref, Machine.active)).first()
    if by_name is not None:
        return by_name
    by_address = session.exec(
        select(Machine)
        .where(Machine.address == ref, Machine.active)
        .order_by(col(Machine.adapter) != Adapter.LAB, col(Machine.id))
    ).all()
    return by_address[0] if by_address else None


def find_reader(session: Session, ref: str) -> Reader | None:
    """The active reader a device names by its name or, failing that, by its address."""
    by_name = session.exec(select(Reader).where(Reader.name == ref, Reader.active)).first()
    if by_name is not None:
        return by_name
    return session.exec(
        select(Reader).where(Reader.address == ref, Reader.active).order_by(col(Reader.id))
    ).first()


def _machine_clash(
    session: Session, name: str | None, adapter: str, address: str, me: int | None
) -> None:
    if name is not None:
        same_name = session.exec(select(Machine).where(Machine.name == name)).first()
        if same_name is not None and same_name.id != me:
            raise Conflict(f"a machine named {name!r} exists (machine {same_name.id})")
        # Devices name a machine by name or address: one must not be another's other.
        named = session.exec(
            select(Machine).where(Machine.address == name, Machine.adapter == Adapter.LAB)
        ).first()
        if named is not None and named.id != me:
            raise Conflict(
                f"the name {name!r} is the address of machine {named.id}: devices name "
                "machines by name or address, so choose another",
                {"machine_id": named.id},
            )
    if adapter == Adapter.LAB:
        other = session.exec(select(Machine).where(Machine.name == address)).first()
        if other is not None and other.id != me:
            raise Conflict(
                f"the address {address!r} is the name of machine {other.id}: devices name "
                "machines by name or address, so choose another",
                {"machine_id": other.id},
            )
    same_address = session.exec(
        select(Machine).where(Machine.adapter == adapter, Machine.address == address)
    ).first()
    if same_address is not None and same_address.id != me:
        raise Conflict(
            f"machine {same_address.id} already uses adapter {adapter} at this address",
            {"machine_id": same_address.id},
        )


def _check_interlock(interlock: str | None, address: str | None) -> None:
    """An interlock needs an address that fits it; an address needs an interlock."""
    if interlock is None and address is None:
        return
    if interlock is None or address is None:
        raise InvalidInput(
            "interlock and interlock_address go together",
            {"fields": ["interlock", "interlock_address"]},
        )
    try:
        check_address(interlock, address)
    except ValueError as exc:
        raise InvalidInput(str(exc), {"field": "interlock_address"}) from None


def _trackable(problem: SettingProblem | None) -> None:
    """A setting the ingest router would refuse is refused here, naming the field."""
    if problem is not None:
        raise InvalidInput(problem.message, {"field": problem.field})


def machine_settings(row: Machine) -> MachineSettings:
    """The settings of a machine row that decide how it is listened to."""
    return MachineSettings(
        adapter=row.adapter,
        address=row.address,
        running_threshold_w=row.running_threshold_w,
        run_start_after_s=row.run_start_after_s,
        run_stop_after_s=row.run_stop_after_s,
    )


def create_machine(session: Session, data: MachineCreate) -> Machine:
    """Add a machine credited to its provider."""
    _active_contributor(session, data.provider_id)
    _machine_clash(session, data.name, data.adapter, data.address, None)
    _check_interlock(data.interlock, data.interlock_address)
    row = Machine(**data.model_dump())
    _trackable(machine_problem(machine_settings(row)))
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(MachineStatus(machine_id=row.id))
    _commit(session, "a machine with this name or address exists")
    return row


def update_machine(session: Session, row: Machine, data: MachineUpdate) -> Machine:
    """Change a machine's details."""
    if data.provider_id is not None:
        _active_contributor(session, data.provider_id)
    _machine_clash(
        session, data.name, data.adapter or row.adapter, data.address or row.address, row.id
    )
    apply_update(
        row,
        data,
        nullable={"running_threshold_w", "interlock", "interlock_address", "max_session_s"},
    )
    _check_interlock(row.interlock, row.interlock_address)
    _trackable(machine_problem(machine_settings(row)))
    _commit(session, "a machine with this name or address exists")
    return row


def deactivate_machine(session: Session, row: Machine) -> Machine:
    """Stop listening to a machine; its runs stay."""
    row.active = False
    row.updated_at = utcnow()
    session.commit()
    return row


# --- readers ------------------------------------------------------------------


def _reader_checks(
    session: Session, name: str | None, address: str | None, machine_id: int | None, me: int | None
) -> None:
    if machine_id is not None:
        get_or_404(session, Machine, machine_id)
    if name is not None:
        same = session.exec(select(Reader).where(Reader.name == name)).first()
        if same is not None and same.id != me:
            raise Conflict(f"a reader named {name!r} exists (reader {same.id})")
    # Devices name a reader by name or address: one must not be another reader's other.
    for value, field, other_column in (
        (name, "name", col(Reader.address)),
        (address, "address", col(Reader.name)),
    ):
        if value is None:
            continue
        other = session.exec(select(Reader).where(other_column == value)).first()
        if other is not None and other.id != me:
            raise Conflict(
                f"{value!r} is already reader {other.id}'s name or address: devices name "
                "readers by either, so choose another",
                {"reader_id": other.id, "field": field},
            )


def create_reader(session: Session, data: ReaderCreate) -> Reader:
    """Add a reader bound to a machine, or to the door when no machine is given."""
    _reader_checks(session, data.name, data.address, data.machine_id, None)
    row = Reader(**data.model_dump())
    _trackable(reader_problem(row.protocol, row.address, row.name))
    session.add(row)
    _commit(session, "a reader with this name exists")
    return row


def update_reader(session: Session, row: Reader, data: ReaderUpdate) -> Reader:
    """Rebind or rename a reader."""
    _reader_checks(session, data.name, data.address, data.machine_id, row.id)
    apply_update(row, data, nullable={"machine_id", "address", "product_id"})
    _trackable(reader_problem(row.protocol, row.address, row.name))
    _commit(session, "a reader with this name exists")
    return row


def deactivate_reader(session: Session, row: Reader) -> Reader:
    """Stop listening to a reader."""
    row.active = False
    row.updated_at = utcnow()
    session.commit()
    return row
