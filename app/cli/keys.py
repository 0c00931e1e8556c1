"""`labledger keys`: create, list, revoke and rotate API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from sqlmodel import Session

from app.api.keys import ApiKey, Role, create_key, list_keys, revoke_key, rotate_key
from app.cli.common import fail, load, ready_engine
from app.db import utcnow
from app.errors import LabLedgerError

keys_cli = typer.Typer(help="API keys: create, list, revoke, rotate.", no_args_is_help=True)

ExpiresInDays = Annotated[
    int | None, typer.Option(min=1, max=3650, help="Days until the key stops working.")
]
KeyId = Annotated[int, typer.Argument(min=1, help="The key's id (see `keys list`).")]


def _session() -> Session:
    return Session(ready_engine(load()), expire_on_commit=False)


def _stored(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        fail(f"key {key_id} does not exist", code=1)
    return row


def _when(value: object) -> str:
    return "-" if value is None else str(value)[:19]


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what holds the key.", min=1)],
    expires_in_days: ExpiresInDays = None,
) -> None:
    """Make an API key and print it; it is shown only this once."""
    if not 1 <= len(name.strip()) <= 200:
        fail("--name must be 1 to 200 characters")
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with _session() as session:
        row, plain = create_key(session, name.strip(), role, expires)
    typer.echo(plain)
    typer.echo(f"key {row.id} ({role.value}) for {row.name!r}; store it now", err=True)


@keys_cli.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="Show revoked keys too.")] = False,
) -> None:
    """One line per key: id, role, prefix, created, expires, last used, revoked, name."""
    with _session() as session:
        rows = list_keys(session, include_revoked=all_keys)
    typer.echo("id\trole\tprefix\tcreated\texpires\tlast used\trevoked\tname")
    for row in rows:
        typer.echo(
            f"{row.id}\t{row.role}\t{row.lookup}\t{_when(row.created_at)}\t"
            f"{_when(row.expires_at)}\t{_when(row.last_used_at)}\t{_when(row.revoked_at)}\t"
            f"{row.name}"
        )


@keys_cli.command("revoke")
def keys_revoke(key_id: KeyId) -> None:
    """Revoke a key; every replica refuses it from its next request."""
    with _session() as session:
        row = revoke_key(session, _stored(session, key_id), allow_last_admin=True)
    typer.echo(f"key {row.id} ({row.role}) for {row.name!r} revoked")


@keys_cli.command("rotate")
def keys_rotate(
    key_id: KeyId,
    keep_old_for_minutes: Annotated[
        int, typer.Option(min=0, max=43200, help="Minutes the old key keeps working.")
    ] = 0,
    expires_in_days: ExpiresInDays = None,
) -> None:
    """Replace a key by a new one with the same name and role, and print the new key."""
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    grace = timedelta(minutes=keep_old_for_minutes) if keep_old_for_minutes else None
    with _session() as session:
        try:
            row, plain = rotate_key(
                session, _stored(session, key_id), keep_old_for=grace, expires_at=expires
            )
        except LabLedgerError as exc:
            fail(exc.message, code=1)
    typer.echo(plain)
    typer.echo(f"key {row.id} replaces key {key_id}; store it now", err=True)
