"""Whatever a signed or unsigned delivery carries, the answer is never a 500."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shops import body_of, generic_headers, shopify_headers, stripe_headers, woo_headers

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=15,
)

SHAPED = st.fixed_dictionaries(
    {
        "id": st.text(max_size=30),
        "type": st.sampled_from(
            ["sale", "refund", "checkout.session.completed", "charge.refunded", "x"]
        ),
        "order": st.text(max_size=20),
        "currency": st.sampled_from(["EUR", "JPY", "KWD", "XXX", "eur", "", "€"]),
        "lines": st.lists(
            st.fixed_dictionaries(
                {
                    "sku": st.text(max_size=10),
                    "quantity": st.integers(-2, 5),
                    "amount_minor": st.integers(-10, 10**20),
                }
            ),
            max_size=3,
        ),
    }
)


def _signed(route: str, body: bytes) -> dict[str, str]:
    if route == "stripe":
        return stripe_headers(body)
    if route == "generic":
        return generic_headers(body)
    if route == "shopify":
        return shopify_headers(body, "orders/paid", "fuzz")
    return woo_headers(body, "order.updated")


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=JSON | SHAPED, route=st.sampled_from(["stripe", "generic", "shopify", "woocommerce"])
)
def test_signed_garbage_never_500s(money_lab, payload, route):
    body = body_of(payload) if not isinstance(payload, bytes) else payload
    response = money_lab.client.post(
        f"/webhooks/{route}", content=body, headers=_signed(route, body)
    )
    assert response.status_code < 500, (route, payload, response.text)
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    header=st.text(max_size=80),
    route=st.sampled_from(["stripe", "generic", "shopify", "woocommerce"]),
)
def test_unsigned_bytes_are_refused_cleanly(money_lab, body, header, route):
    names = {
        "stripe": "Stripe-Signature",
        "generic": "X-LabLedger-Signature",
        "shopify": "X-Shopify-Hmac-Sha256",
        "woocommerce": "X-WC-Webhook-Signature",
    }
    response = money_lab.client.post(
        f"/webhooks/{route}",
        content=body,
        headers={names[route]: header.encode("ascii", "ignore").decode()},
    )
    assert response.status_code < 500
    assert response.status_code in (200, 400, 401), response.text
    if response.status_code == 200:
        assert route == "woocommerce" and json.loads(response.text)["outcomes"] == ["ping"]
