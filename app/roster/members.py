"""Contributors and their badges: export, and an import planned row by row.

A row is the contributor with the same email (when the row has one), else the
only active contributor with the same name; otherwise a new contributor. An
empty cell leaves a field as it is. Badges listed are enrolled when missing;
badges not listed are left alone (revoke them in the API).
"""

from __future__ import annotations

from functools import partial

from pydantic import ValidationError
from sqlmodel import Session, col, select

from app.errors import InvalidInput
from app.lab import service
from app.lab.models import (
    Badge,
    BadgeCreate,
    BadgeStatus,
    Contributor,
    ContributorCreate,
    ContributorUpdate,
)
from app.roster.table import Plan, Row, invalid, read_rows, write_rows

COLUMNS = ("name", "email", "display_name", "role", "badges", "payout_details")
REQUIRED = ("name",)
_FIELDS = ("email", "display_name", "role", "payout_details")


def export_members(db: Session) -> str:
    """Every active contributor (not the commons fund) with their active badges, as CSV."""
    people = db.exec(
        select(Contributor)
        .where(Contributor.active, col(Contributor.is_commons_fund).is_(False))
        .order_by(col(Contributor.id))
    ).all()
    badges: dict[int, list[str]] = {}
    for badge in db.exec(
        select(Badge).where(Badge.status == BadgeStatus.ACTIVE).order_by(col(Badge.id))
    ).all():
        badges.setdefault(badge.contributor_id, []).append(badge.card_id)
    return write_rows(
        COLUMNS,
        (
            {
                "name": person.name,
                "email": person.email,
                "display_name": person.display_name,
                "role": person.role,
                "badges": " ".join(badges.get(person.id or 0, [])),
                "payout_details": person.payout_details,
            }
            for person in people
        ),
    )


def _cards(row: Row, plan: Plan) -> list[str]:
    cards = []
    for text in (row.get("badges") or "").replace(";", " ").replace(",", " ").split():
        try:
            cards.append(service.canonical_card_id(text))
        except InvalidInput:
            plan.problems.append(f"row {row.number}: badge {text!r} is not a card number")
    return cards


def _match(db: Session, data: ContributorCreate, row: Row, plan: Plan) -> Contributor | None:
    if data.email:
        by_email = db.exec(
            select(Contributor).where(Contributor.email == data.email, Contributor.active)
        ).first()
        if by_email is not None:
            return by_email
    named = db.exec(
        select(Contributor).where(Contributor.name == data.name, Contributor.active)
    ).all()
    if len(named) > 1:
        plan.problems.append(
            f"row {row.number}: {len(named)} contributors are named {data.name!r}; "
            "add their email to the row to say which"
        )
    if named and named[0].is_commons_fund:
        plan.problems.append(f"row {row.number}: the commons fund is not a member")
        return None
    return named[0] if len(named) == 1 else None


def plan_members(db: Session, text: str) -> Plan:
    """What importing this members CSV would change; nothing is written."""
    plan = Plan()
    seen_people: dict[str, int] = {}
    seen_cards: dict[str, int] = {}
    for row in read_rows(text, COLUMNS, REQUIRED, plan):
        try:
            data = ContributorCreate.model_validate(
                {k: v for k, v in row.cells.items() if k != "badges"}
            )
        except ValidationError as error:
            plan.problems.append(invalid(row, error))
            continue
        key = (data.email or data.name).casefold()
        if key in seen_people:
            plan.problems.append(f"row {row.number}: same person as row {seen_people[key]}")
            continue
        seen_people[key] = row.number
        cards = _cards(row, plan)
        for card in cards:
            if card in seen_cards:
                plan.problems.append(
                    f"row {row.number}: badge {card} is also on row {seen_cards[card]}"
                )
            seen_cards.setdefault(card, row.number)
        existing = _match(db, data, row, plan)
        _plan_person(db, plan, row, data, existing, cards)
    return plan


def _plan_person(
    db: Session,
    plan: Plan,
    row: Row,
    data: ContributorCreate,
    existing: Contributor | None,
    cards: list[str],
) -> None:
    holder: dict[str, int] = {}
    before = len(plan.changes)
    if existing is None:
        plan.change(
            f"row {row.number}: add contributor {data.name!r}",
            lambda s: holder.update(id=_id(service.create_contributor(s, data))),
        )
    else:
        assert existing.id is not None
        holder["id"] = existing.id
        given = {f: row.get(f) for f in _FIELDS if row.get(f) is not None}
        update = ContributorUpdate(name=data.name, **{f: getattr(data, f) for f in given})
        changed = [
            f for f, v in update.model_dump(exclude_unset=True).items() if getattr(existing, f) != v
        ]
        if changed:
            plan.change(
                f"row {row.number}: update contributor {existing.id} {existing.name!r}: "
                + ", ".join(changed),
                lambda s: _update(s, holder["id"], update),
            )
    new_cards = _new_cards(db, plan, row, existing, cards)
    for card in new_cards:
        plan.change(
            f"row {row.number}: enrol badge {card} for {data.name!r}",
            partial(_enrol, card=card, holder=holder),
        )
    if len(plan.changes) == before:
        plan.unchanged += 1


def _new_cards(
    db: Session, plan: Plan, row: Row, existing: Contributor | None, cards: list[str]
) -> list[str]:
    new = []
    for card in cards:
        badge = db.exec(select(Badge).where(Badge.card_id == card)).first()
        if badge is None:
            new.append(card)
        elif existing is None or badge.contributor_id != existing.id:
            plan.problems.append(
                f"row {row.number}: badge {card} is enrolled to contributor "
                f"{badge.contributor_id} (badge {badge.id}); move it with PATCH /api/v1/badges/"
                f"{badge.id} first"
            )
        elif badge.status != BadgeStatus.ACTIVE:
            plan.problems.append(
                f"row {row.number}: badge {card} is revoked (badge {badge.id}); reinstate it "
                f"with PATCH /api/v1/badges/{badge.id}"
            )
    return new


def _enrol(db: Session, card: str, holder: dict[str, int]) -> None:
    service.enrol_badge(db, BadgeCreate(card_id=card, contributor_id=holder["id"]))


def _id(row: Contributor) -> int:
    assert row.id is not None
    return row.id


def _update(db: Session, contributor_id: int, update: ContributorUpdate) -> None:
    row = db.get(Contributor, contributor_id)
    assert row is not None
    service.update_contributor(db, row, update)
