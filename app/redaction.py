"""Personal data and secrets never reach the logs through a URL's query string.

Access logs print each request's path with its query; a badge id in
`?card_id=`, an email or a key in a query would land in every log store. The
values of parameters whose names look personal or secret are replaced by
`[redacted]` before a record is formatted; the parameter names stay, so the
log still tells what was asked.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote

REDACTED = "[redacted]"
SENSITIVE_PARTS = (
    "card",
    "badge",
    "email",
    "mail",
    "key",
    "token",
    "secret",
    "pass",
    "sig",
    "auth",
    "payout",
    "phone",
    "name",
)


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SENSITIVE_PARTS)


def redact_query(path: str) -> str:
    """`path` with the value of every sensitive query parameter replaced."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return base + sep + (REDACTED if query else "")
    shown = [
        f"{quote(name, safe='')}={REDACTED if _sensitive(name) else quote(value, safe='')}"
        for name, value in pairs
    ]
    return base + "?" + "&".join(shown)


class AccessLogRedactor(logging.Filter):
    """Rewrites uvicorn's access-log records so their path carries no sensitive value."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the path argument of an access record; keep every record."""
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            args = list(record.args)
            if len(args) >= 3 and isinstance(args[2], str):
                args[2] = redact_query(args[2])
                record.args = tuple(args)
        return True
