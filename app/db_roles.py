"""Least privilege on PostgreSQL: the service's role may append to the ledger, never rewrite it.

The tables belong to the role that runs the migrations (the owner). The service
connects as another role that `grant_service_role` gives only what it needs:
read and write on every table, but on `ledger_entry` only SELECT and INSERT, and
no DDL anywhere. Such a role cannot UPDATE, DELETE or TRUNCATE the ledger, and
cannot disable, drop or replace the guard trigger either (only an owner can), so
not even a leaked service password can rewrite the books in place. Run it again
after every migration: tables added later need their grants too.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import Engine, text

LEDGER_TABLE: Final = "ledger_entry"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    """A role that cannot be granted to: bad name, missing, or not PostgreSQL."""


def grant_service_role(engine: Engine, role: str) -> list[str]:
    """Give `role` the service's privileges on every table; return the tables granted."""
    if not _ROLE_NAME.fullmatch(role):
        raise RoleError(f"{role!r} is not a plain role name (a-z, 0-9, _; 63 characters at most)")
    if engine.dialect.name != "postgresql":
        raise RoleError("roles exist on PostgreSQL only; a SQLite file is guarded by triggers")
    with engine.begin() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
        ).first()
        if exists is None:
            raise RoleError(f"role {role} does not exist: CREATE ROLE {role} LOGIN PASSWORD ...")
        schema = str(connection.execute(text("SELECT current_schema()")).scalar_one())
        tables = [
            str(name)
            for name in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": schema},
            ).scalars()
        ]
        connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        for table in sorted(tables):
            connection.execute(text(f'REVOKE ALL ON TABLE "{table}" FROM "{role}"'))
            if table == LEDGER_TABLE:
                privileges = "SELECT, INSERT"
            elif table == "alembic_version":
                privileges = "SELECT"
            else:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            connection.execute(text(f'GRANT {privileges} ON TABLE "{table}" TO "{role}"'))
        connection.execute(
            text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"')
        )
    return sorted(tables)
