"""`labledger ledger`: verify the chain (against a held head or checkpoint), export, sign."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from app.accounting.ledger.checkpoints import (
    CheckpointError,
    check_signature,
    checkpoint_line,
    generate_key,
    read_checkpoints,
)
from app.accounting.ledger.postings import VerifyResult
from app.cli.common import fail, load, ready_engine

ledger_cli = typer.Typer(help="The hash-chained ledger.", no_args_is_help=True)


def _report(result: VerifyResult) -> None:
    """Print the outcome of a check; exit 1 when it failed."""
    if not result.ok:
        where = f" at sequence {result.first_bad_sequence}" if result.first_bad_sequence else ""
        typer.echo(
            f"ledger broken{where}: {result.problem} "
            f"({result.entries} entries good, last good hash {result.head})",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"ledger ok: {result.entries} entries, head {result.head}")


@ledger_cli.command("verify")
def ledger_verify(
    head: Annotated[
        str | None, typer.Option(help="A head you noted earlier: the chain must still hold it.")
    ] = None,
    sequence: Annotated[int | None, typer.Option(help="The sequence of that head.")] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint file (JSON Lines): every checkpoint in it must hold."),
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="The lab's public key you trust (64 hex characters).")
    ] = None,
) -> None:
    """Recompute the hash chain and every transaction's balance; exit 1 where it breaks."""
    from app.accounting.ledger.postings import verify_chain, verify_held_head

    held: list[tuple[str, int | None]] = []
    if head is not None:
        held.append((head, sequence))
    if checkpoint is not None:
        try:
            found = read_checkpoints(checkpoint)
            for item in found:
                check_signature(item, public_key)
        except CheckpointError as exc:
            fail(str(exc), code=1)
        if public_key is None:
            typer.echo("note: no --public-key given; signatures checked against their own key")
        held.extend((item.head, item.sequence) for item in found)
    settings = load()
    with Session(ready_engine(settings)) as session:
        if not held:
            _report(verify_chain(session))
            return
        for held_head, held_sequence in held:
            result = verify_held_head(session, held_head, held_sequence)
            if not result.ok:
                break
    _report(result)
    typer.echo(f"holds {len(held)} head(s) you gave")


@ledger_cli.command("export")
def ledger_export() -> None:
    """Write every entry as canonical JSON Lines (UTF-8) to standard output."""
    from app.accounting.ledger.postings import export_lines

    settings = load()
    with Session(ready_engine(settings)) as session:
        for line in export_lines(session):
            sys.stdout.buffer.write(line.encode("utf-8"))
    sys.stdout.buffer.flush()


@ledger_cli.command("keygen")
def ledger_keygen(
    path: Annotated[Path, typer.Argument(help="Where to write the new private key (0600).")],
) -> None:
    """Make the Ed25519 key that signs checkpoints; prints the public key to publish."""
    try:
        public = generate_key(path)
    except CheckpointError as exc:
        fail(str(exc), code=1)
    typer.echo(f"public key {public}")
    typer.echo(f"set LABLEDGER_CHECKPOINT_KEY_FILE={path}; keep the file off the database host")


@ledger_cli.command("checkpoint")
def ledger_checkpoint() -> None:
    """Sign the current head now, publish it as the service would, and print it."""
    from app.checkpoint_publisher import CheckpointPublisher

    settings = load()
    if settings.checkpoint_key_file is None:
        fail("set LABLEDGER_CHECKPOINT_KEY_FILE to sign checkpoints")
    publisher = CheckpointPublisher(settings, ready_engine(settings))
    try:
        made = publisher.checkpoint_now()
    except CheckpointError as exc:
        fail(str(exc), code=1)
    assert made is not None  # a fresh publisher has no latest, so it always signs
    typer.echo(json.dumps(json.loads(checkpoint_line(made)), indent=2))
