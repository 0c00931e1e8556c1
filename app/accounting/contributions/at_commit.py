"""Derive what a transaction closed in that transaction, just before it commits.

The invariant: when a Session commits a transaction that inserted or updated a
session or a run, the contributions of the sessions and runs it closed (or
re-tagged, re-assigned, re-timed) commit with it, and the queue rows its
triggers added (migration 0011) are gone. A read or a sale then finds them
derived and lists, instead of deriving first.

How: the first INSERT or UPDATE of `lab_session` or `machine_run` on a
connection, whether an ORM flush, a Core statement or the ingest batch path's
driver SQL (which announces itself as the Core statement it stands for:
`app.lab.driver_rows`), first notes the queue's highest id. New queue ids lie above
it (PostgreSQL's sequence only grows; SQLite gives the highest rowid plus one),
so every row this transaction's triggers add does. Before the Session
commits, the rows above it are derived and forgotten with the same set-based
statements as a read's sync (`derived.derive_queued`): a transaction that
closed nothing finds none, in one indexed read. Rows other transactions
queued stay theirs (the app's own drain theirs before they commit); what was
queued outside a Session (SQL on a bare connection, a repair) is left to the
read-side sync, the safety net, so nothing is lost. So is, on SQLite, what a
transaction queued if a sync drained the rows at the top of the queue between
its note and its first write (the note is read before SQLite's write lock):
its ids then start lower, and the next read or sale derives them.

Two processes: the rows a transaction queued are invisible to others until it
commits, and gone by then; a source derived twice at once (a raw change seen
by a read while a writer re-derives it) is inserted once (ON CONFLICT DO
NOTHING) and updated to the same values.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.dml import Insert, Update

from app.accounting.contributions.derived import derive_queued
from app.accounting.contributions.tables import ContributionPending
from app.lab.activity import LabSession, MachineRun

_Q = ContributionPending.__table__  # type: ignore[attr-defined]

#: Tables whose triggers queue closed sessions and ended runs.
_QUEUEING: Final = frozenset(
    {
        LabSession.__table__.name,  # type: ignore[attr-defined]
        MachineRun.__table__.name,  # type: ignore[attr-defined]
    }
)
#: The queue's highest id (0 when it is empty).
_HEAD: Final = select(func.coalesce(func.max(_Q.c.id), 0))
#: The queue's highest id before the first queueing write of a connection's transaction.
_QUEUED_AFTER: Final = "labledger.contributions_queued_after"


@event.listens_for(Engine, "before_execute")
def _note_queue_head(
    connection: Connection, statement: Any, _multi: Any, _params: Any, _options: Any
) -> None:
    """Before a transaction's first write of a session or run, note the queue's highest id."""
    if not isinstance(statement, Insert | Update):
        return  # every statement of the process passes here: the cheapest test first
    if getattr(statement.table, "name", None) not in _QUEUEING or _QUEUED_AFTER in connection.info:
        return
    connection.info[_QUEUED_AFTER] = int(connection.execute(_HEAD).scalar_one())


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_queue_head(connection: Connection) -> None:
    """A transaction's end: the next one notes its own head (the info outlives checkouts)."""
    connection.info.pop(_QUEUED_AFTER, None)


@event.listens_for(OrmSession, "before_commit")
def _derive_what_closed(db: OrmSession) -> None:
    """Derive the queue rows this transaction added, in it, just before it commits."""
    db.flush()  # the commit's own flush would come after this hook
    transaction = db.get_transaction()
    for connection in transaction.connections if transaction is not None else ():
        after = connection.info.pop(_QUEUED_AFTER, None)
        if after is not None:
            derive_queued(db, after)
