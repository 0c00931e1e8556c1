"""The public view's data: open books with people by public name or pseudonym.

Nothing personal leaves here: no email, badge, card id, payout detail, key or
session. A contributor is shown by their display name only if they opted in
(`name_public`), otherwise as `Contributor #<id>`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.accounting.contributions.derived import sync_derived_contributions
from app.accounting.figures.queries import money_summary, product_figures
from app.accounting.money import format_minor
from app.accounting.sales.tables import Split, SplitShare
from app.accounting.valueflows.export import export_graph, node_id
from app.lab.models import Contributor
from app.lab.periods import Period
from app.lab.stats import Filters, contributor_hours, machine_hours, utilisation
from app.web.format import pseudonym

MEDIA_TYPE = "application/ld+json"


def public_names(db: Session) -> dict[int, str]:
    """Every contributor's public name: display name if opted in, else a pseudonym."""
    rows = db.execute(
        select(
            col(Contributor.id),
            col(Contributor.display_name),
            col(Contributor.name_public),
            col(Contributor.is_commons_fund),
        )
    ).all()
    return {
        cid: (display if shown or fund else pseudonym(cid)) for cid, display, shown, fund in rows
    }


def _sum_machines(rows: list[Any]) -> list[dict[str, Any]]:
    totals: dict[int, dict[str, Any]] = {}
    for r in rows:
        t = totals.setdefault(
            r.machine_id,
            {"machine": r.machine, "runs": 0, "busy_s": 0.0, "available_s": 0.0},
        )
        t["runs"] += r.runs
        t["busy_s"] += r.busy_s
        t["available_s"] += r.available_s
    for t in totals.values():
        t["utilisation"] = utilisation(t["busy_s"], t["available_s"])
    return list(totals.values())


def _earned(db: Session, since: datetime) -> dict[int, list[tuple[str, int]]]:
    rows = db.execute(
        select(
            col(SplitShare.contributor_id), col(Split.currency), func.sum(SplitShare.amount_minor)
        )
        .join(Split, col(Split.id) == SplitShare.split_id)
        .where(col(Split.created_at) >= since)
        .group_by(col(SplitShare.contributor_id), col(Split.currency))
    ).all()
    earned: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for cid, currency, amount in rows:
        earned[int(cid)].append((str(currency), int(amount)))
    return earned


def public_context(db: Session, years: int) -> dict[str, Any]:
    """What the public page shows: this calendar year and the `years` - 1 before it.

    Whole calendar years, the current one to its end (nothing is recorded
    ahead of now, and a machine's available time stops at now), so every year
    is read from the yearly rollups and books for a year mean the same thing
    every day of the next.
    """
    now = datetime.now(UTC)
    since = datetime(now.year - years + 1, 1, 1, tzinfo=UTC)
    f = Filters(since, datetime(now.year + 1, 1, 1, tzinfo=UTC), Period.YEAR)
    whole = replace(f, totals=True)  # one row per person or machine, summed in the database
    names = public_names(db)
    summary = money_summary(db, verify=False)  # the page shows the head, not a check
    earned = _earned(db, f.since)
    people: dict[int, dict[str, Any]] = {}
    for r in contributor_hours(db, whole):
        p = people.setdefault(
            r.contributor_id,
            {"name": names.get(r.contributor_id, pseudonym(r.contributor_id)), "labour_s": 0.0,
             "operated_busy_s": 0.0, "machine_credit_s": 0.0},
        )  # fmt: skip
        p["labour_s"] += r.labour_s
        p["operated_busy_s"] += r.operated_busy_s
        p["machine_credit_s"] += r.machine_credit_s
    for cid in earned:
        people.setdefault(
            cid,
            {"name": names.get(cid, pseudonym(cid)), "labour_s": 0.0, "operated_busy_s": 0.0,
             "machine_credit_s": 0.0},
        )  # fmt: skip
    for cid, p in people.items():
        p["earned"] = ", ".join(f"{format_minor(a, c)} {c}" for c, a in earned.get(cid, []))
    products: dict[tuple[int, str | None], dict[str, Any]] = {}
    for figures in product_figures(db, f):
        t = products.setdefault(
            (figures.product_id, figures.currency),
            {"product": figures.product, "currency": figures.currency, "labour_s": 0.0,
             "machine_s": 0.0, "net_minor": 0, "allocated_minor": 0},
        )  # fmt: skip
        for name in ("labour_s", "machine_s", "net_minor", "allocated_minor"):
            t[name] += getattr(figures, name)
    return {
        "since": since,
        "ledger_entries": summary.ledger_entries,
        "ledger_head": summary.ledger_head,
        "machines": _sum_machines(machine_hours(db, whole)),
        "products": list(products.values()),
        "totals": summary.totals,
        "people": sorted(people.values(), key=lambda p: str(p["name"])),
    }


def public_valueflows(db: Session) -> JSONResponse:
    """The Valueflows graph with every person renamed to their public name."""
    sync_derived_contributions(db)
    document = export_graph(db)
    names = {node_id("contributor", cid): name for cid, name in public_names(db).items()}
    for node in document["@graph"]:
        if node.get("@id") in names:
            node["name"] = names[node["@id"]]
    return JSONResponse(document, media_type=MEDIA_TYPE)
