"""API keys get an optional expiry, a last-used time and a revocation time.

Revision ID: 0009
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0009"
down_revision: str | tuple[str, ...] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("expires_at", "last_used_at", "revoked_at")


def upgrade() -> None:
    """Add the three timestamps (all empty for existing keys)."""
    with op.batch_alter_table("api_key") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("api_key") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
