"""The lab's economic events as a Valueflows 1.0 JSON-LD graph.

Terms are Valueflows' (`https://w3id.org/valueflows/ont/vf#`, the `@vocab`),
quantities are `om2:Measure`s: hours as `om2:hour`, money in the QUDT unit
of its ISO 4217 code (`unit:CCY_EUR`; OM 2 names only a few currencies).
Numbers are decimal strings typed `xsd:decimal`, never floats.

Mapping (every node has a stable `@id`, `urn:labledger:<table>:<id>`):

- approved contributions: `labour`, `design`, `documentation` -> `work`
  (effort in hours); `machine` -> `use` (effort in hours, the machine as the
  resource, provider = whoever the run was credited to); `citation` -> `cite`
  (effort in `om2:percent` or `om2:one` points); `money`, `materials` ->
  `transfer` (resource quantity in the currency). All go to the lab.
- each sale line -> `transfer` of its gross from the sale's (anonymous)
  customer to the lab, in scope of its product.
- each non-zero split share -> a `Claim` of the recipient on the lab,
  triggered by its line's transfer; a refund's reversal is a negative claim,
  so claims add up per currency to what the splits left payable.
- each item of a paid payout batch -> `transfer` from the lab to the
  contributor, settling (a documented simplification) every positive claim of
  theirs in that currency made up to the payment and after their previous paid
  payout in that currency.

Money back to a customer on a refund is not (yet) an event of its own; its
effect on what is owed is the negative claims. Hours are rounded half-even to
6 decimals (3.6 ms). Agents carry their public display name only: neither
emails nor payout details are ever read. `since`/`until`
select events by their time (contributions: when they occurred; sales: when
sold; claims: when made; payouts: when paid), `since <= t < until`. The
rows come from `app.accounting.valueflows.queries`; this module turns them
into nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from sqlalchemy import Row
from sqlmodel import Session

from app.accounting.contributions.tables import MS_PER_HOUR, Unit
from app.accounting.engine.equation import ContributionKind
from app.accounting.ledger.chain import rfc3339
from app.accounting.money import format_minor
from app.accounting.valueflows.queries import (
    claim_rows,
    contribution_rows,
    contributor_rows,
    machine_rows,
    payout_rows,
    product_rows,
    sale_line_rows,
    settled_claims,
)

__all__ = ["CONTEXT", "LAB_ID", "export_graph"]

VF: Final = "https://w3id.org/valueflows/ont/vf#"
OM2: Final = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"
QUDT_UNIT: Final = "http://qudt.org/vocab/unit/"
LAB_ID: Final = "urn:labledger:lab"

_REF: Final = {"@type": "@id"}
_TIME: Final = {"@type": "xsd:dateTime"}

CONTEXT: Final[dict[str, Any]] = {
    "@vocab": VF,
    "vf": VF,
    "om2": OM2,
    "xsd": XSD,
    "unit": QUDT_UNIT,
    "action": {"@id": "vf:action", "@type": "@vocab"},
    **{
        term: {"@id": f"vf:{term}", **_REF}
        for term in (
            "provider",
            "receiver",
            "inScopeOf",
            "resourceInventoriedAs",
            "resourceClassifiedAs",
            "primaryAccountable",
            "triggeredBy",
            "settles",
        )
    },
    **{
        term: {"@id": f"vf:{term}", **_TIME}
        for term in ("hasPointInTime", "hasBeginning", "hasEnd", "created")
    },
    "om2:hasUnit": {"@type": "@id"},
    "om2:hasNumericalValue": {"@type": "xsd:decimal"},
}

_WORK_KINDS: Final = frozenset(
    {ContributionKind.LABOUR, ContributionKind.DESIGN, ContributionKind.DOCUMENTATION}
)
_HOUR_DIGITS: Final = Decimal("0.000001")


# --- ids and measures ------------------------------------------------------


def node_id(kind: str, row_id: int) -> str:
    """The stable IRI of row `row_id` of `kind` (contributor, contribution, split-share ...)."""
    return f"urn:labledger:{kind}:{row_id}"


def _decimal_text(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 2.500000 -> "2.5"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def hours(ms: int) -> str:
    """Milliseconds as decimal hours, rounded half-even to 6 decimals."""
    value = (Decimal(ms) / MS_PER_HOUR).quantize(_HOUR_DIGITS, rounding=ROUND_HALF_EVEN)
    return _decimal_text(value)


def measure(value: str, unit: str) -> dict[str, Any]:
    """An om2:Measure of a decimal string in a unit (a compact IRI)."""
    return {"@type": "om2:Measure", "om2:hasNumericalValue": value, "om2:hasUnit": unit}


def money(minor: int, currency: str) -> dict[str, Any]:
    """An amount of minor units as a Measure in the currency's unit."""
    return measure(format_minor(minor, currency), f"unit:CCY_{currency}")


# --- contributions --------------------------------------------------------------


def _effort(row: Row[Any]) -> dict[str, Any]:
    """The effort of a time or citation contribution."""
    if row.unit == Unit.MS:
        return measure(hours(row.quantity), "om2:hour")
    if row.unit == Unit.BASIS_POINT:
        return measure(_decimal_text(Decimal(row.quantity).scaleb(-2)), "om2:percent")
    return measure(_decimal_text(Decimal(row.quantity).scaleb(-3)), "om2:one")


def contribution_event(row: Row[Any]) -> dict[str, Any]:
    """One approved contribution as an EconomicEvent given to the lab."""
    event: dict[str, Any] = {
        "@id": node_id("contribution", row.id),
        "@type": "EconomicEvent",
        "provider": node_id("contributor", row.contributor_id),
        "receiver": LAB_ID,
    }
    if row.kind in _WORK_KINDS:
        event["action"] = "work"
        event["resourceClassifiedAs"] = f"urn:labledger:kind:{row.kind}"
        event["effortQuantity"] = _effort(row)
    elif row.kind == ContributionKind.MACHINE:
        event["action"] = "use"
        event["effortQuantity"] = _effort(row)
        if row.machine_id is not None:
            event["resourceInventoriedAs"] = node_id("machine", row.machine_id)
    elif row.kind == ContributionKind.CITATION:
        event["action"] = "cite"
        event["effortQuantity"] = _effort(row)
        if row.revision:
            event["note"] = f"cites {row.revision}"
    else:
        event["action"] = "transfer"
        event["resourceClassifiedAs"] = f"urn:labledger:kind:{row.kind}"
        if row.currency:
            event["resourceQuantity"] = money(row.quantity, row.currency)
    begin = row.session_start or row.run_start
    end = row.session_end or row.run_end
    if begin is not None and end is not None:
        event["hasBeginning"] = rfc3339(begin)
        event["hasEnd"] = rfc3339(end)
    else:
        event["hasPointInTime"] = rfc3339(row.occurred_at)
    if row.product_id is not None:
        event["inScopeOf"] = node_id("product", row.product_id)
    return event


# --- sales and claims -----------------------------------------------------------


def sale_line_event(row: Row[Any]) -> dict[str, Any]:
    """A sold line as the transfer of its gross from the customer to the lab."""
    event: dict[str, Any] = {
        "@id": node_id("sale-line", row.id),
        "@type": "EconomicEvent",
        "action": "transfer",
        "provider": customer_id(row.sale_id),
        "receiver": LAB_ID,
        "resourceQuantity": money(row.gross_minor, row.currency),
        "hasPointInTime": rfc3339(row.occurred_at),
    }
    if row.product_id is not None:
        event["inScopeOf"] = node_id("product", row.product_id)
    return event


def customer_id(sale_id: int) -> str:
    """The anonymous customer of one sale."""
    return f"urn:labledger:sale:{sale_id}:customer"


def claim(row: Row[Any]) -> dict[str, Any]:
    """A split share as the recipient's claim on the lab."""
    node: dict[str, Any] = {
        "@id": node_id("split-share", row.id),
        "@type": "Claim",
        "action": "transfer",
        "provider": LAB_ID,
        "receiver": node_id("contributor", row.contributor_id),
        "resourceQuantity": money(row.amount_minor, row.currency),
        "triggeredBy": node_id("sale-line", row.sale_line_id),
        "inScopeOf": node_id("product", row.product_id),
        "created": rfc3339(row.created_at),
    }
    if row.kind == "refund":
        node["note"] = "reversal of claims on this line after a refund"
    return node


# --- payouts --------------------------------------------------------------------


def payout_event(row: Row[Any], settles: Sequence[int]) -> dict[str, Any]:
    """A paid payout item as a transfer from the lab that settles claims."""
    return {
        "@id": node_id("payout-item", row.id),
        "@type": "EconomicEvent",
        "action": "transfer",
        "provider": LAB_ID,
        "receiver": node_id("contributor", row.contributor_id),
        "resourceQuantity": money(row.amount_minor, row.currency),
        "hasPointInTime": rfc3339(row.paid_at),
        "settles": [node_id("split-share", share) for share in settles],
    }


# --- agents and resources ---------------------------------------------------------


def agent(row: Row[Any]) -> dict[str, Any]:
    """A contributor as a Person, the commons fund as an Organization: public name only."""
    return {
        "@id": node_id("contributor", row.id),
        "@type": "Organization" if row.is_commons_fund else "Person",
        "name": row.display_name,
    }


def machine_resource(row: Row[Any]) -> dict[str, Any]:
    """A machine as an EconomicResource accountable to its provider."""
    return {
        "@id": node_id("machine", row.id),
        "@type": "EconomicResource",
        "name": row.name,
        "primaryAccountable": node_id("contributor", row.provider_id),
    }


def product_specification(row: Row[Any]) -> dict[str, Any]:
    """A product as a ResourceSpecification, the scope of events and claims."""
    return {"@id": node_id("product", row.id), "@type": "ResourceSpecification", "name": row.name}


# --- the graph ------------------------------------------------------------------


def export_graph(
    db: Session, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """The JSON-LD document of the lab's events, claims and payouts in [since, until)."""
    contributions = contribution_rows(db, since, until)
    lines = sale_line_rows(db, since, until)
    claims = claim_rows(db, since, until)
    payouts = payout_rows(db, since, until)
    settles = settled_claims(db, (row.id for row in payouts))

    machine_ids = {r.machine_id for r in contributions if r.machine_id is not None}
    machines = machine_rows(db, machine_ids)
    people = {r.contributor_id for r in [*contributions, *claims, *payouts]}
    people |= {r.provider_id for r in machines}
    products = {r.product_id for r in [*contributions, *lines, *claims] if r.product_id is not None}

    lab = {"@id": LAB_ID, "@type": "Organization", "name": "The lab"}
    customers = [
        {"@id": customer_id(sale), "@type": "Agent", "name": f"Customer of sale {sale}"}
        for sale in sorted({r.sale_id for r in lines})
    ]
    graph = [
        lab,
        *(agent(r) for r in contributor_rows(db, people)),
        *customers,
        *(product_specification(r) for r in product_rows(db, products)),
        *(machine_resource(r) for r in machines),
        *(contribution_event(r) for r in contributions),
        *(sale_line_event(r) for r in lines),
        *(claim(r) for r in claims),
        *(payout_event(r, settles.get(r.id, [])) for r in payouts),
    ]
    return {"@context": CONTEXT, "@graph": graph}
