"""The Valueflows JSON-LD export: events, claims and payouts that add up, and nothing private."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from app.api.keys import Role
from tests.accounting.sales.test_flow import post_stripe
from tests.lab.conftest import T0
from tests.shops import body_of, generic_headers, stripe_checkout, stripe_refund

URL = "/api/v1/export/valueflows"
VF = "https://w3id.org/valueflows/ont/vf#"


def _sell_and_pay(lab):
    """A 25.00 EUR Stripe sale, then a paid payout batch of every balance from 6.00."""
    sold = post_stripe(
        lab.client,
        stripe_checkout("evt_vf", "cs_vf", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]),
    )
    assert sold.status_code == 200, sold.text
    batch = lab.client.post(
        "/api/v1/payouts", json={"currency": "EUR", "minimum": "6.00"}, headers=lab.admin
    ).json()
    paid = lab.client.post(f"/api/v1/payouts/{batch['id']}/paid", headers=lab.admin)
    assert paid.status_code == 200, paid.text
    return batch


def _export(lab, headers=None, **params):
    response = lab.client.get(URL, params=params, headers=headers or lab.admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    return json.loads(response.text)


def _nodes(document, type_, action=None):
    return [
        n
        for n in document["@graph"]
        if n["@type"] == type_ and (action is None or n.get("action") == action)
    ]


def _value(node, quantity):
    return Decimal(node[quantity]["om2:hasNumericalValue"])


def _contributor(lab, person):
    return f"urn:labledger:contributor:{person['id']}"


def test_export_is_json_ld_with_the_valueflows_context(money_lab, key_for):
    document = _export(money_lab, headers=key_for(Role.VIEWER))
    context = document["@context"]
    assert context["vf"] == VF and context["@vocab"] == VF
    assert context["om2"] == "http://www.ontology-of-units-of-measure.org/resource/om-2/"
    assert context["xsd"] == "http://www.w3.org/2001/XMLSchema#"
    assert context["om2:hasNumericalValue"] == {"@type": "xsd:decimal"}
    ids = [node["@id"] for node in document["@graph"]]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("urn:labledger:") for i in ids)


def test_labour_is_work_in_hours_and_printer_time_is_use_credited_to_the_funder(money_lab):
    lab = money_lab
    document = _export(lab)
    work = {n["provider"]: n for n in _nodes(document, "EconomicEvent", "work")}
    ada = work[_contributor(lab, lab.ada)]
    assert _value(ada, "effortQuantity") == 2
    assert ada["effortQuantity"]["om2:hasUnit"] == "om2:hour"
    assert ada["hasBeginning"].startswith(T0.strftime("%Y-%m-%dT%H:%M"))
    assert ada["receiver"] == "urn:labledger:lab"
    assert ada["inScopeOf"] == f"urn:labledger:product:{lab.product['id']}"
    assert _value(work[_contributor(lab, lab.bob)], "effortQuantity") == 1
    (use,) = _nodes(document, "EconomicEvent", "use")
    assert use["provider"] == _contributor(lab, lab.funder)
    assert _value(use, "effortQuantity") == 3
    assert use["resourceInventoriedAs"] == f"urn:labledger:machine:{lab.printer['id']}"
    (printer,) = _nodes(document, "EconomicResource")
    assert printer["primaryAccountable"] == _contributor(lab, lab.funder)
    assert printer["name"] == "Printer A"


def test_sale_claims_and_payout_add_up_and_point_at_each_other(money_lab):
    lab = money_lab
    batch = _sell_and_pay(lab)
    document = _export(lab)
    (sale,) = [n for n in _nodes(document, "EconomicEvent", "transfer") if "sale-line" in n["@id"]]
    assert sale["provider"].endswith(":customer")
    assert sale["receiver"] == "urn:labledger:lab"
    assert sale["resourceQuantity"]["om2:hasNumericalValue"] == "25.00"
    assert sale["resourceQuantity"]["om2:hasUnit"] == "unit:CCY_EUR"

    claims = _nodes(document, "Claim")
    assert {c["triggeredBy"] for c in claims} == {sale["@id"]}
    assert all(c["provider"] == "urn:labledger:lab" for c in claims)
    assert sum(_value(c, "resourceQuantity") for c in claims) == Decimal("25.00")
    owed = {c["receiver"]: c["resourceQuantity"]["om2:hasNumericalValue"] for c in claims}
    assert owed[_contributor(lab, lab.ada)] == "10.00"
    assert owed[_contributor(lab, lab.funder)] == "7.50"
    assert owed["urn:labledger:contributor:1"] == "2.50"

    claim_ids = {c["@id"] for c in claims}
    payouts = [n for n in _nodes(document, "EconomicEvent", "transfer") if "settles" in n]
    assert len(payouts) == len(batch["items"]) == 2
    by_receiver = {p["receiver"]: p for p in payouts}
    ada = by_receiver[_contributor(lab, lab.ada)]
    assert ada["provider"] == "urn:labledger:lab"
    assert ada["resourceQuantity"]["om2:hasNumericalValue"] == "10.00"
    assert ada["settles"] and set(ada["settles"]) <= claim_ids
    settled = [c for c in claims if c["@id"] in ada["settles"]]
    assert {c["receiver"] for c in settled} == {_contributor(lab, lab.ada)}
    assert sum(_value(c, "resourceQuantity") for c in settled) == Decimal("10.00")
    agents = {n["@id"]: n for n in document["@graph"] if n["@type"] in ("Person", "Organization")}
    assert agents["urn:labledger:contributor:1"]["@type"] == "Organization"
    assert agents[_contributor(lab, lab.ada)] == {
        "@id": _contributor(lab, lab.ada),
        "@type": "Person",
        "name": "Ada",
    }


def test_claims_add_up_per_currency_to_what_is_owed_after_a_refund(money_lab):
    lab = money_lab
    post_stripe(
        lab.client,
        stripe_checkout(
            "evt_vr",
            "cs_vr",
            [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}],
            payment_intent="pi_vr",
        ),
    )
    refunded = post_stripe(lab.client, stripe_refund("evt_vrr", "pi_vr", 1001))
    assert refunded.json()["outcomes"] == ["refund_applied"]
    event = {
        "id": "g-vf",
        "type": "sale",
        "order": "o-vf",
        "currency": "JPY",
        "lines": [{"sku": "BOARD-R1", "quantity": 1, "amount_minor": 3001}],
    }
    body = body_of(event)
    sold = lab.client.post("/webhooks/generic", content=body, headers=generic_headers(body))
    assert sold.status_code == 200, sold.text
    claims = _nodes(_export(lab), "Claim")
    totals: dict[str, Decimal] = {}
    for c in claims:
        unit = c["resourceQuantity"]["om2:hasUnit"]
        totals[unit] = totals.get(unit, Decimal(0)) + _value(c, "resourceQuantity")
    assert totals == {"unit:CCY_EUR": Decimal("14.99"), "unit:CCY_JPY": Decimal(3001)}
    reversals = [c for c in claims if _value(c, "resourceQuantity") < 0]
    assert reversals and all("refund" in c["note"] for c in reversals)
    assert sum(_value(c, "resourceQuantity") for c in reversals) == Decimal("-10.01")


def test_a_later_payout_settles_only_claims_made_since_the_last(money_lab):
    lab = money_lab
    _sell_and_pay(lab)
    post_stripe(
        lab.client,
        stripe_checkout("evt_vf2", "cs_vf2", [{"sku": "BOARD-R1", "quantity": 1, "amount": 1000}]),
    )
    batch = lab.client.post(
        "/api/v1/payouts", json={"currency": "EUR", "minimum": "0.01"}, headers=lab.admin
    ).json()
    lab.client.post(f"/api/v1/payouts/{batch['id']}/paid", headers=lab.admin)
    document = _export(lab)
    claims = {c["@id"]: c for c in _nodes(document, "Claim")}
    ada = _contributor(lab, lab.ada)
    ada_payouts = [
        n for n in _nodes(document, "EconomicEvent", "transfer") if n.get("receiver") == ada
    ]
    assert [p["resourceQuantity"]["om2:hasNumericalValue"] for p in ada_payouts] == [
        "10.00",
        "4.00",
    ]
    first, second = (set(p["settles"]) for p in ada_payouts)
    assert first and second and not first & second
    assert sum(_value(claims[i], "resourceQuantity") for i in second) == Decimal("4.00")
    bob_payout = next(
        n
        for n in _nodes(document, "EconomicEvent", "transfer")
        if n.get("receiver") == _contributor(lab, lab.bob)
    )
    assert sum(_value(claims[i], "resourceQuantity") for i in bob_payout["settles"]) == Decimal(
        "7.00"
    )


def test_no_email_or_payout_details_appear(money_lab):
    lab = money_lab
    changed = lab.client.patch(
        f"/api/v1/contributors/{lab.ada['id']}",
        json={"email": "ada@example.org", "payout_details": "IBAN DE89 3704 0044 0532 0130 00"},
        headers=lab.admin,
    )
    assert changed.status_code == 200, changed.text
    _sell_and_pay(lab)
    response = lab.client.get(URL, headers=lab.admin)
    assert response.status_code == 200
    assert "Ada" in response.text
    for private in ("ada@example.org", "DE89", "IBAN", "email", "payout_details"):
        assert private not in response.text


def test_a_key_is_required(money_lab, key_for):
    assert money_lab.client.get(URL).status_code == 401
    assert money_lab.client.get(URL, headers=key_for(Role.DEVICE)).status_code == 403


def test_since_and_until_select_events_by_time(money_lab):
    lab = money_lab
    _sell_and_pay(lab)
    middle = (T0 + timedelta(hours=2, minutes=30)).isoformat()
    before = _export(lab, until=middle)
    assert [n["provider"] for n in _nodes(before, "EconomicEvent", "work")] == [
        _contributor(lab, lab.ada)
    ]
    assert not _nodes(before, "EconomicEvent", "use")
    assert not _nodes(before, "EconomicEvent", "transfer") and not _nodes(before, "Claim")

    after = _export(lab, since=middle)
    assert [n["provider"] for n in _nodes(after, "EconomicEvent", "work")] == [
        _contributor(lab, lab.bob)
    ]
    assert len(_nodes(after, "EconomicEvent", "use")) == 1
    assert len(_nodes(after, "EconomicEvent", "transfer")) == 3
    assert len(_nodes(after, "Claim")) == 4

    naive = _export(
        lab, until=(T0 + timedelta(hours=2, minutes=30)).replace(tzinfo=None).isoformat()
    )
    assert naive["@graph"] == before["@graph"]
    backwards = lab.client.get(
        URL, params={"since": middle, "until": T0.isoformat()}, headers=lab.admin
    )
    assert backwards.status_code == 422
    for bad in ("yesterday", "0001-01-01T00:00:00+05:00"):
        assert lab.client.get(URL, params={"since": bad}, headers=lab.admin).status_code == 422
