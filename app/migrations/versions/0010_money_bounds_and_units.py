"""Money: each sale keeps its currency exponent; sales can be voided; who entered a contribution.

- `sale.currency_exponent`: the digits of the minor unit a sale's amounts were
  recorded in. Existing sales are backfilled with the table that recorded
  them: Babel's (CLDR) when it is still installed, as it was the ledger's
  table until this revision, else ISO 4217's.
- `sale.voided_at`, `voided_by`, `void_reason`: a voided sale.
- `contribution.created_by_key`: the API key that entered a manual row (it
  may not approve it).

Revision ID: 0010
Revises: 0009
"""

import importlib
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app.accounting.money import currency_exponent

revision: str = "0010"
down_revision: str | tuple[str, ...] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recording_table() -> Callable[[str], int]:
    """The exponent table existing sales were recorded with: Babel's if present, else ISO's."""
    try:
        numbers = importlib.import_module("babel.numbers")
    except ImportError:
        return currency_exponent
    precision: Callable[[str], int] = numbers.get_currency_precision
    return precision


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency_exponent", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("voided_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("voided_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.String(length=500), nullable=True))
    connection = op.get_bind()
    exponent_of = _recording_table()
    currencies = [
        row[0] for row in connection.execute(sa.text("SELECT DISTINCT currency FROM sale"))
    ]
    for code in currencies:
        connection.execute(
            sa.text("UPDATE sale SET currency_exponent = :exponent WHERE currency = :code"),
            {"exponent": exponent_of(code), "code": code},
        )
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.alter_column("currency_exponent", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_key", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_column("created_by_key")
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_by")
        batch_op.drop_column("voided_at")
        batch_op.drop_column("currency_exponent")
