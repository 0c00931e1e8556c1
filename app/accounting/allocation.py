"""Largest-remainder (Hamilton) allocation of integer minor units, exact, with carries.

Rounding each share on its own does not conserve the total (10.00 / 3 -> 9.99),
so a total is split by flooring every exact share and handing the leftover units
one each to the largest remainders, ties broken by ascending contributor id.

A carry is what rounding still owes a contributor (positive) or what it has
over-paid them (negative) on earlier allocations of the same product. Adding it
to the remainder when handing out leftover units keeps every contributor's
cumulative allocation within one unit of their cumulative exact share, so no
one is favoured by the tie-break over many small sales.

Only `int` and `fractions.Fraction` are used; a `float` weight is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

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
    by_priority = sorted(
        eligible,
        key=lambda cid: (-(exact[cid] - shares[cid] + mirrored_carry.get(cid, Fraction(0))), cid),
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
