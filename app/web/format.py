"""How the pages write durations, money, moments and people (Jinja filters)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from babel.numbers import format_currency

from app.accounting.money import currency_exponent

DASH = "\N{EN DASH}"


def duration(seconds: float | None) -> str:
    """Seconds as people write them: `3 h 12 min`, `45 min`, `20 s`, `2 d 4 h`."""
    if seconds is None:
        return DASH
    total = round(max(0.0, float(seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def money(minor: int | None, currency: str | None, locale: str = "en") -> str:
    """Minor units in the currency's own format for the locale, e.g. `€1,234.50`."""
    if minor is None or not currency:
        return DASH
    value = Decimal(minor).scaleb(-currency_exponent(currency))
    return str(format_currency(value, currency, locale=locale))


def major(minor: int, currency: str) -> float:
    """Minor units as a number of major units, for chart axes only (never for sums)."""
    return float(Decimal(minor).scaleb(-currency_exponent(currency)))


def moment(value: datetime | None) -> str:
    """A timestamp in UTC, to the minute."""
    if value is None:
        return DASH
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(value: float | None) -> str:
    """A fraction as a whole-number percentage."""
    return DASH if value is None else f"{value * 100:.0f} %"


def words(code: str | None) -> str:
    """A stored code (`not_inducted`, `out_of_service`) as words on a page: `not inducted`."""
    return DASH if not code else str(code).replace("_", " ")


def hours(seconds: float) -> float:
    """Seconds as hours with two decimals (for charts)."""
    return round(seconds / 3600.0, 2)


def pseudonym(contributor_id: int) -> str:
    """The public name of a contributor who has not opted in to showing theirs."""
    return f"Contributor #{contributor_id}"
