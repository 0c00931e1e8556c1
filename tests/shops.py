"""Signing webhook deliveries with each shop's real scheme, as the shops do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

STRIPE_SECRET = "whsec_test_secret"
SHOPIFY_SECRET = "hush"
WOO_SECRET = "wc_secret"
GENERIC_SECRET = "generic_secret"

SECRETS = {
    "stripe_webhook_secrets": STRIPE_SECRET,
    "shopify_webhook_secrets": SHOPIFY_SECRET,
    "woocommerce_webhook_secrets": WOO_SECRET,
    "generic_webhook_secrets": GENERIC_SECRET,
}


def body_of(payload: Any) -> bytes:
    return (
        payload
        if isinstance(payload, bytes)
        else json.dumps(payload, separators=(",", ":")).encode()
    )


def stripe_headers(
    body: bytes, secret: str = STRIPE_SECRET, t: int | None = None
) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


def generic_headers(
    body: bytes, secret: str = GENERIC_SECRET, t: int | None = None
) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-LabLedger-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


def _b64(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    body: bytes, topic: str, event_id: str, secret: str = SHOPIFY_SECRET
) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": _b64(body, secret),
        "X-Shopify-Topic": topic,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Shop-Domain": "lab.myshopify.com",
        "Content-Type": "application/json",
    }


def woo_headers(body: bytes, topic: str, secret: str = WOO_SECRET) -> dict[str, str]:
    return {
        "X-WC-Webhook-Signature": _b64(body, secret),
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Source": "https://shop.example/",
        "Content-Type": "application/json",
    }


def stripe_checkout(
    event_id: str,
    session_id: str,
    lines: list[dict],
    currency: str = "eur",
    fees: int | None = None,
    payment_intent: str | None = None,
) -> dict:
    metadata = {"lines": json.dumps(lines)}
    if fees is not None:
        metadata["fees"] = str(fees)
    return {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": sum(line["amount"] for line in lines),
                "currency": currency,
                "payment_status": "paid",
                "payment_intent": payment_intent or f"pi_{session_id}",
                "metadata": metadata,
            }
        },
    }


def stripe_refund(
    event_id: str,
    payment_intent: str,
    amount_refunded: int,
    previously: int = 0,
    currency: str = "eur",
) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"ch_{payment_intent}",
                "object": "charge",
                "amount": 10**9,
                "amount_refunded": amount_refunded,
                "currency": currency,
                "payment_intent": payment_intent,
            },
            "previous_attributes": {"amount_refunded": previously},
        },
    }
