"""Errors a webhook delivery can be refused with.

::

    WebhookError (LabLedgerError) code, message, status
    +-- SignatureMissing          401  no signature header
    +-- SignatureInvalid          401  header malformed or no secret matches
    +-- TimestampOutOfTolerance   401  signed too long ago, or in the future
    +-- PayloadInvalid            400  signed correctly but not a payload we can read

Messages can be returned to the sender and logged: signature errors never
quote a secret, a signature or the body; payload errors name the field and
why, quoting at most a short offending value (an amount, a currency code).
"""

from __future__ import annotations

from app.errors import LabLedgerError


class WebhookError(LabLedgerError):
    """A webhook delivery refused, with a stable code and an HTTP status (400 or 401).

    Being a `LabLedgerError`, it reaches the sender as the project's JSON error
    body through `app.api.errors`.
    """

    code = "webhook_error"
    status = 400


class SignatureMissing(WebhookError):
    """The delivery carries no signature header."""

    code = "signature_missing"
    status = 401


class SignatureInvalid(WebhookError):
    """The signature header is malformed or matches none of the secrets."""

    code = "signature_invalid"
    status = 401


class TimestampOutOfTolerance(WebhookError):
    """The signed timestamp is too old (a replay) or too far in the future."""

    code = "timestamp_out_of_tolerance"
    status = 401


class PayloadInvalid(WebhookError):
    """The body is authentic but not a payload LabLedger can read."""

    code = "payload_invalid"
    status = 400
