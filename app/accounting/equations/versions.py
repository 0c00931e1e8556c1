"""Versions of products' value equations: add one, find the one in force, show them.

A product's versions are numbered 1, 2, ... in the order they are added and are
never edited; a change is a new version. The version in force at a moment is
the highest-numbered one whose `effective_from` is at or before it, so a newer
version supersedes older ones from its effective date on. With none in force,
the engine's `DEFAULT_EQUATION` applies, as version 0.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.accounting.engine.equation import (
    COMMONS_FUND,
    DEFAULT_EQUATION,
    Bucket,
    Equation,
    Rates,
)
from app.accounting.engine.snapshots import equation_from_json, equation_to_json
from app.accounting.equations.tables import (
    BucketIn,
    BucketOut,
    EquationCreate,
    EquationPublic,
    RatesIn,
    RatesOut,
    ValueEquation,
)
from app.accounting.money import format_minor, to_minor
from app.accounting.products.tables import Product
from app.db import UTCDateTime, utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.lab.models import Contributor, Machine

DEFAULT_VERSION = DEFAULT_EQUATION.version


@dataclass(frozen=True, slots=True)
class EquationRecord:
    """An equation with what is stored beside it: when it takes effect and its caps' currency."""

    equation: Equation
    effective_from: datetime | None
    cap_currency: str | None
    note: str = ""
    created_at: datetime | None = None
    created_by: str | None = None


_DEFAULT = EquationRecord(DEFAULT_EQUATION, None, None, "the built-in default equation")


def _record(row: ValueEquation) -> EquationRecord:
    """The equation a stored row holds."""
    return EquationRecord(
        equation_from_json(json.loads(row.body)),
        row.effective_from,
        row.cap_currency,
        row.note,
        row.created_at,
        row.created_by,
    )


@functools.lru_cache(maxsize=256)
def _equation(body: str) -> Equation:
    """A stored equation body parsed (versions are never edited, and an Equation is frozen)."""
    return equation_from_json(json.loads(body))


_IN_FORCE = (
    core_select(
        col(ValueEquation.body),
        col(ValueEquation.effective_from),
        col(ValueEquation.cap_currency),
        col(ValueEquation.note),
        col(ValueEquation.created_at),
        col(ValueEquation.created_by),
    )
    .where(
        col(ValueEquation.product_id) == bindparam("product_id"),
        col(ValueEquation.effective_from) <= bindparam("at", type_=UTCDateTime),
    )
    .order_by(col(ValueEquation.version).desc())
    .limit(1)
)


def record_in_force(db: Session, product_id: int, at: datetime) -> EquationRecord:
    """The product's equation in force at `at`, with its effective date and cap currency.

    Every sale line asks this: one prepared statement, columns only, and each stored
    body parsed once per process.
    """
    row = db.execute(_IN_FORCE, {"product_id": product_id, "at": at}).first()
    if row is None:
        return _DEFAULT
    body, effective_from, cap_currency, note, created_at, created_by = row
    return EquationRecord(
        _equation(body), effective_from, cap_currency, note, created_at, created_by
    )


def record_version(db: Session, product_id: int, version: int) -> EquationRecord:
    """One version of the product's equation (0: the default), or NotFound."""
    if version == DEFAULT_VERSION:
        return _DEFAULT
    row = db.exec(
        select(ValueEquation).where(
            ValueEquation.product_id == product_id, ValueEquation.version == version
        )
    ).first()
    if row is None:
        raise NotFound(
            f"product {product_id} has no equation version {version}",
            {"product_id": product_id, "version": version},
        )
    return _record(row)


def equation_in_force(db: Session, product_id: int, at: datetime) -> Equation:
    """The product's equation in force at `at` (the default, version 0, when none is)."""
    return record_in_force(db, product_id, at).equation


def equation_version(db: Session, product_id: int, version: int) -> Equation:
    """One version of the product's equation (0: the default), or NotFound."""
    return record_version(db, product_id, version).equation


def list_records(db: Session, product_id: int) -> list[EquationRecord]:
    """Every stored version of the product's equation, oldest first."""
    rows = db.exec(
        select(ValueEquation)
        .where(ValueEquation.product_id == product_id)
        .order_by(col(ValueEquation.version))
    ).all()
    return [_record(row) for row in rows]


# --- building an equation from a request --------------------------------------


def _rates(data: RatesIn) -> Rates:
    """Engine rates from the request, defaults where a rate is left out."""
    base = DEFAULT_EQUATION.rates

    def rate(text: str | None, default: Fraction) -> Fraction:
        return default if text is None else Fraction(text)

    return Rates(
        labour_per_hour=rate(data.labour_per_hour, base.labour_per_hour),
        labour_by_role={k: Fraction(v) for k, v in data.labour_by_role.items()},
        machine_per_hour=rate(data.machine_per_hour, base.machine_per_hour),
        machine_by_id={k: Fraction(v) for k, v in data.machine_by_id.items()},
        machine_by_kind={k.value: Fraction(v) for k, v in data.machine_by_kind.items()},
        money_per_major_unit=rate(data.money_per_major_unit, base.money_per_major_unit),
        materials_per_major_unit=rate(data.materials_per_major_unit, base.materials_per_major_unit),
        design_per_hour=rate(data.design_per_hour, base.design_per_hour),
        documentation_per_hour=rate(data.documentation_per_hour, base.documentation_per_hour),
        citation_mode=data.citation_mode,
    )


def _recipient(db: Session, bucket: BucketIn, where: str) -> int | None:
    """The engine's recipient id for a bucket: None (contributors), COMMONS_FUND or a person."""
    if bucket.paid_to != "contributor":
        if bucket.contributor_id is not None:
            raise InvalidInput(
                f"{where}: contributor_id goes only with paid_to 'contributor'", {"field": where}
            )
        return None if bucket.paid_to == "contributors" else COMMONS_FUND
    if bucket.contributor_id is None:
        raise InvalidInput(f"{where}: paid_to 'contributor' needs a contributor_id")
    if db.get(Contributor, bucket.contributor_id) is None:
        raise InvalidInput(
            f"{where}: contributor {bucket.contributor_id} does not exist", {"field": where}
        )
    return bucket.contributor_id


def _bucket(db: Session, bucket: BucketIn, index: int, cap_currency: str | None) -> Bucket:
    """One engine bucket, its problems reported with its position."""
    where = f"buckets[{index}]"
    recipient = _recipient(db, bucket, where)
    cap_minor = None
    if bucket.cap is not None:
        if cap_currency is None:
            raise InvalidInput(
                f"{where}: a cap needs the equation's cap_currency", {"field": where}
            )
        cap_minor = to_minor(bucket.cap, cap_currency)
    try:
        return Bucket(
            name=bucket.name,
            mode=bucket.mode,
            percent=Fraction(bucket.percent),
            recipient_id=recipient,
            kinds=None if bucket.kinds is None else frozenset(bucket.kinds),
            cap_minor=cap_minor,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: {exc}", {"field": where}) from None


def build_equation(db: Session, data: EquationCreate, version: int) -> Equation:
    """The engine's equation for a request, or InvalidInput naming what is wrong."""
    unknown = sorted(i for i in data.rates.machine_by_id if db.get(Machine, i) is None)
    if unknown:
        raise InvalidInput(
            f"rates.machine_by_id: no machine {unknown[0]}", {"field": "rates.machine_by_id"}
        )
    if data.cap_currency is not None and all(b.cap is None for b in data.buckets):
        raise InvalidInput("cap_currency is given but no bucket has a cap")
    try:
        rates = _rates(data.rates)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"rates: {exc}", {"field": "rates"}) from None
    buckets = tuple(_bucket(db, b, i, data.cap_currency) for i, b in enumerate(data.buckets))
    try:
        return Equation(version=version, rates=rates, buckets=buckets)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"buckets: {exc}", {"field": "buckets"}) from None


def add_version(
    db: Session, product_id: int, data: EquationCreate, created_by: str | None
) -> EquationRecord:
    """Store a new version (the highest so far plus one) of the product's equation."""
    latest = db.exec(
        select(func.max(ValueEquation.version)).where(ValueEquation.product_id == product_id)
    ).one()
    version = (latest or DEFAULT_VERSION) + 1
    equation = build_equation(db, data, version)
    row = ValueEquation(
        product_id=product_id,
        version=version,
        effective_from=data.effective_from,
        body=json.dumps(equation_to_json(equation), sort_keys=True),
        cap_currency=data.cap_currency,
        note=data.note,
        created_by=created_by,
    )
    db.add(row)
    # Sales keep a product's equations behind its updated_at (`sales.catalogue`): bump it here.
    db.execute(update(Product).where(col(Product.id) == product_id).values(updated_at=utcnow()))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        raise Conflict(
            f"another version of product {product_id}'s equation was added at the same time; "
            "read the versions and try again"
        ) from None
    return _record(row)


# --- showing an equation -------------------------------------------------------


def fraction_text(value: Fraction) -> str:
    """A Fraction as exact decimal text ("0.5"), or "n/d" when it has no finite decimal form."""
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return f"{value.numerator}/{value.denominator}"
    digits = max(twos, fives)
    scaled = abs(value.numerator) * (10**digits // value.denominator)
    sign = "-" if value < 0 else ""
    text = str(scaled).rjust(digits + 1, "0")
    if digits == 0:
        return sign + text
    return f"{sign}{text[:-digits]}.{text[-digits:]}"


def _rates_out(rates: Rates) -> RatesOut:
    """Rates as decimal strings."""
    return RatesOut(
        labour_per_hour=fraction_text(rates.labour_per_hour),
        labour_by_role={k: fraction_text(v) for k, v in sorted(rates.labour_by_role.items())},
        machine_per_hour=fraction_text(rates.machine_per_hour),
        machine_by_id={k: fraction_text(v) for k, v in sorted(rates.machine_by_id.items())},
        machine_by_kind={k: fraction_text(v) for k, v in sorted(rates.machine_by_kind.items())},
        money_per_major_unit=fraction_text(rates.money_per_major_unit),
        materials_per_major_unit=fraction_text(rates.materials_per_major_unit),
        design_per_hour=fraction_text(rates.design_per_hour),
        documentation_per_hour=fraction_text(rates.documentation_per_hour),
        citation_mode=rates.citation_mode,
    )


def _bucket_out(bucket: Bucket, cap_currency: str | None) -> BucketOut:
    """A bucket in the request's vocabulary (paid_to), its cap in minor units and as text."""
    if bucket.recipient_id is None:
        paid_to, contributor_id = "contributors", None
    elif bucket.recipient_id == COMMONS_FUND:
        paid_to, contributor_id = "commons_fund", None
    else:
        paid_to, contributor_id = "contributor", bucket.recipient_id
    cap = None
    if bucket.cap_minor is not None and cap_currency is not None:
        cap = format_minor(bucket.cap_minor, cap_currency)
    return BucketOut(
        name=bucket.name,
        mode=bucket.mode,
        percent=fraction_text(bucket.percent),
        paid_to=paid_to,
        contributor_id=contributor_id,
        kinds=None if bucket.kinds is None else sorted(bucket.kinds),
        cap_minor=bucket.cap_minor,
        cap=cap,
    )


def to_public(product_id: int, record: EquationRecord) -> EquationPublic:
    """An equation version as the API shows it."""
    equation = record.equation
    return EquationPublic(
        product_id=product_id,
        version=equation.version,
        effective_from=record.effective_from,
        rates=_rates_out(equation.rates),
        buckets=[_bucket_out(b, record.cap_currency) for b in equation.buckets],
        cap_currency=record.cap_currency,
        note=record.note,
        created_at=record.created_at,
        created_by=record.created_by,
    )
