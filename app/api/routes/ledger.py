"""REST for the ledger: read-only views, the chain check, the export and the public head."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.accounting.ledger import postings as ledger
from app.accounting.ledger.tables import (
    ACCOUNT_LENGTH,
    REFERENCE_LENGTH,
    TRANSACTION_ID_LENGTH,
    LedgerEntry,
    LedgerEntryPublic,
)
from app.api.deps import (
    API_PREFIX,
    AfterSequence,
    Limit,
    Offset,
    Reader,
    SessionDep,
    get_engine_dep,
)
from app.api.pages import Page
from app.crud import SortKey, page
from app.errors import NotFound

router = APIRouter(prefix=f"{API_PREFIX}/ledger", tags=["ledger"])

AccountPrefix = Annotated[
    str | None,
    Query(
        max_length=ACCOUNT_LENGTH,
        pattern=r"^[a-z0-9_.:-]*$",
        description="Only accounts whose name starts with this, e.g. 'payable:'.",
    ),
]


class LedgerHead(BaseModel):
    """The newest entry's hash and the number of entries: publish it to pin the history."""

    head: str
    entries: int


class Balance(BaseModel):
    """What one account holds in one currency, in minor units (+ debit, - credit)."""

    account: str
    currency: str
    balance_minor: int


class Balances(BaseModel):
    """Balances per account and currency, sorted by account then currency."""

    balances: list[Balance]


@router.get("/head", response_model=LedgerHead)
def read_head(session: SessionDep) -> LedgerHead:
    """The chain's head, public (no key): anyone can note it and check a later export against it."""
    head = ledger.chain_head(session)
    return LedgerHead(head=head.hash, entries=head.sequence)


HeldHead = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="A head you noted earlier (or from a signed checkpoint): the chain must "
        "still pass through it, so truncation and rewrites are found.",
    ),
]
HeldSequence = Annotated[
    int | None,
    Query(ge=0, le=2**62, description="The sequence (entry count) of that head, if you have it."),
]


class Checkpoint(BaseModel):
    """A signed (sequence, head) of the ledger; see docs/ledger.md to verify it."""

    ledger: str
    sequence: int
    head: str
    signed_at: str
    public_key: str
    signature: str


@router.get("/verify", response_model=ledger.VerifyResult)
def verify(
    session: SessionDep, _key: Reader, head: HeldHead = None, sequence: HeldSequence = None
) -> ledger.VerifyResult:
    """Recompute the whole chain and every transaction's balance; where it breaks, if it does."""
    if head is None:
        return ledger.verify_chain(session)
    return ledger.verify_held_head(session, head, sequence)


@router.get("/checkpoint", response_model=Checkpoint)
def read_checkpoint(request: Request) -> Checkpoint:
    """The newest signed checkpoint of the head, public (no key); 404 when signing is off."""
    latest = request.app.state.checkpoints.latest
    if latest is None:
        raise NotFound(
            "no signed checkpoint: LABLEDGER_CHECKPOINT_KEY_FILE is not set, or none yet"
        )
    return Checkpoint(**latest.to_json())


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines."}},
)
def export(engine: Annotated[Engine, Depends(get_engine_dep)], _key: Reader) -> StreamingResponse:
    """Every entry as canonical JSON Lines, in sequence order (see docs/ledger.md to verify it)."""

    def lines() -> Iterator[str]:
        # Its own session: the stream outlives the request's dependencies.
        with Session(engine) as session:
            yield from ledger.export_lines(session)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="ledger.jsonl"'},
    )


@router.get("/entries", response_model=Page[LedgerEntryPublic])
def list_entries(
    session: SessionDep,
    _key: Reader,
    limit: Limit = 50,
    offset: Offset = 0,
    after: AfterSequence = None,
    account_prefix: AccountPrefix = None,
    transaction_id: Annotated[
        str | None, Query(max_length=TRANSACTION_ID_LENGTH, pattern=r"^[0-9a-f-]+$")
    ] = None,
    reference: Annotated[
        str | None, Query(max_length=REFERENCE_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] = None,
) -> Page[LedgerEntry]:
    """Entries in sequence order, filtered by account prefix, transaction or reference."""
    query = select(LedgerEntry)
    if account_prefix:
        query = query.where(col(LedgerEntry.account).startswith(account_prefix, autoescape=True))
    if transaction_id:
        query = query.where(LedgerEntry.transaction_id == transaction_id)
    if reference:
        query = query.where(LedgerEntry.reference == reference)
    found = page(
        session, LedgerEntry, query, (SortKey(col(LedgerEntry.sequence)),), limit, offset, after
    )
    return Page(items=found.rows, next=found.next, total=found.total, limit=limit, offset=offset)


@router.get("/balances", response_model=Balances)
def balances(session: SessionDep, _key: Reader, prefix: AccountPrefix = None) -> Balances:
    """Balance of every account (starting with `prefix`), per currency, summed by the database."""
    found = ledger.account_balances(session, prefix)
    return Balances(
        balances=[
            Balance(account=account, currency=currency, balance_minor=amount)
            for (account, currency), amount in sorted(found.items())
        ]
    )
