"""Exact JSON forms of splits, carries and equations, for storing snapshots and reading them back.

A Fraction is written as the string "num/den" (always both parts, lowest
terms, sign on the numerator); JSON object keys are contributor ids as
decimal strings. Reading back gives values equal to what was written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Final

from app.accounting.engine.allocation import ScaledFractions
from app.accounting.engine.equation import Bucket, ContributionKind, Equation, Rates
from app.accounting.engine.split import BucketShare, Carry, SplitResult

__all__ = [
    "carry_from_json",
    "carry_to_json",
    "equation_from_json",
    "equation_to_json",
    "fraction_from_json",
    "fraction_to_json",
    "fractions_from_json",
    "fractions_to_json",
    "split_from_json",
    "split_to_json",
]

_FRACTION: Final = re.compile(r"-?[0-9]+(/[0-9]+)?")


def fraction_to_json(value: Fraction) -> str:
    """Write a Fraction as "num/den"."""
    return f"{value.numerator}/{value.denominator}"


def fraction_from_json(text: str) -> Fraction:
    """Read "num/den" (or a bare integer) back into a Fraction; decimals are refused."""
    if not isinstance(text, str) or not _FRACTION.fullmatch(text):
        raise ValueError(f"not an exact fraction: {text!r}")
    return Fraction(text)


def fractions_to_json(values: Mapping[int, Fraction]) -> dict[str, str]:
    """Write an id -> Fraction map (points, carries) as JSON-ready strings."""
    if isinstance(values, ScaledFractions):
        return _scaled_to_json(values)
    return {str(cid): fraction_to_json(value) for cid, value in sorted(values.items())}


def _scaled_to_json(values: ScaledFractions) -> dict[str, str]:
    """`fractions_to_json` of integer numerators, without making a Fraction of each."""
    den = values.denominator
    out: dict[str, str] = {}
    gcd = math.gcd
    for cid, num in sorted(values.numerators.items()):
        common = gcd(num, den)
        out[str(cid)] = f"{num // common}/{den // common}"
    return out


def fractions_from_json(data: Mapping[str, str]) -> dict[int, Fraction]:
    """Read back what `fractions_to_json` wrote."""
    return {int(cid): fraction_from_json(value) for cid, value in data.items()}


def _scaled_from_json(data: Mapping[str, str]) -> ScaledFractions:
    """Read an id -> "num/den" map straight into integers over one denominator."""
    parts: dict[int, tuple[int, int]] = {}
    for cid, text in data.items():
        if not isinstance(text, str) or not _FRACTION.fullmatch(text):
            raise ValueError(f"not an exact fraction: {text!r}")
        num, _, den = text.partition("/")
        denominator = int(den) if den else 1
        if denominator == 0:
            raise ValueError(f"not an exact fraction: {text!r}")
        parts[int(cid)] = (int(num), denominator)
    common = math.lcm(*{den for _, den in parts.values()}) if parts else 1
    return ScaledFractions(
        {cid: num * (common // den) for cid, (num, den) in parts.items()}, common
    )


def _ints_to_json(values: Mapping[int, int]) -> dict[str, int]:
    return {str(cid): amount for cid, amount in sorted(values.items())}


def _ints_from_json(data: Mapping[str, int]) -> dict[int, int]:
    return {int(cid): int(amount) for cid, amount in data.items()}


def _bucket_share_to_json(share: BucketShare) -> dict[str, Any]:
    return {
        "name": share.name,
        "recipient_id": share.recipient_id,
        "claim": fraction_to_json(share.claim),
        "exact": fraction_to_json(share.exact),
        "amount_minor": share.amount_minor,
        "shares": _ints_to_json(share.shares),
        "points": None if share.points is None else fractions_to_json(share.points),
        "to_commons": share.to_commons,
    }


def _bucket_share_from_json(data: Mapping[str, Any]) -> BucketShare:
    points = data["points"]
    return BucketShare(
        name=str(data["name"]),
        recipient_id=None if data["recipient_id"] is None else int(data["recipient_id"]),
        claim=fraction_from_json(data["claim"]),
        exact=fraction_from_json(data["exact"]),
        amount_minor=int(data["amount_minor"]),
        shares=_ints_from_json(data["shares"]),
        points=None if points is None else fractions_from_json(points),
        to_commons=bool(data["to_commons"]),
    )


def carry_to_json(carry: Carry) -> dict[str, Any]:
    """Write a product's carry: per bucket, and per recipient of each contributor bucket."""
    return {
        "buckets": {name: fraction_to_json(v) for name, v in sorted(carry.buckets.items())},
        "recipients": {
            name: fractions_to_json(values) for name, values in sorted(carry.recipients.items())
        },
    }


def carry_from_json(data: Mapping[str, Any]) -> Carry:
    """Read back a carry; a flat id -> fraction map (stored before bucket carries) is legacy."""
    if set(data) == {"buckets", "recipients"} and isinstance(data["buckets"], Mapping):
        return Carry(
            buckets={str(k): fraction_from_json(v) for k, v in data["buckets"].items()},
            recipients={
                str(name): _scaled_from_json(values) for name, values in data["recipients"].items()
            },
        )
    return Carry.of(fractions_from_json(data)) if data else Carry()


def split_to_json(result: SplitResult) -> dict[str, Any]:
    """Write a split, its points and carries included, as a JSON-ready dict."""
    return {
        "equation_version": result.equation_version,
        "net_minor": result.net_minor,
        "shares": _ints_to_json(result.shares),
        "buckets": [_bucket_share_to_json(b) for b in result.buckets],
        "points": fractions_to_json(result.points),
        "carry_before": carry_to_json(result.carry_before),
        "carry_after": carry_to_json(result.carry_after),
        "cap_payments": dict(sorted(result.cap_payments.items())),
        "is_reversal": result.is_reversal,
    }


def split_from_json(data: Mapping[str, Any]) -> SplitResult:
    """Read back a split written by `split_to_json`."""
    return SplitResult(
        equation_version=int(data["equation_version"]),
        net_minor=int(data["net_minor"]),
        shares=_ints_from_json(data["shares"]),
        buckets=tuple(_bucket_share_from_json(b) for b in data["buckets"]),
        points=fractions_from_json(data["points"]),
        carry_before=carry_from_json(data["carry_before"]),
        carry_after=carry_from_json(data["carry_after"]),
        cap_payments={str(k): int(v) for k, v in data["cap_payments"].items()},
        is_reversal=bool(data["is_reversal"]),
    )


def _rates_to_json(rates: Rates) -> dict[str, Any]:
    return {
        "labour_per_hour": fraction_to_json(rates.labour_per_hour),
        "labour_by_role": {k: fraction_to_json(v) for k, v in sorted(rates.labour_by_role.items())},
        "machine_per_hour": fraction_to_json(rates.machine_per_hour),
        "machine_by_id": fractions_to_json(rates.machine_by_id),
        "machine_by_kind": {
            k: fraction_to_json(v) for k, v in sorted(rates.machine_by_kind.items())
        },
        "money_per_major_unit": fraction_to_json(rates.money_per_major_unit),
        "materials_per_major_unit": fraction_to_json(rates.materials_per_major_unit),
        "design_per_hour": fraction_to_json(rates.design_per_hour),
        "documentation_per_hour": fraction_to_json(rates.documentation_per_hour),
        "citation_mode": rates.citation_mode,
    }


def _rates_from_json(data: Mapping[str, Any]) -> Rates:
    mode = data["citation_mode"]
    if mode not in ("points", "percent"):
        raise ValueError(f"unknown citation mode {mode!r}")
    return Rates(
        labour_per_hour=fraction_from_json(data["labour_per_hour"]),
        labour_by_role={k: fraction_from_json(v) for k, v in data["labour_by_role"].items()},
        machine_per_hour=fraction_from_json(data["machine_per_hour"]),
        machine_by_id=fractions_from_json(data["machine_by_id"]),
        machine_by_kind={k: fraction_from_json(v) for k, v in data["machine_by_kind"].items()},
        money_per_major_unit=fraction_from_json(data["money_per_major_unit"]),
        materials_per_major_unit=fraction_from_json(data["materials_per_major_unit"]),
        design_per_hour=fraction_from_json(data["design_per_hour"]),
        documentation_per_hour=fraction_from_json(data["documentation_per_hour"]),
        citation_mode=mode,
    )


def equation_to_json(equation: Equation) -> dict[str, Any]:
    """Write an equation version as a JSON-ready dict."""
    return {
        "version": equation.version,
        "rates": _rates_to_json(equation.rates),
        "buckets": [
            {
                "name": b.name,
                "mode": b.mode,
                "percent": fraction_to_json(b.percent),
                "recipient_id": b.recipient_id,
                "kinds": None if b.kinds is None else sorted(b.kinds),
                "cap_minor": b.cap_minor,
            }
            for b in equation.buckets
        ],
    }


def equation_from_json(data: Mapping[str, Any]) -> Equation:
    """Read back (and validate) an equation written by `equation_to_json`."""
    buckets = []
    for b in data["buckets"]:
        mode = b["mode"]
        if mode not in ("straight", "remaining"):
            raise ValueError(f"unknown bucket mode {mode!r}")
        kinds = b["kinds"]
        buckets.append(
            Bucket(
                name=str(b["name"]),
                mode=mode,
                percent=fraction_from_json(b["percent"]),
                recipient_id=None if b["recipient_id"] is None else int(b["recipient_id"]),
                kinds=None if kinds is None else frozenset(ContributionKind(k) for k in kinds),
                cap_minor=None if b["cap_minor"] is None else int(b["cap_minor"]),
            )
        )
    return Equation(
        version=int(data["version"]), rates=_rates_from_json(data["rates"]), buckets=tuple(buckets)
    )
