"""Shop webhook bodies normalised into `ShopEvent`s, the one shape accounting reads.

Call `load_json(body)` on the raw bytes once the signature has been checked,
then the provider's parser. Every parser returns a tuple of events (a delivery
can carry several facts: a WooCommerce order with its refunds, a lost Stripe
dispute); a delivery that moves no money comes back as one `ignored` event.
Anything unreadable raises `PayloadInvalid` naming the field and why; no other
exception escapes. `received_at` is used only when the shop's own time is
absent. Money is in the ledger's minor units (`app.accounting.money`). The
shape itself and its keys are described in `app.accounting.sales.events`.

Stripe (`parse_stripe`, the event JSON)
    - `checkout.session.completed` with `payment_status` "paid", and
      `checkout.session.async_payment_succeeded` -> sale of `amount_total`.
      Stripe's lines are not in the event, so a lab that wants them allocated
      puts them in the session's metadata: `metadata.lines` = a JSON text of
      `[{"sku": "BOARD-R1", "quantity": 2, "amount": 5000}]`, `amount` being
      the line total in Stripe's integer unit (metadata values are strings of
      at most 500 characters, so this suits a few lines). Without it, or when
      it cannot be read, the whole total is one unallocated line (sku None)
      whose description says why; the sale itself is never refused for it.
    - Fees: Stripe puts its fee on the balance transaction, not in these
      events; `fees_minor` is `metadata.fees` (an integer string in Stripe's
      unit) when the lab records it there, else None.
    - Linking: the order key is the `payment_intent` id, which the checkout
      session, its charge and any dispute all carry; without one,
      `metadata.order`, else the object's own id.
    - `charge.refunded` -> refund of what this refund added: `amount_refunded`
      (cumulative on the charge) minus `data.previous_attributes.amount_refunded`
      (0 when absent).
    - `charge.dispute.created` -> hold of the disputed `amount`;
      `charge.dispute.closed` -> release when `won` or `warning_closed`; when
      `lost`, a release (`<evt>:release`) and a refund (`<evt>:refund`) of the
      disputed amount, so every hold is released exactly once.
    - Amounts are converted from Stripe's unit (ISK counts hundredths there).
Shopify (`parse_shopify`, `X-Shopify-Topic`, body)
    - `orders/paid`, and `orders/create` when `financial_status` is paid,
      partially_refunded or refunded -> sale; order key = the order `id`, so
      both topics name the same sale. Shop money (`*_set.shop_money`, else
      the plain fields, which Shopify gives in shop currency), never
      presentment money. Line = `price` x `quantity` minus its
      `discount_allocations` (else `total_discount`), minus its `tax_lines`
      when `taxes_included`; `total_price` less the lines is one unallocated
      line (shipping, tax). No fees are reported on orders: `fees_minor` None.
    - `refunds/create` -> refund of the `refund` transactions not failed,
      linked by `order_id`, with `refund_line_items` as refund lines.
    - Event id: `<topic>:<id>` from the signed body (the order's or the
      refund's own id); the unsigned `X-Shopify-Event-Id` header is never
      the key, so a replay under a new header is still a duplicate.
WooCommerce (`parse_woocommerce`, `X-WC-Webhook-Topic`, body)
    - Status processing, completed or refunded -> sale, event id
      `<order id>:sale` whatever the delivery, so processing then completed
      count once (`X-WC-Webhook-Delivery-ID` changes per delivery and the
      modified date changes per update: neither can be the key).
      Lines: `line_items[].total` (after discounts, before tax); `fee_lines`
      are surcharges the customer paid, so they are unallocated revenue lines,
      not costs; the rest of `total` (shipping, tax) is one unallocated line.
      Processing fees come from the payment plugin's order meta
      (`_stripe_fee`, `PayPal Transaction Fee`) when present, else None.
    - Each `refunds[]` entry -> refund, event id `<order id>:refund:<refund id>`,
      so each refund counts once however many later deliveries repeat it.
      Status `refunded` adds no refund of its own: WooCommerce records every
      refund, the automatic full one included, in `refunds`.
    - One configured WooCommerce site per LabLedger: order ids are per site.
Generic (`parse_generic`), signed with `X-LabLedger-Signature` (see `signatures`)::

    {"id": "evt-1",                 unique per fact; redeliveries repeat it
     "type": "sale" | "refund",
     "order": "A-1001",             the order key; a refund names its sale's
     "occurred_at": "2024-05-01T10:00:00Z",   RFC 3339 with zone (optional)
     "currency": "EUR",
     "lines": [{"sku": "BOARD-R1" | null, "quantity": 1, "amount_minor": 2500,
                "description": "..."}],       refund: which lines, optional
     "amount_minor": 2500,         sale: total (default: sum of lines; any
                                   rest becomes an unallocated line);
                                   refund: required, > 0
     "fees_minor": 75,             optional, sale only
     "reference": "...", "test": false}       optional

    All amounts are JSON integers in the currency's minor unit (ISO 4217:
    JPY 0, EUR 2, KWD 3 digits): 2500 EUR is 25.00. The old names `amount`
    and `fees` are refused with an error naming the new field.
"""

from __future__ import annotations

from app.accounting.sales.events import EventKind, RefundLine, SaleLine, ShopEvent
from app.api.webhooks._generic import parse_generic
from app.api.webhooks._read import load_json
from app.api.webhooks._shopify import parse_shopify
from app.api.webhooks._stripe import parse_stripe
from app.api.webhooks._woocommerce import parse_woocommerce

__all__ = [
    "EventKind",
    "RefundLine",
    "SaleLine",
    "ShopEvent",
    "load_json",
    "parse_generic",
    "parse_shopify",
    "parse_stripe",
    "parse_woocommerce",
]
