"""Largest-remainder (Hamilton) allocation of integer minor units, exact, with carries.

Rounding each share on its own does not conserve the total (10.00 / 3 -> 9.99),
so a total is split by flooring every exact share and handing the leftover units
one each to the largest remainders, ties broken by ascending contributor id.

A carry is what rounding still owes a recipient (positive) or has over-paid
them (negative) on earlier allocations. With carries, each recipient is owed
carry + exact share; the allocation floors what is owed and hands the leftover
units to the largest fractional parts of what is owed (ties by ascending id).
While the weights stay the same, this is exactly the largest-remainder
allocation of the running total, handed out sale by sale: many small totals
add up, recipient by recipient, to what one total of their sum would give, and
every cumulative share is the floor or the ceiling of its cumulative exact
share (every carry stays strictly between -1 and 1). The price of that
guarantee is Hamilton's "Alabama paradox": rarely, with three or more
recipients, a total can take back one unit that an earlier rounding gave
(a share of -1 in a positive total). If ids only in the carry (no weight now)
leave more or fewer leftover units than there are recipients, every recipient
first gets the same whole number of units, then the leftover goes as above.

Everything is computed in integers: weights are scaled to a common
denominator, exact shares and carries are numerators over one denominator.
`ScaledFractions` presents such numerators as a read-only map of Fractions,
made only when read. Only `int` and `fractions.Fraction` inputs are accepted;
a `float` weight is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "Allocation",
    "ScaledFractions",
    "allocate_largest_remainder",
    "allocate_scaled",
    "exact_fraction",
]


class ScaledFractions(Mapping[int, Fraction]):
    """A read-only id -> Fraction map held as integer numerators over one denominator.

    A `factor` multiplies every numerator, applied only when values are read,
    so that a map of exact shares costs nothing until someone looks at it.
    """

    __slots__ = ("_factor", "_numerators", "denominator")

    def __init__(self, numerators: dict[int, int], denominator: int = 1, factor: int = 1) -> None:
        """Hold `numerators` (not copied) times `factor` over a positive `denominator`."""
        if denominator <= 0:
            raise ValueError("a denominator must be positive")
        self._numerators = numerators
        self._factor = factor
        self.denominator = denominator

    @property
    def numerators(self) -> dict[int, int]:
        """The numerators over `denominator` (the factor applied)."""
        if self._factor != 1:
            factor = self._factor
            self._numerators = {cid: n * factor for cid, n in self._numerators.items()}
            self._factor = 1
        return self._numerators

    @classmethod
    def of(cls, values: Mapping[int, Fraction | int]) -> ScaledFractions:
        """The same values over their least common denominator."""
        if isinstance(values, ScaledFractions):
            return values
        exact = {cid: exact_fraction(v, f"value of {cid}") for cid, v in values.items()}
        den = math.lcm(*{v.denominator for v in exact.values()}) if exact else 1
        return cls({cid: v.numerator * (den // v.denominator) for cid, v in exact.items()}, den)

    def rescaled(self, denominator: int) -> dict[int, int]:
        """Numerators over `denominator`, which must be a multiple of this one."""
        factor, rest = divmod(denominator, self.denominator)
        if rest:
            raise ValueError("can only rescale to a multiple of the denominator")
        if factor == 1:
            return self.numerators
        return {cid: n * factor for cid, n in self.numerators.items()}

    def __getitem__(self, key: int) -> Fraction:
        """The value of `key` as a Fraction."""
        return Fraction(self._numerators[key] * self._factor, self.denominator)

    def __iter__(self) -> Iterator[int]:
        """The ids, in the order they were stored."""
        return iter(self._numerators)

    def __len__(self) -> int:
        """How many ids there are."""
        return len(self._numerators)

    def __contains__(self, key: object) -> bool:
        """Whether `key` has a value."""
        return key in self._numerators

    def __repr__(self) -> str:
        """The values as a dict of Fractions."""
        return f"ScaledFractions({dict(self.items())!r})"


@dataclass(frozen=True, slots=True)
class Allocation:
    """An allocation of a total: integer shares, the exact shares and the carries after it."""

    shares: dict[int, int]
    exact: Mapping[int, Fraction]
    carry: Mapping[int, Fraction]


def exact_fraction(value: object, what: str) -> Fraction:
    """Return `value` as a Fraction, refusing floats and bools (they are never exact money)."""
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TypeError(f"{what} must be an int or a Fraction, not {type(value).__name__}")
    return Fraction(value)


def _reduced(numerators: dict[int, int], denominator: int) -> ScaledFractions:
    """Numerators over a denominator, divided by their greatest common divisor."""
    common = math.gcd(denominator, *numerators.values())
    if common > 1:
        numerators = {cid: n // common for cid, n in numerators.items()}
        denominator //= common
    return ScaledFractions(numerators, denominator)


def allocate_scaled(
    total: int, weights: Mapping[int, int], carry: ScaledFractions | None = None
) -> Allocation:
    """Allocate `total` by integer `weights` (all >= 0, some > 0) with an optional carry.

    The integer core of `allocate_largest_remainder`: no validation beyond what
    the arithmetic needs; ids of weight 0 get 0 and keep their carry. Without a
    carry a negative total mirrors the positive one; with one, what is owed is
    floored whatever its sign, so that totals keep adding up (module doc).
    """
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise ValueError(f"cannot allocate {total} minor units: the weights sum to zero")
    sign = -1 if total < 0 and carry is None else 1
    amount = sign * total
    if carry is None or not carry.numerators:
        den, scale = weight_sum, 1
        old: dict[int, int] = {}
    else:
        den = math.lcm(weight_sum, carry.denominator)
        scale = den // weight_sum
        old = carry.rescaled(den)
    per_weight = amount * scale
    get = old.get
    # One pass: what each is owed, its floor, and the remainder that is both
    # the rank for a leftover unit and the carry if no unit comes.
    shares: dict[int, int] = {}
    after: dict[int, int] = {}
    remainders: list[tuple[int, int]] = []
    append = remainders.append
    handed = 0
    zero_weight = False
    for cid, w in weights.items():
        if not w:
            zero_weight = True
            continue
        base, rest = divmod(get(cid, 0) + per_weight * w if old else per_weight * w, den)
        shares[cid] = base
        after[cid] = rest
        handed += base
        append((-rest, cid))
    leftover = amount - handed
    if leftover < 0 or leftover > len(remainders):
        # Ids only in the carry left more or fewer units than recipients: even out first.
        each, leftover = divmod(leftover, len(remainders))
        for cid in shares:
            shares[cid] += each
            after[cid] -= each * den
    if leftover:
        remainders.sort()
        for _, cid in remainders[:leftover]:
            shares[cid] += 1
            after[cid] -= den
    if zero_weight:
        # Ids of weight 0 take no part in this total, whatever they are owed.
        for cid, w in weights.items():
            if not w:
                shares[cid] = 0
                after[cid] = get(cid, 0)
    if len(old) > len(after) or (old and not old.keys() <= after.keys()):
        after = {**old, **after}
    if sign < 0:
        shares = {cid: -s for cid, s in shares.items()}
        after = {cid: -c for cid, c in after.items()}
    new_carry = _reduced(after, den) if den != weight_sum else ScaledFractions(after, den)
    exact = ScaledFractions(
        weights if isinstance(weights, dict) else dict(weights), weight_sum, sign * amount
    )
    return Allocation(shares=shares, exact=exact, carry=new_carry)


def allocate_largest_remainder(
    total: int,
    weights: Mapping[int, Fraction | int],
    carry: Mapping[int, Fraction] | None = None,
) -> Allocation:
    """Split `total` minor units among contributor ids in proportion to `weights`.

    Shares sum exactly to `total`; a negative total mirrors the positive one.
    With `carry`, what is owed is carry + exact share (see the module doc), and
    the new carry (carry + exact - allocated) is returned; ids only in `carry`
    keep theirs.
    """
    if isinstance(total, bool) or not isinstance(total, int):
        raise TypeError(f"total must be an int of minor units, not {type(total).__name__}")
    exact_weights = {
        cid: exact_fraction(w, f"weight of contributor {cid}") for cid, w in weights.items()
    }
    for cid, weight in exact_weights.items():
        if weight < 0:
            raise ValueError(f"weight of contributor {cid} is negative ({weight})")
    old_carry = ScaledFractions.of(
        {cid: exact_fraction(c, f"carry of contributor {cid}") for cid, c in (carry or {}).items()}
    )
    given_carry = None if carry is None else old_carry
    scaled = ScaledFractions.of(exact_weights)
    if sum(scaled.numerators.values()) == 0:
        if total != 0:
            raise ValueError(f"cannot allocate {total} minor units: the weights sum to zero")
        unchanged = dict(old_carry.items())
        for cid in exact_weights:
            unchanged.setdefault(cid, Fraction(0))
        return Allocation(
            shares=dict.fromkeys(exact_weights, 0),
            exact=dict.fromkeys(exact_weights, Fraction(0)),
            carry=unchanged,
        )
    result = allocate_scaled(total, scaled.numerators, given_carry)
    return Allocation(
        shares=result.shares, exact=dict(result.exact.items()), carry=dict(result.carry.items())
    )
