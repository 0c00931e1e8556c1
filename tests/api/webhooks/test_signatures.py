"""Webhook signature checks against the shops' own vectors, rotation, tampering and garbage."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.api.webhooks.errors import (
    SignatureInvalid,
    SignatureMissing,
    TimestampOutOfTolerance,
    WebhookError,
)
from app.api.webhooks.signatures import (
    is_woocommerce_ping,
    verify_generic,
    verify_shopify,
    verify_stripe,
    verify_woocommerce,
)

ASSETS = Path(__file__).parents[2] / "assets" / "webhooks"
STRIPE_BODY = (ASSETS / "stripe_checkout_session_completed.json").read_bytes()
SHOPIFY_BODY = (ASSETS / "shopify_order.json").read_bytes()
WOO_BODY = (ASSETS / "woocommerce_order.json").read_bytes()

STRIPE_SECRET = "whsec_test_secret"
STRIPE_T = 1700000000
STRIPE_V1 = "7102d36dc27e12c6a12db6cc17eff903231d6d509c2c90bb3f31676ccae82b44"
STRIPE_HEADER = f"t={STRIPE_T},v1={STRIPE_V1}"
SHOPIFY_SECRET = "hush"
SHOPIFY_HMAC = "JpB7SZSPrtRCOQykx+H/E6alwkkGxqCHGJymNHtgRqw="
WOO_SECRET = "wc_secret"
WOO_SIGNATURE = "sdwxgzuL0VaJdyl91jvFmsPy4JnDdybMPFo14uIk1Oc="
STALE_V1 = "0" * 64


def timestamped(secret: str, t: int, body: bytes) -> str:
    """A Stripe-style header computed here, independently of the code under test."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_the_vector_bodies_are_the_documented_bytes():
    assert len(STRIPE_BODY) == 198
    assert not STRIPE_BODY.endswith(b"\n")
    assert SHOPIFY_BODY.startswith(b'{"id":820982911946154508,')
    assert WOO_BODY.startswith(b'{"id":4750,"status":"processing"')


@pytest.mark.parametrize("now", [STRIPE_T, STRIPE_T + 300, STRIPE_T - 300])
def test_stripe_vector_is_accepted_within_tolerance(now):
    assert verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], now) is None


def test_stripe_vector_is_accepted_with_a_stale_v1_in_front_and_a_v0():
    header = f"t={STRIPE_T},v1={STALE_V1},v1={STRIPE_V1},v0={STALE_V1}"
    verify_stripe(STRIPE_BODY, header, [STRIPE_SECRET], STRIPE_T + 10)


def test_stripe_vector_is_refused_when_signed_long_ago():
    with pytest.raises(TimestampOutOfTolerance) as caught:
        verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T + 301)
    assert caught.value.status == 401
    assert "301 s ago" in caught.value.message


def test_stripe_vector_is_refused_when_now_is_far_past_t():
    with pytest.raises(TimestampOutOfTolerance):
        verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T + 86_400 * 30)


def test_stripe_signature_from_the_future_is_refused():
    with pytest.raises(TimestampOutOfTolerance) as caught:
        verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T - 301)
    assert "future" in caught.value.message


def test_stripe_tolerance_is_configurable():
    verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T + 500, tolerance_s=600)
    with pytest.raises(TimestampOutOfTolerance):
        verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T + 61, tolerance_s=60)


def test_stripe_accepts_either_secret_during_rotation():
    old, new = "whsec_old", STRIPE_SECRET
    verify_stripe(STRIPE_BODY, STRIPE_HEADER, [old, new], STRIPE_T)
    verify_stripe(STRIPE_BODY, timestamped(old, STRIPE_T, STRIPE_BODY), [old, new], STRIPE_T)
    with pytest.raises(SignatureInvalid):
        verify_stripe(STRIPE_BODY, STRIPE_HEADER, [old], STRIPE_T)


def test_stripe_refuses_a_tampered_body():
    tampered = STRIPE_BODY.replace(b"2500", b"2501")
    assert tampered != STRIPE_BODY
    with pytest.raises(SignatureInvalid):
        verify_stripe(tampered, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T)


def test_stripe_refuses_a_timestamp_changed_without_resigning():
    header = f"t={STRIPE_T + 1},v1={STRIPE_V1}"
    with pytest.raises(SignatureInvalid):
        verify_stripe(STRIPE_BODY, header, [STRIPE_SECRET], STRIPE_T)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_stripe_missing_header_is_signature_missing(header):
    with pytest.raises(SignatureMissing) as caught:
        verify_stripe(STRIPE_BODY, header, [STRIPE_SECRET], STRIPE_T)
    assert caught.value.status == 401
    assert caught.value.code == "signature_missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={STRIPE_V1}",
        f"t={STRIPE_T}",
        f"t=abc,v1={STRIPE_V1}",
        f"t=-1,v1={STRIPE_V1}",
        f"t={STRIPE_T},t={STRIPE_T},v1={STRIPE_V1}",
        f"t={STRIPE_T},v1={STRIPE_V1.upper()}",
        f"t={STRIPE_T},v1={STRIPE_V1[:-2]}",
        f"t={STRIPE_T},v0={STRIPE_V1}",
        f"t={STRIPE_T},v1=é{STRIPE_V1[1:]}",
        "t=1" + ",v1=" * 3000,
    ],
)
def test_stripe_garbage_headers_are_signature_invalid(header):
    with pytest.raises(SignatureInvalid):
        verify_stripe(STRIPE_BODY, header, [STRIPE_SECRET], STRIPE_T)


def test_no_configured_secret_refuses_every_delivery():
    with pytest.raises(SignatureInvalid) as caught:
        verify_stripe(STRIPE_BODY, STRIPE_HEADER, [], STRIPE_T)
    assert "no secret is configured" in caught.value.message
    with pytest.raises(SignatureInvalid):
        verify_shopify(SHOPIFY_BODY, SHOPIFY_HMAC, [""])


def test_a_bare_string_is_not_taken_for_a_list_of_one_character_secrets():
    with pytest.raises(TypeError):
        verify_shopify(SHOPIFY_BODY, SHOPIFY_HMAC, SHOPIFY_SECRET)


def test_an_empty_secret_is_never_a_key():
    header = timestamped("", STRIPE_T, STRIPE_BODY)
    with pytest.raises(SignatureInvalid):
        verify_stripe(STRIPE_BODY, header, ["", STRIPE_SECRET], STRIPE_T)


def test_messages_never_contain_secrets_or_payload():
    tampered = STRIPE_BODY.replace(b"evt_test_1", b"evt_test_2")
    for call in (
        lambda: verify_stripe(tampered, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T),
        lambda: verify_stripe(STRIPE_BODY, STRIPE_HEADER, [STRIPE_SECRET], STRIPE_T + 10**6),
        lambda: verify_shopify(tampered, SHOPIFY_HMAC, [SHOPIFY_SECRET]),
    ):
        with pytest.raises(WebhookError) as caught:
            call()
        text = str(caught.value)
        for secret in (STRIPE_SECRET, SHOPIFY_SECRET, "evt_test", "2500", STRIPE_V1):
            assert secret not in text


def test_shopify_vector_is_accepted():
    assert verify_shopify(SHOPIFY_BODY, SHOPIFY_HMAC, [SHOPIFY_SECRET]) is None


def test_shopify_accepts_old_and_new_secret():
    verify_shopify(SHOPIFY_BODY, SHOPIFY_HMAC, ["new-secret", SHOPIFY_SECRET])
    verify_shopify(SHOPIFY_BODY, SHOPIFY_HMAC, [SHOPIFY_SECRET, "new-secret"])
    with pytest.raises(SignatureInvalid):
        verify_shopify(SHOPIFY_BODY, SHOPIFY_HMAC, ["new-secret"])


def test_shopify_refuses_a_tampered_body():
    with pytest.raises(SignatureInvalid):
        verify_shopify(SHOPIFY_BODY + b" ", SHOPIFY_HMAC, [SHOPIFY_SECRET])


@pytest.mark.parametrize(
    "header", ["not base64!", "JpB7SZSPrtRCOQykx", SHOPIFY_HMAC + "AAAA", "Jp€7", "==="]
)
def test_shopify_garbage_headers_are_signature_invalid(header):
    with pytest.raises(SignatureInvalid):
        verify_shopify(SHOPIFY_BODY, header, [SHOPIFY_SECRET])


def test_shopify_missing_header_is_signature_missing():
    with pytest.raises(SignatureMissing):
        verify_shopify(SHOPIFY_BODY, None, [SHOPIFY_SECRET])


def test_woocommerce_vector_is_accepted():
    assert verify_woocommerce(WOO_BODY, WOO_SIGNATURE, [WOO_SECRET]) is None


def test_woocommerce_rotation_tampering_and_missing():
    verify_woocommerce(WOO_BODY, WOO_SIGNATURE, ["other", WOO_SECRET])
    with pytest.raises(SignatureInvalid):
        verify_woocommerce(WOO_BODY.replace(b"25.00", b"2.50"), WOO_SIGNATURE, [WOO_SECRET])
    with pytest.raises(SignatureInvalid):
        verify_woocommerce(WOO_BODY, SHOPIFY_HMAC, [WOO_SECRET])
    with pytest.raises(SignatureMissing):
        verify_woocommerce(WOO_BODY, "", [WOO_SECRET])


def test_woocommerce_creation_ping_is_recognised():
    assert is_woocommerce_ping(b"webhook_id=17")
    assert not is_woocommerce_ping(WOO_BODY)
    assert not is_woocommerce_ping(b"webhook_id=17&x=1")


def test_generic_scheme_is_stripes_over_the_raw_body():
    body = b'{"id":"evt-1","type":"sale"}'
    header = timestamped("lab-secret", 1_800_000_000, body)
    verify_generic(body, header, ["lab-secret"], 1_800_000_100)
    with pytest.raises(TimestampOutOfTolerance):
        verify_generic(body, header, ["lab-secret"], 1_800_000_301)
    with pytest.raises(TimestampOutOfTolerance):
        verify_generic(body, header, ["lab-secret"], 1_799_999_699)
    with pytest.raises(SignatureInvalid):
        verify_generic(body + b"x", header, ["lab-secret"], 1_800_000_000)
    with pytest.raises(SignatureMissing):
        verify_generic(body, None, ["lab-secret"], 1_800_000_000)


header_text = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.builds(
        lambda t, sigs: f"t={t}," + ",".join(f"v1={s}" for s in sigs),
        st.one_of(st.integers(), st.text(max_size=20)),
        st.lists(st.one_of(st.text(max_size=70), st.just(STRIPE_V1)), max_size=4),
    ),
)


@given(body=st.binary(max_size=300), header=header_text, now=st.integers(0, 2**40))
def test_verifiers_raise_only_webhook_errors_on_any_header(body, header, now):
    for call in (
        lambda: verify_stripe(body, header, [STRIPE_SECRET], now),
        lambda: verify_generic(body, header, ["a", "b"], now),
        lambda: verify_shopify(body, header, [SHOPIFY_SECRET]),
        lambda: verify_woocommerce(body, header, [WOO_SECRET]),
    ):
        try:
            call()
        except WebhookError as exc:
            assert exc.status in (400, 401)
        else:
            pytest.fail("an arbitrary header was accepted")
