"""Examples of every request body, by operation id; the value equations' are the worked
examples of docs/equations.md. A test validates each against its route's body model."""

from __future__ import annotations

from typing import Any

Examples = dict[str, dict[str, Any]]


def _one(summary: str, value: Any) -> Examples:
    return {"example": {"summary": summary, "value": value}}


_COMMONS_FUND = {
    "summary": "A commons fund: a fifth to the commons, the rest by hours",
    "value": {
        "effective_from": "2026-01-01T00:00:00Z",
        "buckets": [
            {"name": "commons", "mode": "straight", "percent": "20", "paid_to": "commons_fund"},
            {"name": "makers", "mode": "remaining", "percent": "100"},
        ],
        "note": "a fifth to the commons fund",
    },
}
_CAPPED_FUNDER = {
    "summary": "An equipment funder paid 25 % until 2000.00 EUR is repaid",
    "value": {
        "effective_from": "2026-01-01T00:00:00Z",
        "buckets": [
            {"name": "commons", "mode": "straight", "percent": "10", "paid_to": "commons_fund"},
            {
                "name": "printer loan",
                "mode": "straight",
                "percent": "25",
                "paid_to": "contributor",
                "contributor_id": 2,
                "cap": "2000.00",
            },
            {"name": "makers", "mode": "remaining", "percent": "100"},
        ],
        "cap_currency": "EUR",
        "note": "the printer loan is paid back first",
    },
}
_LABOUR_BY_ROLE = {
    "summary": "Labour by role: design hours count double",
    "value": {
        "effective_from": "2026-01-01T00:00:00Z",
        "rates": {
            "labour_per_hour": "1",
            "labour_by_role": {"designer": "2", "technician": "1.5"},
            "machine_per_hour": "0.5",
            "machine_by_kind": {"laser": "1"},
        },
        "buckets": [
            {"name": "commons", "mode": "straight", "percent": "10", "paid_to": "commons_fund"},
            {"name": "makers", "mode": "remaining", "percent": "100"},
        ],
        "note": "design hours count double",
    },
}

REQUEST_EXAMPLES: dict[str, Examples] = {
    "create_contributor": _one(
        "A maker",
        {
            "name": "Ada Moreau",
            "email": "ada@lab.example",
            "display_name": "Ada",
            "role": "designer",
            "payout_details": "IBAN FR76 0000 0000 0000 0000 0000 000",
        },
    ),
    "update_contributor": _one("A new role", {"role": "technician"}),
    "enrol_badge": _one(
        "A card by its printed number", {"card_id": "0012771493", "contributor_id": 2}
    ),
    "update_badge": _one("Revoke a lost card", {"status": "revoked", "label": "lost 2026-03"}),
    "create_machine": {
        "bambu": {
            "summary": "A Bambu printer (relayed by labbridge)",
            "value": {
                "name": "X1C left",
                "kind": "printer",
                "adapter": "bambu",
                "address": "01S00A000000000",
                "provider_id": 2,
            },
        },
        "tasmota": {
            "summary": "A laser on a Tasmota plug",
            "value": {
                "name": "Laser",
                "kind": "laser",
                "adapter": "tasmota",
                "address": "laser",
                "running_threshold_w": 40,
            },
        },
    },
    "update_machine": _one("A longer idle timeout", {"idle_timeout_s": 3600}),
    "create_reader": {
        "machine": {
            "summary": "A reader at a machine, its sessions counted for a product",
            "value": {"name": "x1c-left-reader", "machine_id": 1, "product_id": 1},
        },
        "serial": {
            "summary": "A serial RDM6300 reader at the door",
            "value": {
                "name": "door",
                "protocol": "rdm6300",
                "address": "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0@9600",
            },
        },
    },
    "update_reader": _one("Move a reader to another machine", {"machine_id": 2}),
    "create_product": _one(
        "A kit sold under two SKUs",
        {
            "name": "Air quality sensor kit",
            "description": "CO2/PM2.5 sensor: printed case, laser-cut lid, PCB.",
            "skus": ["AQ-KIT-1", "AQ-CASE"],
        },
    ),
    "update_product": _one("Another SKU list", {"skus": ["AQ-KIT-1", "AQ-KIT-2"]}),
    "tag_session": _one("Count a session for a product", {"product_id": 1}),
    "assign_run": _one(
        "Give an unattributed run its operator", {"operator_id": 2, "product_id": 1}
    ),
    "post_badge_event": _one(
        "A scan at an HTTP reader", {"reader": "door", "badge": "0012771493", "id": "door-000812"}
    ),
    "post_machine_event": _one(
        "A machine reporting a job",
        {
            "machine": "Bench PSU",
            "state": "running",
            "at": "2026-03-02T10:15:00Z",
            "job": "burn-in",
            "progress": 40,
            "id": "psu-0001",
        },
    ),
    "allocate_sale_line": _one("Give an unmatched line its product", {"product_id": 1}),
    "void_sale": _one(
        "A sale sent in the wrong unit", {"reason": "amount sent as 5000 meaning 50.00"}
    ),
    "make_payout_batch": _one(
        "Pay every EUR balance of 10.00 or more", {"currency": "EUR", "minimum": "10.00"}
    ),
    "add_contribution": {
        "labour": {
            "summary": "Hours of labour in a role",
            "value": {
                "kind": "labour",
                "contributor_id": 2,
                "product_id": 1,
                "hours": "3.5",
                "role": "designer",
                "note": "PCB layout rev B",
            },
        },
        "money": {
            "summary": "Money put in",
            "value": {
                "kind": "money",
                "contributor_id": 3,
                "product_id": 1,
                "amount": "250.00",
                "currency": "EUR",
            },
        },
        "citation": {
            "summary": "A citation of a design revision",
            "value": {
                "kind": "citation",
                "contributor_id": 4,
                "product_id": 1,
                "revision": "github.com/lab/aq-sensor@a1b2c3d",
                "points": "5",
            },
        },
    },
    "reject_contribution": _one("Why", {"reason": "already paid by the grant"}),
    "exclude_contribution": _one("Why", {"reason": "counted on another product"}),
    "create_group": _one("All the FDM printers", {"name": "FDM printers", "machine_ids": [1, 2]}),
    "update_group": _one("Another printer joins", {"machine_ids": [1, 2, 3]}),
    "appoint_trainer": _one("A trainer for a machine group", {"contributor_id": 4, "group_id": 1}),
    "grant_induction": {
        "machine": {
            "summary": "An induction on the laser, for a year",
            "value": {
                "contributor_id": 2,
                "machine_id": 3,
                "trainer_id": 4,
                "granted_at": "2026-03-02T10:00:00Z",
                "expires_at": "2027-03-02T10:00:00Z",
                "note": "focus, fume extraction, fire blanket",
            },
        },
        "group": {
            "summary": "Every FDM printer, no expiry",
            "value": {"contributor_id": 2, "group_id": 1, "trainer_id": 4},
        },
    },
    "revoke_induction": _one("Why", {"reason": "left the laser running unattended"}),
    "create_api_key": {
        "device": _one(
            "A key for the door reader's bridge", {"name": "door bridge", "role": "device"}
        )["example"],
        "expiring": _one(
            "A viewer key for a visiting auditor, valid until the end of the year",
            {"name": "auditor", "role": "viewer", "expires_at": "2026-12-31T23:59:59Z"},
        )["example"],
    },
    "rotate_api_key": {
        "now": _one("Replace the key and revoke the old one now", {})["example"],
        "grace": _one(
            "Replace the key; the old one keeps working for a day while devices are updated",
            {"keep_old_for_s": 86400},
        )["example"],
    },
    "add_equation": {
        "commons_fund": _COMMONS_FUND,
        "capped_funder": _CAPPED_FUNDER,
        "labour_by_role": _LABOUR_BY_ROLE,
    },
}

_GENERIC_SALE = {
    "id": "evt-2026-0042",
    "type": "sale",
    "order": "order-1017",
    "occurred_at": "2026-03-02T10:15:00Z",
    "currency": "EUR",
    "lines": [
        {"sku": "BOARD-R1", "quantity": 2, "amount_minor": 5000, "description": "Board rev 1"}
    ],
    "fees_minor": 145,
    "reference": "invoice 1017",
}

# Webhook bodies are read raw (the signature covers the exact bytes), so FastAPI does
# not see them: they are documented here, in each shop's own format.
WEBHOOK_BODIES: dict[str, tuple[str, Examples]] = {
    "generic_webhook": (
        "LabLedger's generic format, signed with X-LabLedger-Signature (docs/webhooks.md); "
        "every amount is an integer in the currency's minor unit (5000 EUR = 50.00).",
        {
            "sale": {"summary": "A sale", "value": _GENERIC_SALE},
            "refund": {
                "summary": "A refund",
                "value": {
                    "id": "evt-2026-0043",
                    "type": "refund",
                    "order": "order-1017",
                    "currency": "EUR",
                    "amount_minor": 2500,
                },
            },
        },
    ),
    "stripe_webhook": (
        "A Stripe event, signed with Stripe-Signature.",
        _one(
            "checkout.session.completed, lines in metadata",
            {
                "id": "evt_1Ov0",
                "type": "checkout.session.completed",
                "created": 1772446500,
                "data": {
                    "object": {
                        "id": "cs_test_a1",
                        "object": "checkout.session",
                        "payment_status": "paid",
                        "currency": "eur",
                        "amount_total": 5000,
                        "metadata": {
                            "lines": '[{"sku": "BOARD-R1", "quantity": 2, "amount": 5000}]'
                        },
                    }
                },
            },
        ),
    ),
    "shopify_webhook": (
        "A Shopify order (topic in X-Shopify-Topic), signed with X-Shopify-Hmac-Sha256.",
        _one(
            "orders/paid",
            {
                "id": 820982911946154500,
                "currency": "EUR",
                "financial_status": "paid",
                "total_price": "50.00",
                "line_items": [{"sku": "BOARD-R1", "quantity": 2, "price": "25.00"}],
            },
        ),
    ),
    "woocommerce_webhook": (
        "A WooCommerce order (topic in X-WC-Webhook-Topic), signed with X-WC-Webhook-Signature.",
        _one(
            "order.updated to processing",
            {
                "id": 1017,
                "status": "processing",
                "currency": "EUR",
                "total": "50.00",
                "line_items": [{"sku": "BOARD-R1", "quantity": 2, "total": "50.00"}],
            },
        ),
    ),
}


def document_examples(schema: dict[str, Any]) -> None:
    """Put the examples on each operation's request body, and describe the webhooks' bodies."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            name = operation.get("operationId")
            body = operation.get("requestBody")
            if body is not None and name in REQUEST_EXAMPLES:
                for media in body.get("content", {}).values():
                    media["examples"] = REQUEST_EXAMPLES[name]
            if name in WEBHOOK_BODIES:
                description, examples = WEBHOOK_BODIES[name]
                operation["requestBody"] = {
                    "required": True,
                    "description": description,
                    "content": {
                        "application/json": {"schema": {"type": "object"}, "examples": examples}
                    },
                }
