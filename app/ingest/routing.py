"""Which codec decodes which MQTT topic, built from the configured machines and readers.

Codec objects keep state (Bambu's merged report, a plug's power detector), so a
rebuild keeps each codec whose machine or reader is configured as before.

Device clocks (`within_clock`): an event a device stamped more than
MAX_AHEAD_S after the service received it cannot have happened yet, so it is
recorded at its receive time and counted (labledger_ingest_clock_skewed_total);
its payload, kept with the event, still holds the device's time. An event
stamped in the past keeps its time however old: the bridge replays its outbox
after an outage with the times the events really had, and a clock that is
behind is indistinguishable from that. Its event id is unchanged either way,
so a redelivery is still recognised.

Devices name a `lab` machine or an MQTT reader in lab/v1 topics by its address
or by its name (as over HTTP): both topics are bound, the name only when it is
a valid topic level (no `/`, `+`, `#`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.ingest import metrics
from app.ingest.topic_index import TopicIndex
from app.lab.models import Machine, Reader
from devices.codec import MqttCodec
from devices.events import BadgeScan, DecodeError, MachineState, Result
from devices.registry import (
    is_stream_adapter,
    is_stream_reader,
    machine_codec,
    machine_topics,
    reader_codec,
    reader_topics,
)
from devices.timebase import as_utc

log = logging.getLogger(__name__)

MAX_AHEAD_S = 60.0

CodecKey = tuple[str, int, str, str, tuple[float | None, float, float] | None]
RowKey = tuple[str, int]


@dataclass(frozen=True)
class Binding:
    """One codec and the topic filters it needs."""

    key: CodecKey
    codec: MqttCodec
    filters: tuple[str, ...]


def reader_address(reader: Reader) -> str:
    """A reader's address: the configured one, else its name (the lab/v1 topic segment)."""
    return reader.address or reader.name


def _machine_key(machine: Machine) -> CodecKey:
    assert machine.id is not None
    power = (machine.running_threshold_w, machine.run_start_after_s, machine.run_stop_after_s)
    return ("machine", machine.id, machine.adapter, machine.address, power)


def _reader_key(reader: Reader) -> CodecKey:
    assert reader.id is not None
    return ("reader", reader.id, reader.protocol, reader_address(reader), None)


def _name_alias(kind: str, row_id: int, name: str, address: str) -> CodecKey | None:
    """The binding key of a lab/v1 topic that names a machine or reader by its name."""
    if name == address or any(char in name for char in "/+#\x00") or name != name.strip():
        return None
    return (f"{kind}-name", row_id, "lab" if kind == "machine" else "mqtt", name, None)


class TopicRouter:
    """Maps incoming topics to the codecs of active machines and readers."""

    def __init__(self) -> None:
        self._bindings: dict[CodecKey, Binding] = {}
        self._index: TopicIndex[Binding] = TopicIndex()
        self.problems: dict[RowKey, str] = {}

    @property
    def filters(self) -> set[str]:
        """Every topic filter some codec needs."""
        return {f for binding in self._bindings.values() for f in binding.filters}

    @property
    def device_filters(self) -> list[tuple[str, tuple[str, ...]]]:
        """Each binding's filters under its device's key (`machine:<id>`, `reader:<id>`).

        A name alias shares its row's key, so ingest slots keep one device together.
        """
        return [
            (f"{binding.key[0].removesuffix('-name')}:{binding.key[1]}", binding.filters)
            for binding in self._bindings.values()
        ]

    def rebuild(self, db: Session) -> None:
        """Rebuild from the database, keeping codecs whose configuration did not change."""
        wanted: dict[CodecKey, Binding] = {}
        problems: dict[RowKey, str] = {}
        for machine in db.exec(select(Machine).where(Machine.active)).all():
            if is_stream_adapter(machine.adapter):
                continue
            key = _machine_key(machine)
            try:
                wanted[key] = self._bindings.get(key) or Binding(
                    key,
                    machine_codec(
                        machine.adapter,
                        str(machine.id),
                        machine.address,
                        machine.running_threshold_w,
                        (machine.run_start_after_s, machine.run_stop_after_s),
                    ),  # type: ignore[arg-type]
                    tuple(machine_topics(machine.adapter, machine.address)),
                )
            except Exception as exc:  # one bad row must not stop the others being routed
                problems[("machine", key[1])] = _why(exc)
                continue
            assert machine.id is not None
            alias = (
                _name_alias("machine", machine.id, machine.name, machine.address)
                if machine.adapter == "lab"
                else None
            )
            if alias is not None:
                wanted[alias] = self._bindings.get(alias) or Binding(
                    alias,
                    machine_codec("lab", str(machine.id), machine.name),  # type: ignore[arg-type]
                    tuple(machine_topics("lab", machine.name)),
                )
        for reader in db.exec(select(Reader).where(Reader.active)).all():
            if is_stream_reader(reader.protocol):
                continue
            key = _reader_key(reader)
            try:
                wanted[key] = self._bindings.get(key) or Binding(
                    key,
                    reader_codec(reader.protocol, str(reader.id), reader_address(reader)),  # type: ignore[arg-type]
                    tuple(reader_topics(reader.protocol, reader_address(reader))),
                )
            except Exception as exc:  # one bad row must not stop the others being routed
                problems[("reader", key[1])] = _why(exc)
                continue
            assert reader.id is not None
            alias = _name_alias("reader", reader.id, reader.name, reader_address(reader))
            if alias is not None:
                wanted[alias] = self._bindings.get(alias) or Binding(
                    alias,
                    reader_codec("mqtt", str(reader.id), reader.name),  # type: ignore[arg-type]
                    tuple(reader_topics("mqtt", reader.name)),
                )
        self._index = TopicIndex((f, b) for b in wanted.values() for f in b.filters)
        self._bindings = wanted
        report_problems(self.problems, problems, "routing")
        self.problems = problems

    def matches(self, topic: str) -> bool:
        """Whether some codec listens to this topic."""
        return bool(self._index.match(topic))

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> list[Result]:
        """Decode one message with every codec whose filters match its topic."""
        bindings = self._index.match(topic)
        if not bindings:
            return [
                DecodeError(topic, "no configured machine or reader uses this topic", payload[:256])
            ]
        results: list[Result] = []
        for binding in bindings:
            results.extend(binding.codec.decode(topic, payload, received_at))
        return [within_clock(result, received_at) for result in results]


def within_clock(result: Result, received_at: datetime) -> Result:
    """The result, its time set to `received_at` when the device stamped it too far ahead."""
    if not isinstance(result, BadgeScan | MachineState):
        return result
    received = as_utc(received_at)
    if result.at - received <= timedelta(seconds=MAX_AHEAD_S):
        return result
    metrics.CLOCK_SKEWED.inc()
    log.debug(
        "an event stamped %s ahead of its receipt is recorded at receipt", result.at - received
    )
    return dataclasses.replace(result, at=received)


def _why(exc: Exception) -> str:
    """A routing problem in words: a config error's own message, else the error's kind."""
    return str(exc) if isinstance(exc, ValueError) else f"codec failed: {type(exc).__name__}"


def report_problems(before: dict[RowKey, str], now: dict[RowKey, str], what: str) -> None:
    """Log each problem once when it appears, and keep the per-kind gauge current."""
    for (kind, row_id), message in sorted(now.items()):
        if before.get((kind, row_id)) != message:
            log.warning("%s %s cannot be listened to (%s): %s", kind, row_id, what, message)
    for kind, row_id in sorted(set(before) - set(now)):
        log.info("%s %s is listened to again (%s)", kind, row_id, what)
