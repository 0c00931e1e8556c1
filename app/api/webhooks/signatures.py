"""Webhook signature checks over the raw body bytes, before any JSON parsing.

Every verifier takes the list of secrets currently configured for the
provider, so a secret can be rotated by adding the new one beside the old one
and removing the old one once the shop uses the new one. Empty secrets are
never used (an empty HMAC key is no key). Digests are compared with
`hmac.compare_digest`. Each verifier returns None when the delivery is
authentic and raises a `WebhookError` subclass otherwise; no other exception
escapes, whatever the header holds.

Schemes:

- Stripe (`Stripe-Signature`): `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`,
  other schemes (`v0`) ignored; `v1` is lower-case hex HMAC-SHA256 of
  `"<t>.<body>"`. Refused when `t` is more than `tolerance_s` from `now`, in the
  past (a replay) or in the future (a sender clock we cannot trust).
- Shopify (`X-Shopify-Hmac-Sha256`) and WooCommerce (`X-WC-Webhook-Signature`):
  base64 of HMAC-SHA256 of the body. (WooCommerce signs `trim(body)`, which is
  the body it sends: its JSON has no surrounding whitespace.) These carry no
  signed timestamp; replays are bounded by deduplicating event ids.
- Generic (`X-LabLedger-Signature`), LabLedger's own scheme for shops without a
  native one, identical to Stripe's so replays are bounded the same way:
  `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. A sender computes::

      t = str(int(time.time()))
      v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, "sha256").hexdigest()
      headers["X-LabLedger-Signature"] = f"t={t},v1={v1}"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence

from app.api.webhooks.errors import SignatureInvalid, SignatureMissing, TimestampOutOfTolerance

__all__ = [
    "GENERIC_HEADER",
    "is_woocommerce_ping",
    "verify_generic",
    "verify_shopify",
    "verify_stripe",
    "verify_woocommerce",
]

GENERIC_HEADER = "X-LabLedger-Signature"
DEFAULT_TOLERANCE_S = 300

# Longer than any honest header (a few rotated signatures); bounds the work.
_MAX_HEADER = 4096
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_WC_PING = re.compile(rb"webhook_id=[0-9]{1,20}")


def verify_stripe(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a `Stripe-Signature` header against the raw body."""
    _verify_timestamped(body, header, secrets, now, tolerance_s, "Stripe-Signature")


def verify_generic(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check LabLedger's own `X-LabLedger-Signature` header against the raw body."""
    _verify_timestamped(body, header, secrets, now, tolerance_s, GENERIC_HEADER)


def verify_shopify(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Check an `X-Shopify-Hmac-Sha256` header against the raw body."""
    _verify_base64(body, header, secrets, "X-Shopify-Hmac-Sha256")


def verify_woocommerce(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Check an `X-WC-Webhook-Signature` header against the raw body."""
    _verify_base64(body, header, secrets, "X-WC-Webhook-Signature")


def is_woocommerce_ping(body: bytes) -> bool:
    """Whether this is the unsigned `webhook_id=<id>` post WooCommerce sends on creation.

    It must be answered 200 and otherwise ignored: it carries no order.
    """
    return _WC_PING.fullmatch(body.strip()) is not None


def _keys(secrets: Sequence[str], name: str) -> list[bytes]:
    """The usable secrets as bytes; none configured refuses every delivery."""
    if isinstance(secrets, str | bytes):
        raise TypeError("secrets must be a list of secrets, not one string")
    keys = [secret.encode() for secret in secrets if isinstance(secret, str) and secret]
    if not keys:
        raise SignatureInvalid(f"no secret is configured to check {name}; delivery refused")
    return keys


def _header_text(header: str | None, name: str) -> str:
    """The stripped header, or SignatureMissing when it is absent or blank."""
    if header is None or not isinstance(header, str) or not header.strip():
        raise SignatureMissing(f"the {name} header is missing")
    if len(header) > _MAX_HEADER:
        raise SignatureInvalid(f"the {name} header is too long")
    return header.strip()


def _verify_timestamped(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    now: int,
    tolerance_s: int,
    name: str,
) -> None:
    """Stripe's scheme: HMAC-SHA256 hex of "<t>.<body>", any v1 may match, t near now."""
    if tolerance_s < 0:
        raise ValueError("tolerance_s cannot be negative")
    text = _header_text(header, name)
    timestamps: list[str] = []
    candidates: list[bytes] = []
    for item in text.split(","):
        scheme, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if scheme == "t":
            timestamps.append(value.strip())
        elif scheme == "v1" and _HEX_SHA256.fullmatch(value.strip()):
            candidates.append(value.strip().encode("ascii"))
    if len(timestamps) != 1 or not _UNIX_SECONDS.fullmatch(timestamps[0]):
        raise SignatureInvalid(f"the {name} header needs exactly one t=<unix seconds>")
    if not candidates:
        raise SignatureInvalid(f"the {name} header has no v1 signature of 64 hex digits")
    signed_at = int(timestamps[0])
    signed = f"{signed_at}.".encode() + body
    expected = [
        hmac.new(key, signed, hashlib.sha256).hexdigest().encode("ascii")
        for key in _keys(secrets, name)
    ]
    # Every pair is compared, so the time taken says nothing about which matched.
    matched = False
    for digest in expected:
        for candidate in candidates:
            matched |= hmac.compare_digest(digest, candidate)
    if not matched:
        raise SignatureInvalid(f"no {name} v1 signature matches the body with a configured secret")
    age = now - signed_at
    if age > tolerance_s:
        raise TimestampOutOfTolerance(
            f"{name} was signed {age} s ago, more than the {tolerance_s} s allowed (a replay?)"
        )
    if -age > tolerance_s:
        raise TimestampOutOfTolerance(
            f"{name} is signed {-age} s in the future, more than the {tolerance_s} s allowed "
            "(check the sender's clock)"
        )


def _verify_base64(body: bytes, header: str | None, secrets: Sequence[str], name: str) -> None:
    """Shopify's and WooCommerce's scheme: base64 of HMAC-SHA256 of the body."""
    text = _header_text(header, name)
    try:
        received = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise SignatureInvalid(f"the {name} header is not base64") from None
    if len(received) != hashlib.sha256().digest_size:
        raise SignatureInvalid(f"the {name} header is not a base64 SHA-256 digest")
    matched = False
    for key in _keys(secrets, name):
        matched |= hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), received)
    if not matched:
        raise SignatureInvalid(f"the {name} signature matches the body with no configured secret")
