"""`labledger keys`: API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session

from app.api.keys import Role, create_key
from app.cli.common import fail, load, ready_engine

keys_cli = typer.Typer(help="API keys.", no_args_is_help=True)


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what holds the key.", min=1)],
) -> None:
    """Make an API key and print it; it is shown only this once."""
    settings = load()
    if not 1 <= len(name.strip()) <= 200:
        fail("--name must be 1 to 200 characters")
    with Session(ready_engine(settings)) as session:
        row, plain = create_key(session, name.strip(), role)
    typer.echo(plain)
    typer.echo(f"key {row.id} ({role.value}) for {row.name!r}; store it now", err=True)
