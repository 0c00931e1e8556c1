"""The value equation as data: contribution kinds, rates, buckets, and the points they give.

Units of a contribution's `quantity`, by kind:

- `labour`, `machine`, `design`, `documentation`: hours.
- `money`, `materials`: minor units of the currency the sale is booked in
  (the caller converts other currencies first); the rate is per major unit.
- `citation`: depends on `Rates.citation_mode`.
  `"points"`: the quantity is the points credited, as they are.
  `"percent"`: the quantity is a percentage p of the product's total points.
  With B the points of every non-citation contribution counted by the bucket
  and P the sum of all citation percentages counted, a citation of p gets
  B * p / (100 - P) points, so that it holds exactly p % of the total
  B * 100 / (100 - P). P must stay below 100; with B = 0 citations get nothing
  (a citation is a share of others' work, and there is none).

Quantities must not be negative: corrections are made by not approving (or by
retracting) a contribution, not by negative ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal

from app.accounting.engine.allocation import ScaledFractions, exact_fraction

__all__ = [
    "COMMONS_FUND",
    "DEFAULT_EQUATION",
    "REST_BUCKET",
    "Bucket",
    "BucketMode",
    "CitationMode",
    "ContributionInput",
    "ContributionKind",
    "Equation",
    "PointsTable",
    "Rates",
    "points_by_contributor",
]

#: `Bucket.recipient_id` meaning "the commons fund given to `compute_split`":
#: an equation is written before it is known which contributor row the fund is.
COMMONS_FUND: Final = 0

#: Name under which what no bucket takes is reported; buckets may not use it.
REST_BUCKET: Final = "rest"

BucketMode = Literal["straight", "remaining"]
CitationMode = Literal["points", "percent"]

_HUNDRED: Final = Fraction(100)


class ContributionKind(StrEnum):
    """What a contribution is; the unit of its quantity is in the module docstring."""

    LABOUR = "labour"
    MACHINE = "machine"
    MONEY = "money"
    MATERIALS = "materials"
    DESIGN = "design"
    DOCUMENTATION = "documentation"
    CITATION = "citation"


@dataclass(frozen=True, slots=True)
class ContributionInput:
    """One approved contribution to a product, as the split engine needs it."""

    contributor_id: int
    kind: ContributionKind
    quantity: Fraction
    role: str | None = None
    machine_id: int | None = None
    machine_kind: str | None = None

    def __post_init__(self) -> None:
        """Coerce kind and quantity to exact types and refuse nonsense.

        Inputs that already have the exact types (a split reads thousands) are only checked.
        """
        if type(self.kind) is not ContributionKind:
            object.__setattr__(self, "kind", ContributionKind(self.kind))
        quantity = self.quantity
        if type(quantity) is not Fraction:
            quantity = exact_fraction(quantity, "contribution quantity")
            object.__setattr__(self, "quantity", quantity)
        if quantity.numerator < 0:
            raise ValueError(f"contribution quantity is negative ({quantity})")


def _rate(value: object, what: str) -> Fraction:
    rate = exact_fraction(value, what)
    if rate < 0:
        raise ValueError(f"{what} is negative ({rate})")
    return rate


@dataclass(frozen=True, slots=True)
class Rates:
    """Points per unit of each contribution kind, with per-role and per-machine rates."""

    labour_per_hour: Fraction = Fraction(1)
    labour_by_role: Mapping[str, Fraction] = field(default_factory=dict)
    machine_per_hour: Fraction = Fraction(1, 2)
    machine_by_id: Mapping[int, Fraction] = field(default_factory=dict)
    machine_by_kind: Mapping[str, Fraction] = field(default_factory=dict)
    money_per_major_unit: Fraction = Fraction(1)
    materials_per_major_unit: Fraction = Fraction(1)
    design_per_hour: Fraction = Fraction(1)
    documentation_per_hour: Fraction = Fraction(1)
    citation_mode: CitationMode = "points"

    def __post_init__(self) -> None:
        """Make every rate an exact, non-negative Fraction."""
        for name in (
            "labour_per_hour",
            "machine_per_hour",
            "money_per_major_unit",
            "materials_per_major_unit",
            "design_per_hour",
            "documentation_per_hour",
        ):
            object.__setattr__(self, name, _rate(getattr(self, name), name))
        for name in ("labour_by_role", "machine_by_id", "machine_by_kind"):
            table = getattr(self, name)
            object.__setattr__(
                self, name, {key: _rate(v, f"{name}[{key!r}]") for key, v in table.items()}
            )
        if self.citation_mode not in ("points", "percent"):
            raise ValueError(
                f"citation_mode must be 'points' or 'percent', not {self.citation_mode!r}"
            )

    def labour_rate(self, role: str | None) -> Fraction:
        """Points per hour of labour in `role` (the default rate for unknown or no role)."""
        if role is None:
            return self.labour_per_hour
        return self.labour_by_role.get(role, self.labour_per_hour)

    def machine_rate(self, machine_id: int | None, machine_kind: str | None) -> Fraction:
        """Points per machine hour: by machine id, else by machine kind, else the default."""
        if machine_id is not None and machine_id in self.machine_by_id:
            return self.machine_by_id[machine_id]
        if machine_kind is not None and machine_kind in self.machine_by_kind:
            return self.machine_by_kind[machine_kind]
        return self.machine_per_hour


@dataclass(frozen=True, slots=True)
class Bucket:
    """One step of an equation: a percentage paid to a fixed recipient or to contributors.

    `straight` takes `percent` of the whole net amount, `remaining` takes
    `percent` of what the buckets before it left. `recipient_id` None means
    contributors by points (counting only `kinds`, or every kind when None);
    `COMMONS_FUND` means the commons fund. `cap_minor` makes a fixed
    recipient's claim debt-like: it is paid until the cap is reached across
    sales, and whatever the cap stops flows on to the following buckets.
    """

    name: str
    mode: BucketMode
    percent: Fraction
    recipient_id: int | None = None
    kinds: frozenset[ContributionKind] | None = None
    cap_minor: int | None = None

    def __post_init__(self) -> None:
        """Validate the bucket on its own; the equation validates the sequence."""
        if not self.name or self.name == REST_BUCKET:
            raise ValueError(f"bucket name must be non-empty and not {REST_BUCKET!r}")
        if self.mode not in ("straight", "remaining"):
            raise ValueError(f"bucket {self.name!r}: mode must be 'straight' or 'remaining'")
        percent = exact_fraction(self.percent, f"percent of bucket {self.name!r}")
        if not 0 < percent <= _HUNDRED:
            raise ValueError(f"bucket {self.name!r}: percent must be in (0, 100], not {percent}")
        object.__setattr__(self, "percent", percent)
        if self.recipient_id is not None and self.recipient_id < 0:
            raise ValueError(f"bucket {self.name!r}: recipient id must not be negative")
        if self.kinds is not None:
            if self.recipient_id is not None:
                raise ValueError(f"bucket {self.name!r}: only contributor buckets filter kinds")
            kinds = frozenset(ContributionKind(k) for k in self.kinds)
            if not kinds:
                raise ValueError(f"bucket {self.name!r}: an empty kinds filter counts nothing")
            object.__setattr__(self, "kinds", kinds)
        if self.cap_minor is not None:
            if self.recipient_id is None:
                raise ValueError(f"bucket {self.name!r}: only a fixed recipient can have a cap")
            if isinstance(self.cap_minor, bool) or not isinstance(self.cap_minor, int):
                raise TypeError(f"bucket {self.name!r}: cap must be int minor units")
            if self.cap_minor <= 0:
                raise ValueError(f"bucket {self.name!r}: cap must be positive")


@dataclass(frozen=True, slots=True)
class Equation:
    """One version of a product's value equation: rates and an ordered list of buckets.

    What the buckets leave of a sale (they need not consume 100 %) goes to the
    commons fund, reported as the `rest` bucket.
    """

    version: int
    rates: Rates
    buckets: tuple[Bucket, ...]

    def __post_init__(self) -> None:
        """Refuse equations that could pay out more than a sale brings in."""
        # Version 0 is the built-in default; stored versions count from 1.
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise ValueError("equation version must be an int, 0 or more")
        object.__setattr__(self, "buckets", tuple(self.buckets))
        if not self.buckets:
            raise ValueError("an equation needs at least one bucket")
        names = [b.name for b in self.buckets]
        if len(set(names)) != len(names):
            raise ValueError("bucket names must be unique (caps are tracked by name)")
        # Walk a sale of 1 with no cap reached: caps only ever leave more for
        # later buckets, so if nothing goes negative here it never does.
        left = Fraction(1)
        for bucket in self.buckets:
            base = Fraction(1) if bucket.mode == "straight" else left
            left -= base * bucket.percent / _HUNDRED
            if left < 0:
                raise ValueError(
                    f"bucket {bucket.name!r} takes more than the buckets before it leave"
                )


#: Ten percent straight to the commons fund, the remaining 90 % to contributors
#: by points: labour 1 point/h, machine 0.5 point/h, money and materials
#: 1 point per major currency unit, design and documentation 1 point/h,
#: citations counted as points. Its version is 0, so it is never mistaken for
#: a stored version (those count from 1).
DEFAULT_EQUATION: Final = Equation(
    version=0,
    rates=Rates(),
    buckets=(
        Bucket("commons", "straight", Fraction(10), recipient_id=COMMONS_FUND),
        Bucket("contributors", "remaining", Fraction(100)),
    ),
)


def _rate_of(contribution: ContributionInput, rates: Rates, money_scale: int) -> Fraction:
    """Points per unit of one non-citation contribution's quantity."""
    kind = contribution.kind
    if kind is ContributionKind.LABOUR:
        return rates.labour_rate(contribution.role)
    if kind is ContributionKind.MACHINE:
        return rates.machine_rate(contribution.machine_id, contribution.machine_kind)
    if kind is ContributionKind.MONEY:
        return rates.money_per_major_unit / money_scale
    if kind is ContributionKind.MATERIALS:
        return rates.materials_per_major_unit / money_scale
    if kind is ContributionKind.DESIGN:
        return rates.design_per_hour
    if kind is ContributionKind.DOCUMENTATION:
        return rates.documentation_per_hour
    raise ValueError(f"no points rule for kind {kind!r}")


class PointsTable:
    """Every contribution's points, computed once in integers, ready to be summed per bucket.

    Points of each kind are numerators over one common denominator; citations
    are kept apart because in `"percent"` mode they depend on the bucket's
    other points.
    """

    __slots__ = ("_by_kind", "_citations", "_mode", "denominator")

    def __init__(
        self,
        contributions: Iterable[ContributionInput],
        rates: Rates,
        *,
        currency_exponent: int,
    ) -> None:
        """Compute the points of `contributions` under `rates`."""
        if not 0 <= currency_exponent <= 6 or isinstance(currency_exponent, bool):
            raise ValueError(f"currency exponent {currency_exponent} is out of range")
        money_scale = 10**currency_exponent
        rate_cache: dict[tuple[object, ...], Fraction] = {}
        # (kind, denominator of quantity x rate) -> contributor -> numerator
        parts: dict[tuple[ContributionKind, int], dict[int, int]] = {}
        citations: list[tuple[int, Fraction]] = []
        citation = ContributionKind.CITATION
        for contribution in contributions:
            kind = contribution.kind
            if kind is citation:
                citations.append((contribution.contributor_id, contribution.quantity))
                continue
            key = (kind, contribution.role, contribution.machine_id, contribution.machine_kind)
            rate = rate_cache.get(key)
            if rate is None:
                rate = rate_cache[key] = _rate_of(contribution, rates, money_scale)
            num, den = contribution.quantity.as_integer_ratio()
            den *= rate.denominator
            table = parts.get((kind, den))
            if table is None:
                table = parts[(kind, den)] = {}
            cid = contribution.contributor_id
            table[cid] = table.get(cid, 0) + num * rate.numerator
        denominator = math.lcm(*{den for _, den in parts}) if parts else 1
        by_kind: dict[ContributionKind, dict[int, int]] = {}
        for (kind, den), table in parts.items():
            factor = denominator // den
            merged = by_kind.get(kind)
            if merged is None:
                by_kind[kind] = {cid: n * factor for cid, n in table.items()}
                continue
            get = merged.get
            for cid, num in table.items():
                merged[cid] = get(cid, 0) + num * factor
        self._by_kind = by_kind
        self._citations = citations
        self._mode = rates.citation_mode
        self.denominator = denominator

    def points(self, kinds_filter: frozenset[ContributionKind] | None = None) -> ScaledFractions:
        """Points per contributor (only those above zero), counting only `kinds_filter` if given."""
        tables = [
            table
            for kind, table in self._by_kind.items()
            if kinds_filter is None or kind in kinds_filter
        ]
        summed: dict[int, int] = dict(tables[0]) if tables else {}
        for table in tables[1:]:
            get = summed.get
            for cid, num in table.items():
                summed[cid] = get(cid, 0) + num
        denominator = self.denominator
        citations = [
            (cid, quantity)
            for cid, quantity in self._citations
            if kinds_filter is None or ContributionKind.CITATION in kinds_filter
        ]
        if citations:
            summed, denominator = self._with_citations(summed, citations)
        return ScaledFractions({cid: n for cid, n in summed.items() if n > 0}, denominator)

    def _with_citations(
        self, summed: dict[int, int], citations: list[tuple[int, Fraction]]
    ) -> tuple[dict[int, int], int]:
        """Add citation points (module doc) to `summed`; return numerators and denominator."""
        if self._mode == "points":
            shares = [(cid, quantity) for cid, quantity in citations]
            base = 0
        else:
            claimed = sum((quantity for _, quantity in citations), Fraction(0))
            if claimed >= _HUNDRED:
                raise ValueError(
                    f"citations claim {claimed} % of the points; they must stay below 100"
                )
            base = sum(summed.values())
            shares = [(cid, quantity / (_HUNDRED - claimed)) for cid, quantity in citations]
        extra = math.lcm(*{share.denominator for _, share in shares})
        denominator = self.denominator * extra
        result = {cid: n * extra for cid, n in summed.items()}
        for cid, share in shares:
            scaled = share.numerator * (extra // share.denominator)
            # "points": quantity points; "percent": base (over the old denominator) * share.
            add = scaled * self.denominator if self._mode == "points" else scaled * base
            result[cid] = result.get(cid, 0) + add
        return result, denominator


def points_by_contributor(
    contributions: Iterable[ContributionInput],
    rates: Rates,
    kinds_filter: frozenset[ContributionKind] | None = None,
    *,
    currency_exponent: int,
) -> dict[int, Fraction]:
    """Points per contributor (only those above zero), counting only `kinds_filter` if given.

    `currency_exponent` is that of the currency money and materials are given in.
    """
    table = PointsTable(contributions, rates, currency_exponent=currency_exponent)
    return dict(table.points(kinds_filter).items())
