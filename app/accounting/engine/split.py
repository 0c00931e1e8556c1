"""Run a sale's net amount through a value equation, and reverse it for refunds.

How a sale of N minor units is split (all exact Fractions until the last step):

1. Buckets in order: `straight` claims N * p / 100, `remaining` claims
   p / 100 of what the buckets before it left. A capped bucket takes
   min(claim, cap - paid so far); what the cap stops stays in "what is left",
   so it flows on to the following buckets (and from there to the rest).
2. What the buckets leave goes to the commons fund as the `rest` bucket.
3. The exact bucket amounts are rounded to integers together by largest
   remainder with each bucket's carry (ties to the earlier bucket), so they
   sum to N. A capped bucket is never owed more than its cap leaves (the
   excess of its carry moves to the rest bucket), so a cap is never overshot.
4. Fixed recipients take their bucket whole. A contributor bucket is divided
   by points (counting its kinds) with the allocation of `allocation`, and the
   carry of that bucket's recipients; a contributor bucket where nobody has
   points goes to the commons fund.

Carry scope: a `Carry` per product (and currency): one carry per bucket and
one per recipient of each contributor bucket. It is handed back as
`carry_after`, to be stored with the product and passed to its next split.
While the equation and points stay the same, many small sales then add up,
bucket by bucket and recipient by recipient, to exactly what one sale of
their sum gives (see `allocation`).

A refund is never a negative sale: `reverse_split` reverses the recorded split
cell by cell (bucket x recipient) in the same proportions. Splits with a
negative net are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from app.accounting.engine.allocation import (
    ScaledFractions,
    allocate_largest_remainder,
    allocate_scaled,
)
from app.accounting.engine.equation import (
    COMMONS_FUND,
    REST_BUCKET,
    ContributionInput,
    ContributionKind,
    Equation,
    PointsTable,
)

__all__ = [
    "LEGACY_CARRY",
    "BucketShare",
    "Carry",
    "SplitResult",
    "compare_splits",
    "compute_split",
    "reverse_split",
]

_HUNDRED: Final = Fraction(100)


#: Key of `Carry.recipients` for a carry stored before carries were kept per
#: bucket (one map threaded through every contributor bucket): it is read as
#: the carry of the first contributor bucket that has none of its own.
LEGACY_CARRY: Final = "*"


@dataclass(frozen=True, slots=True)
class Carry:
    """What rounding owes (or over-paid), per bucket and per recipient of contributor buckets.

    `buckets` is keyed by bucket name (the `rest` bucket included);
    `recipients` by contributor bucket name, then contributor id. A carry of a
    bucket or id that a split does not use is kept as it is.
    """

    buckets: Mapping[str, Fraction] = field(default_factory=dict)
    recipients: Mapping[str, Mapping[int, Fraction]] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Carry | Mapping[int, Fraction] | None) -> Carry:
        """A Carry from itself, from a legacy id -> Fraction map, or from nothing."""
        if value is None:
            return cls()
        if isinstance(value, Carry):
            return value
        return cls({}, {LEGACY_CARRY: dict(value)} if value else {})

    def is_empty(self) -> bool:
        """Whether no bucket and no recipient carries anything."""
        return not any(self.buckets.values()) and not any(
            any(m.values()) for m in self.recipients.values()
        )


@dataclass(frozen=True, slots=True)
class BucketShare:
    """What one bucket took from a split and to whom it went.

    `claim` is the exact amount before any cap, `exact` what the bucket took,
    `amount_minor` its rounded amount; `points` are the weights used by a
    contributor bucket (None for a fixed recipient); `to_commons` marks a
    contributor bucket that went to the commons fund for lack of points, and
    the `rest` bucket.
    """

    name: str
    recipient_id: int | None
    claim: Fraction
    exact: Fraction
    amount_minor: int
    shares: dict[int, int]
    points: Mapping[int, Fraction] | None
    to_commons: bool


@dataclass(frozen=True, slots=True)
class SplitResult:
    """A split of one sold line (or a reversal of one), with the snapshot it was made from.

    `shares` sum exactly to `net_minor` and omit zeros. `cap_payments` is what
    this split paid towards each capped bucket's cap (negative in a reversal);
    add it to the stored progress. A reversal leaves the product's carry
    alone: its carries are empty and must not be stored.
    """

    equation_version: int
    net_minor: int
    shares: dict[int, int]
    buckets: tuple[BucketShare, ...]
    points: Mapping[int, Fraction]
    carry_before: Carry
    carry_after: Carry
    cap_payments: dict[str, int]
    is_reversal: bool = False


def _add(target: dict[int, int], source: Mapping[int, int]) -> None:
    if not target:
        target.update(source)
        return
    get = target.get
    for cid, amount in source.items():
        target[cid] = get(cid, 0) + amount


def _merge(target: dict[int, int], source: Mapping[int, int]) -> dict[int, int]:
    """Add `source` into `target`; return `source` without its zeros."""
    non_zero = {cid: amount for cid, amount in source.items() if amount}
    _add(target, non_zero)
    return non_zero


def _non_zero(shares: Mapping[int, int]) -> dict[int, int]:
    return {cid: amount for cid, amount in shares.items() if amount != 0}


def _bucket_amounts(
    net_minor: int, equation: Equation, paid_so_far: Mapping[str, int]
) -> tuple[list[Fraction], list[Fraction]]:
    """Each bucket's exact claim and take, the rest last (step 1 and 2 of the module doc)."""
    claims: list[Fraction] = []
    taken: list[Fraction] = []
    left = Fraction(net_minor)
    for bucket in equation.buckets:
        base = Fraction(net_minor) if bucket.mode == "straight" else left
        claim = base * bucket.percent / _HUNDRED
        take = claim
        if bucket.cap_minor is not None:
            take = min(claim, Fraction(max(0, bucket.cap_minor - paid_so_far.get(bucket.name, 0))))
        claims.append(claim)
        taken.append(take)
        left -= take
    claims.append(left)
    taken.append(left)
    return claims, taken


def _round_buckets(
    net_minor: int,
    names: list[str],
    taken: list[Fraction],
    room: Mapping[int, int],
    carry: Carry,
) -> tuple[list[int], dict[str, Fraction]]:
    """Round the exact bucket amounts together with the bucket carries (step 3).

    `room` is what each capped bucket may still take. A capped bucket is never
    owed more than that: the part of its carry above it moves to the rest
    bucket (the last), so rounding can never overshoot a cap.
    """
    weights = ScaledFractions.of(dict(enumerate(taken)))
    before = {i: carry.buckets[name] for i, name in enumerate(names) if name in carry.buckets}
    rest = len(names) - 1
    for i, limit in room.items():
        excess = before.get(i, Fraction(0)) + taken[i] - limit
        if excess > 0:
            before[i] = before.get(i, Fraction(0)) - excess
            before[rest] = before.get(rest, Fraction(0)) + excess
    if sum(weights.numerators.values()) == 0:
        return [0] * len(names), dict(carry.buckets)
    result = allocate_scaled(net_minor, weights.numerators, ScaledFractions.of(before))
    after = dict(carry.buckets)
    for i, name in enumerate(names):
        after[name] = result.carry[i]
    return [result.shares[i] for i in range(len(names))], after


def compute_split(
    net_minor: int,
    currency_exponent: int,
    equation: Equation,
    contributions: Sequence[ContributionInput],
    commons_fund_id: int,
    cap_paid_so_far: Mapping[str, int] | None = None,
    carry: Carry | Mapping[int, Fraction] | None = None,
) -> SplitResult:
    """Split `net_minor` (>= 0) of a product's sale among recipients by `equation`."""
    if isinstance(net_minor, bool) or not isinstance(net_minor, int):
        raise TypeError("net_minor must be an int of minor units")
    if net_minor < 0:
        raise ValueError("a split needs a net amount of zero or more; refunds use reverse_split")
    paid_so_far = dict(cap_paid_so_far or {})
    if any(paid < 0 for paid in paid_so_far.values()):
        raise ValueError("amounts paid towards a cap cannot be negative")
    carry_before = Carry.of(carry)

    claims, taken = _bucket_amounts(net_minor, equation, paid_so_far)
    names = [bucket.name for bucket in equation.buckets] + [REST_BUCKET]
    room = {
        i: max(0, bucket.cap_minor - paid_so_far.get(bucket.name, 0))
        for i, bucket in enumerate(equation.buckets)
        if bucket.cap_minor is not None
    }
    rounded, bucket_carry = _round_buckets(net_minor, names, taken, room, carry_before)
    table = PointsTable(contributions, equation.rates, currency_exponent=currency_exponent)

    shares: dict[int, int] = {}
    buckets: list[BucketShare] = []
    cap_payments: dict[str, int] = {}
    recipient_carry: dict[str, Mapping[int, Fraction]] = dict(carry_before.recipients)
    legacy = recipient_carry.pop(LEGACY_CARRY, None)
    points_cache: dict[frozenset[ContributionKind] | None, ScaledFractions] = {}
    for index, bucket in enumerate(equation.buckets):
        amount = rounded[index]
        if bucket.cap_minor is not None:
            cap_payments[bucket.name] = amount
        points: ScaledFractions | None = None
        to_commons = False
        if bucket.recipient_id is not None:
            recipient = (
                commons_fund_id if bucket.recipient_id == COMMONS_FUND else bucket.recipient_id
            )
            bucket_shares: Mapping[int, int] = {recipient: amount}
        else:
            recipient = None
            points = points_cache.get(bucket.kinds)
            if points is None:
                points = points_cache[bucket.kinds] = table.points(bucket.kinds)
            if points:
                own = recipient_carry.get(bucket.name)
                if own is None and legacy is not None:
                    own, legacy = legacy, None
                allocation = allocate_scaled(
                    amount, points.numerators, ScaledFractions.of(own or {})
                )
                recipient_carry[bucket.name] = allocation.carry
                bucket_shares = allocation.shares
            else:
                to_commons = True
                bucket_shares = {commons_fund_id: amount}
        bucket_shares = _merge(shares, bucket_shares)
        buckets.append(
            BucketShare(
                name=bucket.name,
                recipient_id=recipient,
                claim=claims[index],
                exact=taken[index],
                amount_minor=amount,
                shares=bucket_shares,
                points=points,
                to_commons=to_commons,
            )
        )
    if legacy is not None:
        recipient_carry[LEGACY_CARRY] = legacy
    rest = rounded[len(equation.buckets)]
    rest_shares = _non_zero({commons_fund_id: rest})
    _add(shares, rest_shares)
    left = taken[-1]
    buckets.append(
        BucketShare(REST_BUCKET, commons_fund_id, left, left, rest, rest_shares, None, True)
    )
    return SplitResult(
        equation_version=equation.version,
        net_minor=net_minor,
        shares=_non_zero(shares),
        buckets=tuple(buckets),
        points=points_cache.get(None) or table.points(None),
        carry_before=carry_before,
        carry_after=Carry(bucket_carry, recipient_carry),
        cap_payments=cap_payments,
    )


def reverse_split(
    original: SplitResult, refund_minor: int, earlier: Sequence[SplitResult] = ()
) -> SplitResult:
    """Reverse `refund_minor` (> 0) of `original` in its proportions, after `earlier` reversals.

    Each bucket-recipient cell gives back in proportion to what it still holds,
    by largest remainder, so the shares sum to -refund_minor, a full refund
    negates every share exactly, and partial refunds adding up to the whole
    sale net every recipient to zero.
    """
    if original.is_reversal:
        raise ValueError("reverse the original split, not a reversal")
    if isinstance(refund_minor, bool) or not isinstance(refund_minor, int):
        raise TypeError("refund_minor must be an int of minor units")
    if refund_minor <= 0:
        raise ValueError("a refund must be a positive amount")
    cells = [(index, cid) for index, bucket in enumerate(original.buckets) for cid in bucket.shares]
    held = {n: original.buckets[i].shares[cid] for n, (i, cid) in enumerate(cells)}
    for reversal in earlier:
        if not reversal.is_reversal or len(reversal.buckets) != len(original.buckets):
            raise ValueError("earlier reversals must be reversals of this split")
        for n, (i, cid) in enumerate(cells):
            held[n] += reversal.buckets[i].shares.get(cid, 0)
    still_held = sum(held.values())
    if refund_minor > still_held:
        raise ValueError(f"refund of {refund_minor} exceeds the {still_held} not yet refunded")
    back = allocate_largest_remainder(-refund_minor, held).shares

    ratio = Fraction(-refund_minor, original.net_minor)
    shares: dict[int, int] = {}
    buckets: list[BucketShare] = []
    cap_payments: dict[str, int] = {}
    for index, bucket in enumerate(original.buckets):
        bucket_shares = _non_zero({cid: back[n] for n, (i, cid) in enumerate(cells) if i == index})
        _add(shares, bucket_shares)
        amount = sum(bucket_shares.values())
        if bucket.name in original.cap_payments:
            cap_payments[bucket.name] = amount
        buckets.append(
            BucketShare(
                name=bucket.name,
                recipient_id=bucket.recipient_id,
                claim=bucket.claim * ratio,
                exact=bucket.exact * ratio,
                amount_minor=amount,
                shares=bucket_shares,
                points=bucket.points,
                to_commons=bucket.to_commons,
            )
        )
    return SplitResult(
        equation_version=original.equation_version,
        net_minor=-refund_minor,
        shares=_non_zero(shares),
        buckets=tuple(buckets),
        points=dict(original.points),
        carry_before=Carry(),
        carry_after=Carry(),
        cap_payments=cap_payments,
        is_reversal=True,
    )


def compare_splits(a: SplitResult, b: SplitResult) -> dict[int, int]:
    """Per recipient, `b` minus `a` (every recipient of either, unchanged ones as 0)."""
    recipients = sorted(set(a.shares) | set(b.shares))
    return {cid: b.shares.get(cid, 0) - a.shares.get(cid, 0) for cid in recipients}
