"""Money: currency exponents, exact decimal parsing and formatting, shop units."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.accounting.money import (
    MAX_MINOR,
    AmountError,
    CurrencyError,
    currency_exponent,
    format_minor,
    from_shop_minor,
    normalize_currency,
    shop_exponent,
    to_minor,
)
from app.errors import InvalidInput


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("JPY", 0),
        ("KRW", 0),
        ("USD", 2),
        ("EUR", 2),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("TND", 3),
    ],
)
def test_exponents_come_from_the_currency_table(code, exponent):
    assert currency_exponent(code) == exponent


def test_codes_are_case_insensitive_but_normalised_upper():
    assert currency_exponent("usd") == 2
    assert normalize_currency(" jpy ") == "JPY"


@pytest.mark.parametrize("code", ["ZZZ", "US", "USDX", "", "U$D", "XXX", "XTS", "XAU", 840, None])
def test_unknown_or_malformed_codes_are_refused(code):
    with pytest.raises(CurrencyError):
        currency_exponent(code)


def test_money_errors_are_value_errors_and_invalid_input():
    with pytest.raises(ValueError):
        to_minor("1.001", "USD")
    assert issubclass(CurrencyError, InvalidInput)
    assert issubclass(AmountError, InvalidInput)


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("25", "JPY", 25),
        ("25.0", "JPY", 25),
        ("1.234", "KWD", 1234),
        ("25.00", "USD", 2500),
        ("25.000", "USD", 2500),
        ("25", "USD", 2500),
        ("-3.5", "KWD", -3500),
        ("-0.05", "USD", -5),
        ("+7.10", "EUR", 710),
        (" 12.30 ", "EUR", 1230),
        ("0.00", "USD", 0),
        ("-0", "USD", 0),
        (Decimal("25.10"), "USD", 2510),
        (Decimal("2.5E+1"), "USD", 2500),
    ],
)
def test_to_minor_parses_exactly(text, code, minor):
    assert to_minor(text, code) == minor


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("25.001", "USD"),
        ("25.5", "JPY"),
        ("1.2345", "KWD"),
        (Decimal("0.001"), "USD"),
        (Decimal("1E-999999999"), "USD"),
    ],
)
def test_more_decimals_than_the_currency_has_are_refused(amount, code):
    with pytest.raises(AmountError, match="more decimals"):
        to_minor(amount, code)


@pytest.mark.parametrize(
    "amount",
    [
        2.675,
        25,
        True,
        None,
        "NaN",
        "Infinity",
        "1e3",
        "1,000.00",
        "25.",
        ".5",
        "",
        "٣",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
    ],
)
def test_floats_non_numbers_and_odd_text_are_refused(amount):
    with pytest.raises(AmountError):
        to_minor(amount, "USD")


@pytest.mark.parametrize("amount", ["1" + "0" * 30, Decimal("1E+40")])
def test_amounts_past_a_64_bit_column_are_refused(amount):
    with pytest.raises(AmountError, match="too large"):
        to_minor(amount, "USD")


@pytest.mark.parametrize("amount", ["46116860184273879.05", "-46116860184273879.05"])
def test_amounts_past_the_ledger_bound_are_refused_naming_it(amount):
    with pytest.raises(AmountError, match=r"bound of \+/- 2\*\*62"):
        to_minor(amount, "USD")


def test_the_largest_ledger_amount_is_accepted():
    assert MAX_MINOR == 2**62
    assert to_minor("46116860184273879.04", "USD") == MAX_MINOR


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (2500, "USD", "25.00"),
        (-350, "USD", "-3.50"),
        (-5, "USD", "-0.05"),
        (0, "USD", "0.00"),
        (1234, "KWD", "1.234"),
        (-3500, "KWD", "-3.500"),
        (1, "KWD", "0.001"),
        (25, "JPY", "25"),
        (-25, "JPY", "-25"),
    ],
)
def test_format_minor_is_plain_decimal_text(minor, code, text):
    assert format_minor(minor, code) == text


def test_format_minor_refuses_non_integers():
    with pytest.raises(AmountError):
        format_minor(25.0, "USD")
    with pytest.raises(AmountError):
        format_minor(True, "USD")


@given(
    minor=st.integers(-MAX_MINOR, MAX_MINOR),
    code=st.sampled_from(["JPY", "USD", "KWD", "EUR", "CLF"]),
)
def test_format_then_parse_is_the_identity(minor, code):
    assert to_minor(format_minor(minor, code), code) == minor


def test_stripe_units_follow_stripes_own_table():
    assert shop_exponent("stripe", "ISK") == 2
    assert currency_exponent("ISK") == 0
    assert shop_exponent("stripe", "HUF") == shop_exponent("stripe", "TWD") == 2
    assert shop_exponent("stripe", "UGX") == shop_exponent("stripe", "JPY") == 0
    assert shop_exponent("stripe", "KWD") == 3
    assert shop_exponent("shopify", "ISK") == 0


def test_from_shop_minor_converts_exactly_or_refuses():
    assert from_shop_minor(50000, "ISK", "stripe") == 500
    assert from_shop_minor(-50000, "isk", "stripe") == -500
    assert from_shop_minor(2500, "USD", "stripe") == 2500
    assert from_shop_minor(2500, "JPY", "stripe") == 2500
    with pytest.raises(AmountError, match="fraction"):
        from_shop_minor(50050, "ISK", "stripe")
    with pytest.raises(AmountError):
        from_shop_minor(True, "USD", "stripe")


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("HUF", 2), ("IDR", 2), ("COP", 2), ("ISK", 0), ("JPY", 0), ("KWD", 3), ("CLF", 4)],
)
def test_exponents_are_iso_4217_whatever_else_is_installed(code, exponent):
    # These are the ISO 4217 minor units; CLDR (Babel) disagrees on HUF, IDR and COP.
    assert currency_exponent(code) == exponent
    assert to_minor("1990", code) == 1990 * 10**exponent


def test_the_iso_table_is_the_pinned_one():
    from importlib.metadata import version

    pinned = next(
        line
        for line in (Path(__file__).parents[2] / "pyproject.toml").read_text().splitlines()
        if line.strip().startswith('"iso4217==')
    )
    assert version("iso4217") in pinned


def test_stripe_exceptions_are_kept_apart_from_iso():
    assert (currency_exponent("MGA"), shop_exponent("stripe", "MGA")) == (2, 0)
    assert from_shop_minor(500, "MGA", "stripe") == 50000
    assert shop_exponent("shopify", "MGA") == 2
