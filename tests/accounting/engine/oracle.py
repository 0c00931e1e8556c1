"""The exact engine as it was before integer allocation: a test oracle, kept verbatim in spirit.

Fractions throughout, points recomputed per bucket, leftover units ranked by
sorting Fraction tuples (the PD2 carry priority). The integer engine must give
identical shares, bucket amounts and points for any split it can make from no
carry, and many small sales must add up to what this oracle gives for one sale
of their sum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

from app.accounting.engine.equation import (
    COMMONS_FUND,
    ContributionInput,
    ContributionKind,
    Equation,
    Rates,
)

_HUNDRED = Fraction(100)
_NEVER = 1 << 62


def _carry_priority(remainder: Fraction, carry: Fraction, cid: int) -> tuple[Fraction | int, ...]:
    owed = carry + remainder
    if owed >= 1:
        return (0, 0, 0, 0, -owed, cid)
    if owed <= 0:
        return (2, 0, 0, 0, -owed, cid)
    if remainder == 0:
        return (1, _NEVER, 0, 0, -owed, cid)
    until_whole = (1 - carry) / remainder
    deadline = math.ceil(until_whole)
    b_bit = 0 if until_whole.denominator == 1 else 1
    group_deadline = 0
    if remainder >= Fraction(1, 2):
        shifted = math.ceil(deadline * (1 - remainder) - carry)
        group_deadline = math.ceil((carry + shifted) / (1 - remainder))
    return (1, deadline, -b_bit, -group_deadline, -owed, cid)


def old_allocate(
    total: int, weights: Mapping[int, Fraction | int], carry: Mapping[int, Fraction] | None = None
) -> dict[int, int]:
    """The old `allocate_largest_remainder`, shares only."""
    exact_weights = {cid: Fraction(w) for cid, w in weights.items()}
    old_carry = {cid: Fraction(c) for cid, c in (carry or {}).items()}
    weight_sum = sum(exact_weights.values(), Fraction(0))
    if weight_sum == 0:
        return dict.fromkeys(exact_weights, 0)
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    mirrored = {cid: sign * c for cid, c in old_carry.items()}
    exact = {cid: magnitude * w / weight_sum for cid, w in exact_weights.items()}
    shares = {cid: math.floor(e) for cid, e in exact.items()}
    leftover = magnitude - sum(shares.values())
    eligible = [cid for cid, w in exact_weights.items() if w > 0]
    if carry is None:
        order = sorted(eligible, key=lambda cid: (shares[cid] - exact[cid], cid))
    else:
        order = sorted(
            eligible,
            key=lambda cid: _carry_priority(
                exact[cid] - shares[cid], mirrored.get(cid, Fraction(0)), cid
            ),
        )
    for cid in order[:leftover]:
        shares[cid] += 1
    return {cid: sign * s for cid, s in shares.items()}


def _points(contribution: ContributionInput, rates: Rates, exponent: int) -> Fraction:
    kind, quantity = contribution.kind, contribution.quantity
    if kind is ContributionKind.LABOUR:
        return quantity * rates.labour_rate(contribution.role)
    if kind is ContributionKind.MACHINE:
        return quantity * rates.machine_rate(contribution.machine_id, contribution.machine_kind)
    if kind is ContributionKind.MONEY:
        return quantity * rates.money_per_major_unit / Fraction(10) ** exponent
    if kind is ContributionKind.MATERIALS:
        return quantity * rates.materials_per_major_unit / Fraction(10) ** exponent
    if kind is ContributionKind.DESIGN:
        return quantity * rates.design_per_hour
    return quantity * rates.documentation_per_hour


def old_points(
    contributions: Sequence[ContributionInput],
    rates: Rates,
    kinds_filter: frozenset[ContributionKind] | None,
    exponent: int,
) -> dict[int, Fraction]:
    """The old `points_by_contributor`."""
    points: dict[int, Fraction] = {}
    citations = []
    for contribution in contributions:
        if kinds_filter is not None and contribution.kind not in kinds_filter:
            continue
        if contribution.kind is ContributionKind.CITATION:
            citations.append(contribution)
            continue
        cid = contribution.contributor_id
        points[cid] = points.get(cid, Fraction(0)) + _points(contribution, rates, exponent)
    if rates.citation_mode == "points":
        for citation in citations:
            cid = citation.contributor_id
            points[cid] = points.get(cid, Fraction(0)) + citation.quantity
    elif citations:
        claimed = sum((c.quantity for c in citations), Fraction(0))
        if claimed >= _HUNDRED:
            raise ValueError(f"citations claim {claimed} % of the points; they must stay below 100")
        base = sum(points.values(), Fraction(0))
        for citation in citations:
            cid = citation.contributor_id
            points[cid] = points.get(cid, Fraction(0)) + base * citation.quantity / (
                _HUNDRED - claimed
            )
    return {cid: p for cid, p in points.items() if p > 0}


def old_split(
    net: int,
    exponent: int,
    equation: Equation,
    contributions: Sequence[ContributionInput],
    commons: int,
    paid_so_far: Mapping[str, int] | None = None,
) -> tuple[list[int], list[dict[int, int]], list[dict[int, Fraction] | None]]:
    """The old `compute_split` from no carry: bucket amounts, bucket shares, bucket points."""
    paid = dict(paid_so_far or {})
    taken: list[Fraction] = []
    left = Fraction(net)
    for bucket in equation.buckets:
        base = Fraction(net) if bucket.mode == "straight" else left
        claim = base * bucket.percent / _HUNDRED
        take = claim
        if bucket.cap_minor is not None:
            take = min(claim, Fraction(max(0, bucket.cap_minor - paid.get(bucket.name, 0))))
        taken.append(take)
        left -= take
    taken.append(left)
    rounded = old_allocate(net, dict(enumerate(taken)))
    amounts = [rounded[i] for i in range(len(taken))]
    shares: list[dict[int, int]] = []
    points_list: list[dict[int, Fraction] | None] = []
    carry: dict[int, Fraction] = {}
    for index, bucket in enumerate(equation.buckets):
        amount = amounts[index]
        points = None
        if bucket.recipient_id is not None:
            recipient = commons if bucket.recipient_id == COMMONS_FUND else bucket.recipient_id
            bucket_shares = {recipient: amount}
        else:
            points = old_points(contributions, equation.rates, bucket.kinds, exponent)
            bucket_shares = old_allocate(amount, points, carry) if points else {commons: amount}
        shares.append({cid: a for cid, a in sorted(bucket_shares.items()) if a})
        points_list.append(points)
    shares.append({commons: amounts[-1]} if amounts[-1] else {})
    points_list.append(None)
    return amounts, shares, points_list
