"""The service's own database role appends to the ledger and can do nothing else to it."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.accounting.ledger.postings import Posting, post_transaction, verify_chain
from app.db import utcnow
from app.db_roles import RoleError, grant_service_role
from app.lab.models import Contributor


def test_a_role_name_is_checked_before_anything_runs(engine):
    with pytest.raises(RoleError, match="plain role name"):
        grant_service_role(engine, 'x"; DROP TABLE ledger_entry; --')


def test_sqlite_has_no_roles_and_says_so(engine):
    if engine.dialect.name != "sqlite":
        with pytest.raises(RoleError, match="does not exist"):
            grant_service_role(engine, "no_such_role_here")
        return
    with pytest.raises(RoleError, match="PostgreSQL only"):
        grant_service_role(engine, "labledger_app")


@pytest.fixture
def service_engine(engine):
    """An engine connected as a fresh service role that `db grant` has set up."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    role = f"labledger_svc_{secrets.token_hex(4)}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
    grant_service_role(engine, role)
    url = make_url(engine.url.render_as_string(hide_password=False)).set(
        username=role, password=None
    )
    service = create_engine(url)
    try:
        yield service
    finally:
        service.dispose()
        with engine.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))


def test_the_service_role_appends_but_cannot_rewrite_or_unguard_the_ledger(engine, service_engine):
    if service_engine is None:  # SQLite: the guard is the triggers, tested with the ledger
        assert engine.dialect.name == "sqlite"
        return
    with Session(service_engine) as session:
        post_transaction(
            session,
            kind="sale",
            reference="sale:1",
            postings=[Posting("shop:stripe", "EUR", 500), Posting("sales:product:1", "EUR", -500)],
            occurred_at=utcnow(),
        )
        session.commit()
        session.add(Contributor(name="Ada", display_name="Ada"))
        session.commit()
    refused = [
        "SET LOCAL labledger.allow_purge = 'on'; DELETE FROM ledger_entry",
        "UPDATE ledger_entry SET memo = 'x'",
        "TRUNCATE ledger_entry",
        "ALTER TABLE ledger_entry DISABLE TRIGGER ALL",
        "DROP TRIGGER ledger_entry_no_update_delete ON ledger_entry",
        "CREATE TABLE sneaky (id int)",
    ]
    for sql in refused:
        with service_engine.connect() as connection, pytest.raises(DBAPIError) as caught:
            connection.execute(text(sql))
        message = str(caught.value.orig)
        assert "permission denied" in message or "must be owner" in message, (sql, message)
    with Session(engine) as session:
        result = verify_chain(session)
    assert (result.ok, result.entries) == (True, 2)
