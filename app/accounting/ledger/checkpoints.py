"""Signed checkpoints of the ledger's head: what a reader holds the database to.

A checkpoint is a JSON object naming a point of the chain and signed with an
Ed25519 key that the database does not hold:

    {"ledger": "labledger", "sequence": 42, "head": "<hash of entry 42>",
     "signed_at": "2026-11-30T09:00:00.000000Z", "public_key": "<64 hex>",
     "signature": "<128 hex>"}

The signature covers the canonical JSON (sorted keys, no spaces, UTF-8) of every
key but `signature`. Whoever keeps a checkpoint (from the retained MQTT topic, the
checkpoint file, or the public API) can later check two things: the signature,
against the lab's public key they already trust, and that the ledger still has
`head` at `sequence`. Deleting the last transactions, deleting every row, or
rewriting history with recomputed hashes each fail the second check, because the
database cannot produce a chain through a head it did not keep, nor sign a new one.

Keys are 32-byte Ed25519 seeds stored as 64 hex characters in a file readable
only by the service (`labledger ledger keygen`). Pure functions, no database.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.accounting.ledger.chain import rfc3339

LEDGER_NAME: Final = "labledger"
_HEX64: Final = frozenset("0123456789abcdef")


class CheckpointError(ValueError):
    """A key or checkpoint that cannot be read or does not verify."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed (sequence, head) of the ledger."""

    sequence: int
    head: str
    signed_at: str
    public_key: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        """The checkpoint as its published JSON object."""
        return {**_signed_part(self), "signature": self.signature}


def generate_key(path: Path) -> str:
    """Write a new private key to `path` (mode 0600, never overwritten); return its public key."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw().hex()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CheckpointError(f"{path} exists: a signing key is never overwritten") from exc
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror}") from exc
    with os.fdopen(descriptor, "w") as handle:
        handle.write(seed + "\n")
    return public_key_hex(key)


def load_key(path: Path) -> Ed25519PrivateKey:
    """The private key in `path` (64 hex characters)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read the checkpoint key {path}: {exc}") from exc
    if len(text) != 64 or not set(text) <= _HEX64:
        raise CheckpointError(f"{path} does not hold an Ed25519 key (64 hex characters)")
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The raw public key of `key` as 64 hex characters."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return raw.hex()


def sign_checkpoint(
    key: Ed25519PrivateKey, sequence: int, head: str, moment: datetime
) -> Checkpoint:
    """A checkpoint of (`sequence`, `head`) signed now by `key`."""
    unsigned = Checkpoint(sequence, head, rfc3339(moment), public_key_hex(key), "")
    signature = key.sign(_canonical(_signed_part(unsigned))).hex()
    return Checkpoint(sequence, head, unsigned.signed_at, unsigned.public_key, signature)


def parse_checkpoint(document: object) -> Checkpoint:
    """A checkpoint from its JSON object, with every field checked for shape."""
    if not isinstance(document, dict):
        raise CheckpointError("a checkpoint is a JSON object")
    if document.get("ledger") != LEDGER_NAME:
        raise CheckpointError(f'a checkpoint has "ledger": "{LEDGER_NAME}"')
    sequence = document.get("sequence")
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise CheckpointError("a checkpoint's sequence is a whole number")
    fields = {name: document.get(name) for name in ("head", "signed_at", "public_key")}
    fields["signature"] = document.get("signature")
    for name, value in fields.items():
        if not isinstance(value, str) or not value:
            raise CheckpointError(f"a checkpoint's {name} is a non-empty string")
    return Checkpoint(
        sequence,
        str(fields["head"]),
        str(fields["signed_at"]),
        str(fields["public_key"]),
        str(fields["signature"]),
    )


def check_signature(checkpoint: Checkpoint, trusted_public_key: str | None = None) -> None:
    """Raise CheckpointError unless `checkpoint` is signed by its key (and that key is trusted)."""
    if trusted_public_key is not None and trusted_public_key.lower() != checkpoint.public_key:
        raise CheckpointError("the checkpoint is signed by another key than the one you trust")
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key))
        public.verify(bytes.fromhex(checkpoint.signature), _canonical(_signed_part(checkpoint)))
    except (ValueError, InvalidSignature) as exc:
        raise CheckpointError("the checkpoint's signature does not verify") from exc


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in a JSON Lines file, in order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    found: list[Checkpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            found.append(parse_checkpoint(json.loads(line)))
        except (json.JSONDecodeError, CheckpointError) as exc:
            raise CheckpointError(f"{path}:{number}: {exc}") from exc
    return found


def checkpoint_line(checkpoint: Checkpoint) -> str:
    """The checkpoint as one canonical JSON line, newline-terminated."""
    return _canonical(checkpoint.to_json()).decode("utf-8") + "\n"


def _signed_part(checkpoint: Checkpoint) -> dict[str, Any]:
    """The keys the signature covers."""
    return {
        "ledger": LEDGER_NAME,
        "sequence": checkpoint.sequence,
        "head": checkpoint.head,
        "signed_at": checkpoint.signed_at,
        "public_key": checkpoint.public_key,
    }


def _canonical(document: dict[str, Any]) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
