"""Money as integer minor units of an ISO 4217 currency, never float.

The ledger's minor unit for a currency is the one ISO 4217 itself gives (its
"minor unit" column: JPY 0, USD 2, HUF 2, IDR 2, KWD 3, CLF 4), read from the
`iso4217` package, a copy of the ISO table pinned to one exact version in
pyproject.toml, so the meaning of an amount never depends on what else is
installed. Each sale also stores the exponent it was recorded under
(`sale.currency_exponent`), so a stored amount keeps its meaning even if a
later edition of the table changed the currency.

Some shops count their integer amounts in a different unit for a few
currencies (kept apart here, each with its source); `shop_exponent` and
`from_shop_minor` convert those amounts into the ledger's unit, refusing any
conversion that would lose a digit.

Errors (a `MoneyError` is an `app.errors.InvalidInput`, so the API answers 422)::

    MoneyError (InvalidInput, ValueError)
    +-- CurrencyError   unknown or malformed currency code
    +-- AmountError     an amount that is not an exact decimal in that currency,
                        or beyond MAX_MINOR
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache

from iso4217 import Currency

from app.errors import InvalidInput

# Largest magnitude of any one amount, everywhere: 2**62 minor units (4.6e18).
# Each is checked where it comes in (webhook parsers, CSV, API fields) and
# again by the ledger. Half of what a signed 64-bit column holds, so a sum or
# difference of two amounts still fits one; sums of many (balances) are added
# in two halves that cannot overflow (`ledger.postings.account_balances`).
MAX_MINOR = 2**62

_CODE = re.compile(r"[A-Z]{3}")
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]{1,40}(\.[0-9]{1,40})?")

# ISO 4217 codes that are not money a shop can take: precious metals, bond
# market units, SDR, SUCRE, the ADB unit, the testing and "no currency" codes
# (their ISO minor unit is "N.A.", which also leaves them out below).
_NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XEU", "XFO", "XFU"}
    | {"XPD", "XPT", "XRE", "XSU", "XTS", "XUA", "XXX"}
)

# Stripe's API counts amounts in its own minor units, which for a few
# currencies differ from ISO 4217. Source: Stripe, "Supported currencies"
# (docs.stripe.com/currencies): "Unless otherwise noted, currencies are
# two-decimal"; the zero-decimal list below; the three-decimal list below
# (their last digit must be 0). Special cases from the same page: ISK is
# zero-decimal in ISO 4217 but two-decimal in Stripe's API (100 = 1 krona,
# fractions refused), so a Stripe ISK amount is divided by 100 here; HUF and
# TWD are zero-decimal for Stripe *payouts* only, their charges are
# two-decimal as in ISO 4217; UGX is in Stripe's zero-decimal list, as in
# ISO 4217; MGA is zero-decimal for Stripe while ISO 4217 gives it 2, so a
# Stripe MGA amount is multiplied by 100.
_STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


@cache
def _iso_exponents() -> dict[str, int]:
    """ISO 4217 code -> minor unit digits, for every currency with a minor unit."""
    return {
        currency.code: currency.exponent
        for currency in Currency
        if currency.exponent is not None and currency.code not in _NOT_MONEY
    }


class MoneyError(InvalidInput, ValueError):
    """A currency or an amount the ledger cannot hold exactly."""


class CurrencyError(MoneyError):
    """An unknown or malformed ISO 4217 currency code."""


class AmountError(MoneyError):
    """An amount that is not an exact decimal in its currency's minor unit."""


def normalize_currency(code: object) -> str:
    """Return the upper-case ISO 4217 code for `code`, or raise CurrencyError."""
    if not isinstance(code, str):
        raise CurrencyError(f"currency must be a 3-letter ISO 4217 code, not {type(code).__name__}")
    upper = code.strip().upper()
    if not _CODE.fullmatch(upper):
        raise CurrencyError(f"currency {code[:16]!r} is not a 3-letter ISO 4217 code")
    if upper not in _iso_exponents():
        raise CurrencyError(f"currency {upper!r} is not an ISO 4217 currency the ledger accepts")
    return upper


def currency_exponent(code: str) -> int:
    """Digits after the decimal point of the ledger's minor unit for `code` (ISO 4217)."""
    return _iso_exponents()[normalize_currency(code)]


def shop_exponent(shop: str, code: str) -> int:
    """Digits after the decimal point of the integer amounts `shop` sends for `code`.

    Only Stripe has a rule of its own; any other shop is taken to count in the
    ledger's (ISO 4217) minor unit.
    """
    currency = normalize_currency(code)
    if shop == "stripe":
        if currency in _STRIPE_ZERO_DECIMAL:
            return 0
        if currency in _STRIPE_THREE_DECIMAL:
            return 3
        return 2
    return currency_exponent(currency)


def from_shop_minor(amount: int, currency: str, shop: str) -> int:
    """Convert a shop's integer amount into ledger minor units, exactly or not at all."""
    _check_int(amount)
    difference = currency_exponent(currency) - shop_exponent(shop, currency)
    if difference >= 0:
        return _bounded(amount * 10**difference)
    quotient, remainder = divmod(abs(amount), 10**-difference)
    if remainder:
        raise AmountError(
            f"{shop} amount {amount} {currency.upper()} has a fraction of the ledger's minor unit"
        )
    return _bounded(-quotient if amount < 0 else quotient)


def to_minor(amount: str | Decimal, currency: str) -> int:
    """Parse a shop's decimal string (or a Decimal) into exact ledger minor units."""
    exponent = currency_exponent(currency)
    value = _as_decimal(amount)
    sign, digits, power = value.as_tuple()
    assert isinstance(power, int)  # _as_decimal refused NaN and infinities
    coefficient = int("".join(map(str, digits)) or "0")
    shift = power + exponent
    if coefficient == 0:
        return 0
    if shift >= 0:
        if len(digits) + shift > 20:
            raise AmountError(f"amount {value} is too large for the ledger")
        minor = coefficient * 10**shift
    else:
        minor, rest = (0, coefficient) if -shift > len(digits) else divmod(coefficient, 10**-shift)
        if rest:
            raise AmountError(
                f"amount {value} has more decimals than {currency.upper()} allows ({exponent})"
            )
    return _bounded(-minor if sign else minor)


def format_minor(minor: int, currency: str, exponent: int | None = None) -> str:
    """Plain decimal text of a minor-unit amount, e.g. 2500 USD -> "25.00", for CSV and display.

    `exponent` is a stored one (a sale's); by default the ISO 4217 one.
    """
    _check_int(minor)
    if exponent is None:
        exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def _as_decimal(amount: object) -> Decimal:
    """A finite Decimal from a decimal string or Decimal; floats and others refused."""
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise AmountError(f"amount {amount} is not a finite number")
        if amount.adjusted() > 30:
            raise AmountError("amount is too large for the ledger")
        return amount
    if isinstance(amount, str):
        text = amount.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            raise AmountError(f"amount {amount[:32]!r} is not a plain decimal like '25.00'")
        try:
            return Decimal(text)
        except InvalidOperation as exc:  # unreachable after the pattern, kept as a guard
            raise AmountError(f"amount {amount[:32]!r} is not a decimal") from exc
    raise AmountError(
        f"amount must be a decimal string or Decimal, not {type(amount).__name__} "
        "(floats cannot hold money exactly)"
    )


def _check_int(value: object) -> None:
    """Refuse anything but a plain int (bool included) as a minor-unit amount."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(f"a minor-unit amount must be an int, not {type(value).__name__}")


def check_bound(minor: int, what: str = "amount") -> int:
    """Return `minor` if it is within +/- MAX_MINOR, else raise AmountError saying so."""
    if abs(minor) > MAX_MINOR:
        raise AmountError(
            f"{what} {minor} is beyond the ledger's bound of +/- 2**62 minor units ({MAX_MINOR})"
        )
    return minor


def _bounded(minor: int) -> int:
    """Return `minor` if the ledger can hold it."""
    return check_bound(minor)
