"""Power relays an interlock switches: the command to send and the state that confirms it.

Pure, like every codec here: no I/O. Three kinds, chosen per machine:

- ``tasmota`` (address: the device topic): command ``cmnd/<topic>/POWER`` with
  ``ON``/``OFF``; the state comes back as ``stat/<topic>/POWER`` (``ON``/``OFF``),
  in ``stat/<topic>/RESULT`` (``{"POWER": "ON"}``) and in the periodic
  ``tele/<topic>/STATE`` (``{"POWER": "ON", ...}``); multi-relay devices say
  ``POWER1`` (tasmota/docs ``Commands.md``, ``MQTT.md``).
- ``shelly`` (address: the Gen2 topic prefix): RPC ``Switch.Set`` published to
  ``<prefix>/rpc`` as ``{"id", "src", "method": "Switch.Set", "params": {"id": 0,
  "on": true}}``; the state comes back as ``<prefix>/status/switch:0``
  (``{"output": true, ...}``) and in ``NotifyStatus`` on ``<prefix>/events/rpc``
  (shelly-api-docs gen2 "Switch", "MQTT", "Notifications").
- ``lab`` (address: the ``<machine>`` topic level): ``lab/v1/machine/<m>/power/set``
  ``{"power": "on"|"off", "id"}``, confirmed by ``lab/v1/machine/<m>/power``
  ``{"power": "on"|"off", "at"?}``, for the lab's own controllers.

`read_power` never raises: a message that says nothing about the relay is None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from devices._wire import JsonObject, load_object, load_text, require_topic_part, to_text
from devices.events import DecodeError

KINDS: Final = ("tasmota", "shelly", "lab")
SHELLY_SWITCH: Final = "switch:0"


@dataclass(frozen=True, slots=True)
class PowerCommandMessage:
    """One MQTT message that asks a relay to switch."""

    topic: str
    payload: bytes


def check_address(kind: str, address: str) -> str:
    """The address if it fits the kind, else ValueError saying why."""
    if kind not in KINDS:
        raise ValueError(f"unknown interlock {kind!r}; expected one of {', '.join(KINDS)}")
    return require_topic_part(f"{kind} interlock address", address, allow_slash=kind != "lab")


def state_topics(kind: str, address: str) -> list[str]:
    """The topics on which a relay reports its state."""
    address = check_address(kind, address)
    if kind == "tasmota":
        return [f"stat/{address}/POWER", f"stat/{address}/RESULT", f"tele/{address}/STATE"]
    if kind == "shelly":
        return [f"{address}/status/{SHELLY_SWITCH}", f"{address}/events/rpc"]
    return [f"lab/v1/machine/{address}/power"]


def command(kind: str, address: str, on: bool, command_id: int, source: str) -> PowerCommandMessage:
    """The message that switches the relay on or off; `command_id` and `source` name the sender."""
    address = check_address(kind, address)
    if kind == "tasmota":
        return PowerCommandMessage(f"cmnd/{address}/POWER", b"ON" if on else b"OFF")
    if kind == "shelly":
        body: JsonObject = {
            "id": command_id,
            "src": source,
            "method": "Switch.Set",
            "params": {"id": 0, "on": on},
        }
        return PowerCommandMessage(f"{address}/rpc", json.dumps(body).encode())
    body = {"power": "on" if on else "off", "id": f"labledger-{command_id}"}
    return PowerCommandMessage(f"lab/v1/machine/{address}/power/set", json.dumps(body).encode())


def _word(value: object) -> bool | None:
    """ON/OFF (any case, also 1/0 and true/false) as a bool."""
    if isinstance(value, bool):
        return value
    text = to_text(value) if not isinstance(value, int) else str(value)
    if text is None:
        return None
    return {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}.get(
        text.strip().lower()
    )


def _tasmota(address: str, topic: str, payload: bytes) -> bool | None:
    if topic == f"stat/{address}/POWER":
        return _word(load_text(payload))
    message = load_object(topic, payload)
    if isinstance(message, DecodeError):
        return None
    for key in ("POWER", "POWER1"):
        if key in message:
            return _word(message[key])
    return None


def _shelly(address: str, topic: str, payload: bytes) -> bool | None:
    message = load_object(topic, payload)
    if isinstance(message, DecodeError):
        return None
    if topic == f"{address}/status/{SHELLY_SWITCH}":
        status: object = message
    else:
        params = message.get("params")
        if to_text(message.get("method")) not in ("NotifyStatus", "NotifyFullStatus"):
            return None
        status = params.get(SHELLY_SWITCH) if isinstance(params, dict) else None
    if not isinstance(status, dict) or not isinstance(status.get("output"), bool):
        return None
    return bool(status["output"])


def _lab(topic: str, payload: bytes) -> bool | None:
    message = load_object(topic, payload)
    if isinstance(message, DecodeError):
        return None
    return _word(message.get("power"))


def read_power(kind: str, address: str, topic: str, payload: bytes) -> bool | None:
    """The relay state one message reports (True on, False off), or None if it says nothing."""
    if kind == "tasmota":
        return _tasmota(address, topic, payload)
    if kind == "shelly":
        return _shelly(address, topic, payload)
    if kind == "lab" and topic == f"lab/v1/machine/{address}/power":
        return _lab(topic, payload)
    return None
