"""The lab's own MQTT topics (``lab/v1``), decoded strictly and encoded as their exact inverse.

Contract (docs/devices.md, "Your own devices: lab/v1"):

- ``lab/v1/badge/<reader>``: ``{"badge": str, "at"?: RFC 3339, "id"?: str}``;
  the badge is read with `devices.rfid.normalise_badge`.
- ``lab/v1/machine/<machine>/state``: ``{"state": "running|paused|idle|finished|
  failed|cancelled|interrupted|offline", "at"?, "job"?: str, "progress"?: percent 0..100,
  "id"?, "power_w"?: W, "energy_wh"?: Wh >= 0, "material"?: >= 0,
  "reported_busy_s"?: s >= 0}``.

Validation is strict: a payload that is not a UTF-8 JSON object, has duplicate
or unknown keys, a wrong type (booleans are not numbers), a non-finite or
out-of-range number, an unknown state, or an ``at`` that is not an RFC 3339
date-time is a `DecodeError`. ``null`` stands for an absent optional field.

Time: ``at`` goes through `devices.timebase.from_rfc3339`, so a zone-less ``at``
gives the receive time. The event id is the payload's ``id``, otherwise one
derived from the topic, the ``at`` text and the payload bytes, so a redelivered
message keeps its id. A message with neither ``id`` nor ``at`` is timeless
(`devices.ids.timeless_event_ids`): its id includes the receive time and its
fingerprint (topic and bytes) recognises a redelivery within the app's window,
so a card scanned again later is a new scan. The encoders write ``id`` and ``at``, so that
``decode(*encode(x)) == [x]``; they refuse (ValueError) what decode would refuse.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from devices.events import BadgeScan, DecodeError, Event, MachineState, Result, RunState
from devices.ids import derive_event_id, timeless_event_ids
from devices.rfid import normalise_badge
from devices.timebase import as_utc, from_rfc3339

PREFIX: Final = "lab/v1"
STATES: Final = frozenset(s for s in RunState if s is not RunState.UNKNOWN)
MAX_PAYLOAD: Final = 16 * 1024
MAX_ID: Final = 256
MAX_JOB: Final = 1024

_BADGE_KEYS: Final = frozenset({"badge", "at", "id"})
_STATE_KEYS: Final = frozenset(
    {
        "state",
        "at",
        "job",
        "progress",
        "id",
        "power_w",
        "energy_wh",
        "material",
        "reported_busy_s",
    }
)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})?"
)
_RAW_KEPT = 1024


class _Invalid(Exception):
    """A reason a payload breaks the contract; turned into a DecodeError at the boundary."""


def _segment_ok(name: str) -> bool:
    return bool(name) and not any(c in name for c in "+#/\x00")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_constant(name: str) -> None:
    raise _Invalid(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Invalid("duplicate key")
    return result


def _load_object(payload: bytes, allowed: frozenset[str]) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise _Invalid("payload too large")
    try:
        value = json.loads(
            payload.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _Invalid("payload is not UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise _Invalid("payload is not a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _Invalid(f"unknown keys: {', '.join(unknown)}"[:200])
    return {key: item for key, item in value.items() if item is not None}


def _text(fields: dict[str, Any], key: str, limit: int) -> str | None:
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{key} must be a string")
    if len(value) > limit:
        raise _Invalid(f"{key} longer than {limit} characters")
    if not _is_unicode(value):
        raise _Invalid(f"{key} holds an unpaired surrogate")
    return value


def _number(fields: dict[str, Any], key: str, valid: Callable[[float], bool]) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{key} must be a number")
    try:
        number = float(value)
    except OverflowError as exc:
        raise _Invalid(f"{key} is out of range") from exc
    if not math.isfinite(number) or not valid(number):
        raise _Invalid(f"{key} is out of range")
    return number


def _at(fields: dict[str, Any], received_at: datetime) -> tuple[datetime, str | None]:
    text = _text(fields, "at", 64)
    if text is None:
        return as_utc(received_at), None
    if not _RFC3339.fullmatch(text):
        raise _Invalid("at is not an RFC 3339 date-time")
    try:
        as_utc(datetime.fromisoformat(text.upper().replace("Z", "+00:00")))
    except (ValueError, OverflowError) as exc:
        raise _Invalid("at is not a valid date-time") from exc
    return from_rfc3339(text.upper(), received_at), text


def _event_ids(
    fields: dict[str, Any], topic: str, at_text: str | None, payload: bytes, received_at: datetime
) -> tuple[str, str | None]:
    given = _text(fields, "id", MAX_ID)
    if given is not None:
        if not given:
            raise _Invalid("id is empty")
        return given, None
    if at_text is None:
        return timeless_event_ids(topic, payload, as_utc(received_at))
    return derive_event_id(topic, at_text, payload), None


class LabV1Codec:
    """Decodes the lab's native ``lab/v1`` badge and machine-state messages."""

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Return the one event a lab/v1 message carries, or a DecodeError saying why not."""
        try:
            return [self._decode(topic, payload, received_at)]
        except _Invalid as exc:
            return [DecodeError(topic, str(exc), payload[:_RAW_KEPT])]

    def _decode(self, topic: str, payload: bytes, received_at: datetime) -> Event:
        if not _is_unicode(topic):
            raise _Invalid("topic is not UTF-8")
        parts = topic.split("/")
        if len(parts) == 4 and parts[:3] == ["lab", "v1", "badge"] and _segment_ok(parts[3]):
            return _badge(parts[3], topic, payload, received_at)
        if (
            len(parts) == 5
            and parts[:3] == ["lab", "v1", "machine"]
            and parts[4] == "state"
            and _segment_ok(parts[3])
        ):
            return _machine_state(parts[3], topic, payload, received_at)
        raise _Invalid("not a lab/v1 badge or machine state topic")


def _badge(reader: str, topic: str, payload: bytes, received_at: datetime) -> BadgeScan:
    fields = _load_object(payload, _BADGE_KEYS)
    text = _text(fields, "badge", 64)
    if text is None:
        raise _Invalid("badge is missing")
    badge = normalise_badge(text)
    if badge is None:
        raise _Invalid("badge is not a card number or UID")
    at, at_text = _at(fields, received_at)
    event_id, fingerprint = _event_ids(fields, topic, at_text, payload, received_at)
    return BadgeScan(reader, badge, at=at, event_id=event_id, fingerprint=fingerprint)


def _machine_state(machine: str, topic: str, payload: bytes, received_at: datetime) -> MachineState:
    fields = _load_object(payload, _STATE_KEYS)
    state = fields.get("state")
    if not isinstance(state, str) or state not in STATES:
        raise _Invalid("state is missing or not one of " + "|".join(sorted(STATES)))
    at, at_text = _at(fields, received_at)
    event_id, fingerprint = _event_ids(fields, topic, at_text, payload, received_at)
    return MachineState(
        machine,
        RunState(state),
        at,
        event_id,
        fingerprint=fingerprint,
        job=_text(fields, "job", MAX_JOB),
        progress=_number(fields, "progress", lambda p: 0 <= p <= 100),
        power_w=_number(fields, "power_w", lambda _: True),
        energy_wh=_number(fields, "energy_wh", lambda e: e >= 0),
        material=_number(fields, "material", lambda m: m >= 0),
        reported_busy_s=_number(fields, "reported_busy_s", lambda s: s >= 0),
    )


def _checked(topic: str, fields: dict[str, Any], event: Event) -> tuple[str, bytes]:
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    result = LabV1Codec().decode(topic, payload, event.at)[0]
    if isinstance(result, DecodeError):
        raise ValueError(f"cannot encode as lab/v1: {result.reason}")
    if result != event:
        raise ValueError("event would not survive lab/v1 unchanged (badge not canonical?)")
    return topic, payload


def encode_badge(scan: BadgeScan) -> tuple[str, bytes]:
    """The lab/v1 message the edge bridge publishes for a badge scan."""
    at = as_utc(scan.at)
    fields = {"badge": scan.badge, "at": at.isoformat(), "id": scan.event_id}
    return _checked(f"{PREFIX}/badge/{scan.reader}", fields, scan)


def encode_machine_state(ev: MachineState) -> tuple[str, bytes]:
    """The lab/v1 message the edge bridge publishes for a machine state change."""
    at = as_utc(ev.at)
    fields: dict[str, Any] = {"state": str(ev.state), "at": at.isoformat(), "id": ev.event_id}
    optional = {
        "job": ev.job,
        "progress": ev.progress,
        "power_w": ev.power_w,
        "energy_wh": ev.energy_wh,
        "material": ev.material,
        "reported_busy_s": ev.reported_busy_s,
    }
    fields.update({key: value for key, value in optional.items() if value is not None})
    return _checked(f"{PREFIX}/machine/{ev.machine}/state", fields, ev)
