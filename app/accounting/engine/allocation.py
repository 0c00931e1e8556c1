"""Largest-remainder (Hamilton) allocation of integer minor units, exact, with carries.

Rounding each share on its own does not conserve the total (10.00 / 3 -> 9.99),
so a total is split by flooring every exact share and handing the leftover units
one each to the largest remainders, ties broken by ascending contributor id.

A carry is what rounding still owes a contributor (positive) or has over-paid
them (negative) on earlier allocations of the same product. With carries, every
contributor still gets the floor of their exact share or one unit more, and the
leftover units go to those the carry rule ranks first:

1. anyone whom rounding would otherwise leave owed a whole unit or more
   (remainder + carry >= 1), largest first;
2. anyone owed something (remainder + carry > 0), earliest "deadline" first:
   the number of further equal sales ceil((1 - carry) / remainder) after which
   they would be owed a whole unit, ties broken as PD2 does (below);
3. everyone else; final ties by remainder + carry, largest first, then id.

Why not simply "largest remainder + carry": with more than a handful of
contributors that rule lets someone fall a whole unit behind over repeated
equal sales (22 contributors splitting 1 unit: 1.14 units). Leftover units of
repeated equal sales are exactly Pfair scheduling of periodic tasks (weight =
remainder) on as many processors as leftover units, and the PD2 priority
(deadline, then b-bit, then group deadline; Anderson & Srinivasan) keeps every
cumulative share strictly within one unit of its cumulative exact share. When
sales differ, the carry keeps the rounding error bounded, not below one unit.

Only `int` and `fractions.Fraction` are used; a `float` weight is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

__all__ = ["Allocation", "allocate_largest_remainder", "exact_fraction"]


@dataclass(frozen=True, slots=True)
class Allocation:
    """An allocation of a total: integer shares, the exact shares and the carries after it."""

    shares: dict[int, int]
    exact: dict[int, Fraction]
    carry: dict[int, Fraction]


def exact_fraction(value: object, what: str) -> Fraction:
    """Return `value` as a Fraction, refusing floats and bools (they are never exact money)."""
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TypeError(f"{what} must be an int or a Fraction, not {type(value).__name__}")
    return Fraction(value)


_NEVER: Final = 1 << 62  # a deadline later than any real count of sales


def _carry_priority(remainder: Fraction, carry: Fraction, cid: int) -> tuple[Fraction | int, ...]:
    """Sort key for a leftover unit under carries (smaller goes first); see the module doc."""
    owed = carry + remainder
    if owed >= 1:
        return (0, 0, 0, 0, -owed, cid)
    if owed <= 0:
        return (2, 0, 0, 0, -owed, cid)
    if remainder == 0:
        return (1, _NEVER, 0, 0, -owed, cid)
    until_whole = (1 - carry) / remainder
    deadline = math.ceil(until_whole)
    # b-bit: 1 when this unit's window overlaps the next one's.
    b_bit = 0 if until_whole.denominator == 1 else 1
    group_deadline = 0
    if remainder >= Fraction(1, 2):
        # PD2's group deadline of a heavy task, ceil(ceil(ceil(j/w)(1-w))/(1-w)),
        # rewritten relative to now so that it needs only the carry and weight.
        shifted = math.ceil(deadline * (1 - remainder) - carry)
        group_deadline = math.ceil((carry + shifted) / (1 - remainder))
    return (1, deadline, -b_bit, -group_deadline, -owed, cid)


def allocate_largest_remainder(
    total: int,
    weights: Mapping[int, Fraction | int],
    carry: Mapping[int, Fraction] | None = None,
) -> Allocation:
    """Split `total` minor units among contributor ids in proportion to `weights`.

    Shares sum exactly to `total`; a negative total mirrors the positive one.
    With `carry`, leftover units go by remainder plus carry, and the new carry
    (carry + exact - allocated) is returned; ids only in `carry` keep theirs.
    """
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError(f"total must be an int of minor units, not {type(total).__name__}")
    exact_weights = {
        cid: exact_fraction(w, f"weight of contributor {cid}") for cid, w in weights.items()
    }
    for cid, weight in exact_weights.items():
        if weight < 0:
            raise ValueError(f"weight of contributor {cid} is negative ({weight})")
    old_carry = {
        cid: exact_fraction(c, f"carry of contributor {cid}") for cid, c in (carry or {}).items()
    }
    weight_sum = sum(exact_weights.values(), Fraction(0))
    if weight_sum == 0:
        if total != 0:
            raise ValueError(f"cannot allocate {total} minor units: the weights sum to zero")
        unchanged = dict(old_carry)
        for cid in exact_weights:
            unchanged.setdefault(cid, Fraction(0))
        return Allocation(
            shares=dict.fromkeys(exact_weights, 0),
            exact=dict.fromkeys(exact_weights, Fraction(0)),
            carry=unchanged,
        )

    # A negative total is the mirror image: allocate its magnitude with the
    # carries mirrored too, then flip every sign back. Mirroring keeps a refund
    # of the same amount the exact negation of the sale.
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    mirrored_carry = {cid: sign * c for cid, c in old_carry.items()}

    exact = {cid: magnitude * w / weight_sum for cid, w in exact_weights.items()}
    shares = {cid: math.floor(e) for cid, e in exact.items()}
    leftover = magnitude - sum(shares.values())
    # Ids with no weight take no part in this total, whatever they are owed.
    eligible = [cid for cid, w in exact_weights.items() if w > 0]
    if carry is None:
        by_priority = sorted(eligible, key=lambda cid: (shares[cid] - exact[cid], cid))
    else:
        by_priority = sorted(
            eligible,
            key=lambda cid: _carry_priority(
                exact[cid] - shares[cid], mirrored_carry.get(cid, Fraction(0)), cid
            ),
        )
    for cid in by_priority[:leftover]:
        shares[cid] += 1

    new_carry = dict(mirrored_carry)
    for cid in exact_weights:
        new_carry[cid] = mirrored_carry.get(cid, Fraction(0)) + exact[cid] - shares[cid]
    return Allocation(
        shares={cid: sign * s for cid, s in shares.items()},
        exact={cid: sign * e for cid, e in exact.items()},
        carry={cid: sign * c for cid, c in new_carry.items()},
    )
