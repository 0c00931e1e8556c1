"""Sales CSV exports (LabLedger layout and Tindie's column names) as ShopEvents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.accounting.sales.csv_import import SalesCsvError, parse_sales_csv
from app.errors import InvalidInput

LAYOUT = """order,date,currency,sku,quantity,amount_major,fees_major,refunded,description
1001,2024-05-01T10:00:00+02:00,EUR,BOARD-R1,2,50.00,2.10,,Board
1001,2024-05-01T10:00:00+02:00,EUR,,1,4.50,2.10,,Shipping
1002,2024-05-02,KWD,KIT-1,1,1.234,,true,
"""


def test_rows_of_one_order_form_one_sale():
    events = parse_sales_csv(LAYOUT, provider="crowdsupply")
    sale = events[0]
    assert (sale.provider, sale.kind, sale.event_id, sale.order_key) == (
        "crowdsupply",
        "sale",
        "1001:sale",
        "1001",
    )
    assert (sale.currency, sale.amount_minor, sale.fees_minor) == ("EUR", 5450, 210)
    assert [(li.sku, li.quantity, li.gross_minor) for li in sale.lines] == [
        ("BOARD-R1", 2, 5000),
        (None, 1, 450),
    ]
    assert sale.occurred_at == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_a_refunded_order_gives_a_sale_and_a_refund():
    events = parse_sales_csv(LAYOUT)
    assert [(e.event_id, e.kind) for e in events] == [
        ("1001:sale", "sale"),
        ("1002:sale", "sale"),
        ("1002:refund", "refund"),
    ]
    refund = events[2]
    assert (refund.currency, refund.amount_minor, refund.order_key) == ("KWD", 1234, "1002")
    assert refund.occurred_at == datetime(2024, 5, 2, tzinfo=UTC)
    (line,) = refund.refund_lines
    assert (line.sku, line.quantity, line.amount_minor) == ("KIT-1", 1, 1234)


def test_a_partial_refund_amount_is_taken_as_given():
    text = (
        "order,date,currency,sku,quantity,amount_major,refunded\n7,2024-01-01,USD,A,3,30.00,10.00\n"
    )
    sale, refund = parse_sales_csv(text)
    assert (sale.amount_minor, refund.amount_minor) == (3000, 1000)
    assert refund.refund_lines[0].quantity == 0


TINDIE = """number,date,sku,product,quantity,price_total,total_tindiefee,total_ccfee,refunded,email
501,2024-03-01 09:30:00,BOARD-R1,Sensor board,1,25.00,1.25,0.98,False,a@example.org
501,2024-03-01 09:30:00,CASE-1,Case,2,10.00,1.25,0.98,False,a@example.org
502,2024-03-02 11:00:00,BOARD-R1,Sensor board,1,25.00,1.25,1.03,True,b@example.org
"""


def test_tindie_column_names_are_accepted_with_a_default_currency():
    events = parse_sales_csv(TINDIE, provider="tindie", default_currency="USD")
    sale = events[0]
    assert (sale.provider, sale.order_key, sale.currency) == ("tindie", "501", "USD")
    assert sale.amount_minor == 3500
    assert sale.fees_minor == 223  # Tindie's fee plus the card fee, once per order
    assert sale.lines[0].description == "Sensor board"
    assert sale.occurred_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    refund = events[-1]
    assert (refund.kind, refund.order_key, refund.amount_minor) == ("refund", "502", 2500)


def test_a_byte_order_mark_and_blank_rows_are_tolerated():
    text = "\ufeff" + LAYOUT.replace("\n1002", "\n,,,,,,,,\n1002")
    assert len(parse_sales_csv(text)) == 3


@pytest.mark.parametrize(
    ("text", "row", "column"),
    [
        ("", 1, None),
        ("order,date,currency,sku,quantity\n", 1, "amount_major"),
        ("order,date,sku,quantity,amount_major\n1,2024-01-01,A,1,1.00\n", 1, "currency"),
        ("order,order,date,currency,quantity,amount_major\n", 1, "order"),
        (
            "order,date,currency,quantity,amount_major\n1,2024-01-01,USD,1,25.001\n",
            2,
            "amount_major",
        ),
        (
            "order,date,currency,quantity,amount_major\n1,2024-01-01,USD,1,25.00\n2,x,USD,1,1\n",
            3,
            "date",
        ),
        ("order,date,currency,quantity,amount_major\n1,2024-01-01,ZZZ,1,25.00\n", 2, "currency"),
        ("order,date,currency,quantity,amount_major\n1,2024-01-01,USD,two,25.00\n", 2, "quantity"),
        ("order,date,currency,quantity,amount_major\n1,2024-01-01,USD,²,25.00\n", 2, "quantity"),
        (
            "order,date,currency,quantity,amount_major\n1,2024-01-01,USD,1,-1.00\n",
            2,
            "amount_major",
        ),
        ("order,date,currency,quantity,amount_major\n,2024-01-01,USD,1,1.00\n", 2, "order"),
        (
            "order,date,currency,quantity,amount_major\n1,2024-01-01,USD,1,1\n1,2024-01-01,EUR,1,1\n",
            3,
            "currency",
        ),
        (
            "order,date,currency,quantity,amount_major,fees_major\n1,2024-01-01,USD,1,1,1\n1,2024-01-01,USD,1,1,2\n",
            3,
            "fees_major",
        ),
        (
            "order,date,currency,quantity,amount_major,refunded\n1,2024-01-01,USD,1,1,2.00\n",
            2,
            "refunded",
        ),
        (
            "order,date,currency,quantity,amount_major,refunded\n1,2024-01-01,USD,1,1,maybe\n",
            2,
            "refunded",
        ),
    ],
)
def test_bad_files_name_the_row_and_column(text, row, column):
    with pytest.raises(SalesCsvError) as caught:
        parse_sales_csv(text)
    assert (caught.value.row, caught.value.column) == (row, column)
    assert caught.value.message.startswith(f"row {row}")
    if column is not None:
        assert repr(column) in caught.value.message


@pytest.mark.parametrize(("old", "new"), [("amount", "amount_major"), ("fees", "fees_major")])
def test_unit_less_column_names_are_refused_naming_the_new_one(old, new):
    header = "order,date,currency,quantity,amount_major".replace("amount_major", old)
    if old == "fees":
        header += ",amount_major"
    with pytest.raises(SalesCsvError) as caught:
        parse_sales_csv(header + "\n1,2024-01-01,USD,1,5000\n")
    assert caught.value.column == old
    assert f"renamed {new!r}" in caught.value.message and "major units" in caught.value.message


def test_broken_quoting_is_reported_not_swallowed():
    text = 'order,date,currency,quantity,amount_major\n1,2024-01-01,USD,1,"1.00\n'
    with pytest.raises(SalesCsvError, match="not valid CSV") as caught:
        parse_sales_csv(text)
    assert caught.value.row == 2
    assert isinstance(caught.value, InvalidInput)


cells = st.sampled_from(
    ["", "1", "2024-01-01", "USD", "jpy", "25.00", "-1", "true", "x", '"', "\x00"]
)
rows = st.lists(st.lists(cells | st.text(max_size=6), max_size=9), max_size=6)


@given(
    rows=rows,
    header=st.permutations(
        [
            "order",
            "date",
            "currency",
            "quantity",
            "amount_major",
            "fees_major",
            "refunded",
            "sku",
            "description",
        ]
    ),
)
def test_any_rows_give_events_or_a_sales_csv_error(rows, header):
    text = "\n".join([",".join(header), *(",".join(row) for row in rows)])
    try:
        events = parse_sales_csv(text)
    except SalesCsvError as exc:
        assert exc.message.startswith("row ")
    else:
        assert all(e.amount_minor >= 0 for e in events)
