"""How the pages write durations and money."""

from __future__ import annotations

import pytest

from app.web.format import duration, money, percent, pseudonym, words


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\N{EN DASH}"),
        (0, "0 s"),
        (34.027, "34 s"),
        (60, "1 min"),
        (11520, "3 h 12 min"),
        (7200, "2 h"),
        (86400 + 4 * 3600 + 59, "1 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_durations_read_as_people_write_them(seconds, text):
    assert duration(seconds) == text


def test_money_in_the_currency_s_own_format():
    assert money(123450, "EUR") == "€1,234.50"
    assert money(1234, "JPY") == "¥1,234"
    assert money(-250, "USD") == "-$2.50"
    assert money(123450, "EUR", "de_DE") == "1.234,50\N{NO-BREAK SPACE}€"
    assert money(None, "EUR") == "\N{EN DASH}"


def test_percent_and_pseudonym():
    assert percent(0.1234) == "12 %" and percent(None) == "\N{EN DASH}"
    assert pseudonym(7) == "Contributor #7"


def test_stored_codes_read_as_words():
    assert words("not_inducted") == "not inducted"
    assert words("out_of_service") == "out of service"
    assert words(None) == "\N{EN DASH}" and words("") == "\N{EN DASH}"
