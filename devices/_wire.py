"""Small tolerant readers for vendor JSON shared by the MQTT codecs.

Vendors send numbers as strings, floats where integers are documented, and keys
that come and go between firmware versions. These helpers turn such values into
what a codec needs or `None`, and never raise on wire data.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from devices.events import DecodeError
from devices.ids import derive_event_id, timeless_event_ids

JsonObject = dict[str, object]


def load_object(source: str, payload: bytes) -> JsonObject | DecodeError:
    """Parse a payload that must be one JSON object, or describe why it is not."""
    try:
        value = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return DecodeError(source, "payload is not UTF-8", payload)
    except (ValueError, RecursionError):
        return DecodeError(source, "payload is not valid JSON", payload)
    if not isinstance(value, dict):
        return DecodeError(source, "payload is not a JSON object", payload)
    return value


def load_text(payload: bytes) -> str | None:
    """A short plain-text payload (an availability word), stripped, or None if not text."""
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


def to_float(value: object) -> float | None:
    """A finite number from a number or a numeric string; booleans and the rest are None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = float(value) if abs(value) < 2**1023 else math.inf
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def to_int(value: object) -> int | None:
    """An integer from an integral number or a decimal/`0x` string; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and len(value) <= 32:
        try:
            return int(value.strip(), 0)
        except ValueError:
            number = to_float(value)
            return int(number) if number is not None and number.is_integer() else None
    return None


def to_percent(value: object, scale: float = 1.0) -> float | None:
    """A progress value times `scale`, kept only when it lands within 0..100."""
    number = to_float(value)
    if number is None:
        return None
    number *= scale
    return number if 0.0 <= number <= 100.0 else None


def to_text(value: object) -> str | None:
    """A non-empty string, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def scalar_text(value: object) -> str | None:
    """A JSON scalar as text for an id (a device time, a sequence number); containers are None."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)[:64]
    return None


def basename(path: str | None) -> str | None:
    """The last segment of a device file path, which is what people call the job."""
    if path is None:
        return None
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return name or None


def message_event_ids(
    topic: str, device_time: str | None, payload: bytes, received_at: datetime
) -> tuple[str, str | None]:
    """(event id, fingerprint) of a message: from its device time, or timeless without one."""
    if device_time is None:
        return timeless_event_ids(topic, payload, received_at)
    return derive_event_id(topic, device_time, payload), None


def availability_event_ids(topic: str, payload: bytes, received_at: datetime) -> tuple[str, str]:
    """(id, fingerprint) of an availability message, which has no time and repeats verbatim.

    A retained `offline` is the same bytes every time the device drops, so an id
    from content alone would make the app discard every disconnect after the
    first: it is timeless, a redelivery recognised only within the app's window.
    """
    return timeless_event_ids(topic, payload, received_at)


def require_topic_part(name: str, value: str, *, allow_slash: bool) -> str:
    """Check a configured topic part at start-up; a bad one is a config error, so it raises."""
    if not value or value != value.strip():
        raise ValueError(f"{name} must be a non-empty string without surrounding spaces")
    if any(char in value for char in "+#\x00"):
        raise ValueError(f"{name} {value!r} must not contain MQTT wildcards (+, #) or NUL")
    if not allow_slash and "/" in value:
        raise ValueError(f"{name} {value!r} must be a single topic level (no '/')")
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise ValueError(f"{name} {value!r} must not start, end or double a '/'")
    return value
