"""The bridge's TOML config, checked strictly at start-up so a mistake fails before any device.

Every error names the key it is about (``serial[2] ("door").baudrate``, tables
of an array counted from 1). Unknown keys are errors too: a misspelt option
silently ignored is worse than a bridge that refuses to start. Relative paths
(the outbox, CA files) are read relative to the config file's folder.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

from devices import registry
from devices.scpi import DEFAULT_BUSY_MASK, ScpiCodec

DEFAULT_BAUDRATES: Final = {"reader": 9600, "marlin": 115200, "scpi": 9600}
DEFAULT_POLL_INTERVALS_S: Final = {"marlin": 2.0, "scpi": 1.0}
SERIAL_URL_SCHEMES: Final = frozenset({"socket", "rfc2217", "loop", "spy", "alt", "hwgrep"})
MAX_NAME: Final = 128

T = TypeVar("T")


class ConfigError(Exception):
    """The config file is missing, unreadable or breaks a rule; the message names the key."""


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """How to reach the lab broker."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = 30
    reconnect_max_s: int = 30


@dataclass(frozen=True, slots=True)
class SerialDeviceConfig:
    """One serial port: a badge reader or a machine (Marlin printer, SCPI instrument)."""

    kind: str
    codec: str
    name: str
    port: str
    baudrate: int
    poll_interval_s: float | None = None
    scpi_query: str = "STAT:OPER:COND?"
    scpi_busy_mask: int = DEFAULT_BUSY_MASK

    @property
    def label(self) -> str:
        """What the device is, for the status table (``reader/rdm6300``, ``machine/marlin``)."""
        return f"{self.kind}/{self.codec}"


@dataclass(frozen=True, slots=True)
class BambuPrinterConfig:
    """One Bambu printer whose own broker the bridge relays to the lab broker."""

    serial: str
    host: str
    access_code: str = field(repr=False)
    name: str
    port: int = 8883
    tls: bool = True
    ca_file: Path | None = None


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """Where to fetch the induction list for this bridge's readers, and how often."""

    server: str
    api_key: str = field(repr=False)
    refresh_s: float = 300.0
    timeout_s: float = 10.0
    answer_offline: bool = True


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Everything `labbridge` needs to run."""

    bridge_id: str
    broker: BrokerConfig
    outbox_path: Path
    keep_published_s: float = 86400.0
    max_pending: int = 1_000_000
    serial_reopen_max_s: float = 10.0
    serial: tuple[SerialDeviceConfig, ...] = ()
    bambu: tuple[BambuPrinterConfig, ...] = ()
    access: AccessConfig | None = None


class _Table:
    """One TOML table being read: typed getters that name the key, and a check for leftovers."""

    def __init__(self, path: str, data: object, base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must be a table")
        self.path = path
        self.data: dict[str, object] = data
        self.base = base
        self._used: set[str] = set()

    def where(self, key: str) -> str:
        """The full name of a key of this table, for error messages."""
        return f"{self.path}.{key}"

    def fail(self, key: str, problem: str) -> ConfigError:
        """An error about one key."""
        return ConfigError(f"{self.where(key)}: {problem}")

    def _get(self, key: str, kind: type[T], described: str, default: T | None) -> T | None:
        """The value of a key if it has the type, the default if absent."""
        self._used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise self.fail(key, f"must be {described}, got {value!r}")
        return value

    def table(self, key: str) -> _Table:
        """A sub-table, which must be there."""
        if key not in self.data:
            raise ConfigError(f"[{key}] table is required")
        self._used.add(key)
        return _Table(key, self.data[key], self.base)

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A non-empty string without surrounding spaces."""
        value = self._get(key, str, "a string", default)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return None
        if not value or value != value.strip():
            raise self.fail(key, "must be non-empty, without surrounding spaces")
        return value

    def required_text(self, key: str) -> str:
        """A string that must be there."""
        value = self.text(key, required=True)
        assert value is not None
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        """An integer within bounds."""
        value = self._get(key, int, "an integer", default)
        assert value is not None
        if not low <= value <= high:
            raise self.fail(key, f"must be between {low} and {high}, got {value}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """A finite number (integer or float) within bounds."""
        self._used.add(key)
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            raise self.fail(key, f"must be between {low:g} and {high:g}, got {value}")
        return number

    def boolean(self, key: str, default: bool) -> bool:
        """true or false."""
        value = self._get(key, bool, "true or false", default)
        assert value is not None
        return value

    def path_value(self, key: str, *, must_exist: bool) -> Path | None:
        """A file path, relative ones taken from the config file's folder."""
        text = self.text(key)
        if text is None:
            return None
        path = Path(text).expanduser()
        path = path if path.is_absolute() else self.base / path
        if must_exist and not path.is_file():
            raise self.fail(key, f"file {str(path)!r} does not exist")
        return path

    def segment(self, key: str, default: str | None = None) -> str:
        """A name used as one MQTT topic level."""
        value = self.text(key, default, required=True)
        assert value is not None
        if len(value) > MAX_NAME:
            raise self.fail(key, f"must be at most {MAX_NAME} characters")
        bad = sorted({c for c in value if c in "/+#\x00" or c.isspace()})
        if bad:
            raise self.fail(key, f"is one MQTT topic level: it must not contain {bad!r}")
        return value

    def forbid(self, key: str, reason: str) -> None:
        """Refuse a key that makes no sense here."""
        if key in self.data:
            raise self.fail(key, reason)

    def finish(self) -> None:
        """Refuse keys nobody read: they are typos or options of another kind of table."""
        unknown = sorted(set(self.data) - self._used)
        if unknown:
            raise ConfigError(f"{self.where(unknown[0])}: unknown key")


def load_config(path: Path) -> BridgeConfig:
    """Read and check the config file, or raise ConfigError naming the first bad key."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
    try:
        return parse_config(data, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def parse_config(data: dict[str, object], base: Path) -> BridgeConfig:
    """Check an already parsed TOML document; `base` is where relative paths start."""
    top = _Table("config", data, base)
    bridge = top.table("bridge")
    broker = _broker(top.table("broker"))
    serial = _array(top, "serial", base, _serial_device)
    bambu = _array(top, "bambu", base, _bambu_printer)
    access = _access(top.table("access")) if "access" in data else None
    top.finish()
    if not serial and not bambu:
        raise ConfigError("nothing to relay: add at least one [[serial]] or [[bambu]] table")
    serial_at = [(d, f"serial[{i}]") for i, d in enumerate(serial, 1)]
    bambu_at = [(p, f"bambu[{i}]") for i, p in enumerate(bambu, 1)]
    names = [(d.name, at) for d, at in serial_at] + [(p.name, at) for p, at in bambu_at]
    _no_repeats(names, "name", "used by")
    _no_repeats([(p.serial, at) for p, at in bambu_at], "serial", "relayed by")
    # loop:// opens a fresh loopback each time, so it may be given twice (for trying out).
    ports = [(d.port, at) for d, at in serial_at if d.port != "loop://"]
    _no_repeats(ports, "port", "opened by")
    config = BridgeConfig(
        bridge_id=bridge.segment("id"),
        broker=broker,
        outbox_path=_outbox_path(bridge),
        keep_published_s=bridge.number("keep_published_hours", 24, 0, 24 * 365) * 3600,
        max_pending=bridge.integer("max_pending", 1_000_000, 1000, 100_000_000),
        serial_reopen_max_s=bridge.number("serial_reopen_max_s", 10, 0.1, 3600),
        serial=tuple(serial),
        bambu=tuple(bambu),
        access=access,
    )
    bridge.finish()
    return config


def _outbox_path(bridge: _Table) -> Path:
    """The outbox file, which must not be a folder."""
    path = bridge.path_value("outbox", must_exist=False)
    if path is None:
        raise bridge.fail("outbox", "is required (the SQLite file of the outbox and status)")
    if path.is_dir():
        raise bridge.fail("outbox", f"{str(path)!r} is a folder, not a file")
    return path


def _access(table: _Table) -> AccessConfig:
    """The [access] table: LabLedger's URL and a device key for the induction list."""
    server = table.required_text("server")
    if not server.startswith(("http://", "https://")):
        raise table.fail("server", f"must be an http:// or https:// URL, got {server!r}")
    config = AccessConfig(
        server=server,
        api_key=table.required_text("api_key"),
        refresh_s=table.number("refresh_s", 300, 1, 86400),
        timeout_s=table.number("timeout_s", 10, 0.5, 300),
        answer_offline=table.boolean("answer_offline", True),
    )
    table.finish()
    return config


def _broker(table: _Table) -> BrokerConfig:
    """The [broker] table."""
    username = table.text("username")
    password = table.text("password")
    if password is not None and username is None:
        raise table.fail("password", "needs a username")
    tls = table.boolean("tls", False)
    ca_file = table.path_value("ca_file", must_exist=True)
    if ca_file is not None and not tls:
        raise table.fail("ca_file", "is only used with tls = true")
    config = BrokerConfig(
        host=table.required_text("host"),
        port=table.integer("port", 8883 if tls else 1883, 1, 65535),
        username=username,
        password=password,
        tls=tls,
        ca_file=ca_file,
        keepalive_s=table.integer("keepalive_s", 30, 5, 3600),
        reconnect_max_s=table.integer("reconnect_max_s", 30, 1, 3600),
    )
    table.finish()
    return config


def _array(top: _Table, key: str, base: Path, read: Callable[[_Table, int], T]) -> list[T]:
    """Every table of an array of tables (``[[key]]``), read by `read`."""
    items = top._get(key, list, f"an array of tables ([[{key}]])", [])
    assert items is not None
    out = []
    for index, item in enumerate(items, 1):
        table = _Table(f"{key}[{index}]", item, base)
        name = table.data.get("name")
        if isinstance(name, str):
            table.path = f"{key}[{index}] ({name!r})"
        out.append(read(table, index))
        table.finish()
    return out


def _serial_device(table: _Table, _index: int) -> SerialDeviceConfig:
    """One [[serial]] table."""
    kind = table.required_text("kind")
    if kind == "reader":
        table.forbid("adapter", "belongs to machines; a reader has a protocol")
        codec = _choice(table, "protocol", registry.STREAM_READER_PROTOCOLS)
    elif kind == "machine":
        table.forbid("protocol", "belongs to readers; a machine has an adapter")
        codec = _choice(table, "adapter", registry.STREAM_ADAPTERS)
    else:
        raise table.fail("kind", f"must be 'reader' or 'machine', got {kind!r}")
    name = table.segment("name")
    port = table.required_text("port")
    if "://" in port and port.split("://", 1)[0] not in SERIAL_URL_SCHEMES:
        schemes = ", ".join(sorted(SERIAL_URL_SCHEMES))
        raise table.fail("port", f"URL scheme must be one of {schemes}, got {port!r}")
    baudrate = table.integer("baudrate", DEFAULT_BAUDRATES.get(codec, 9600), 50, 4_000_000)
    poll_interval_s = None
    if kind == "machine":
        poll_interval_s = table.number(
            "poll_interval_s", DEFAULT_POLL_INTERVALS_S[codec], 0.05, 3600
        )
    else:
        table.forbid("poll_interval_s", "is for machines that must be asked (marlin, scpi)")
    device = SerialDeviceConfig(kind, codec, name, port, baudrate, poll_interval_s)
    if codec == "scpi":
        device = _with_scpi_options(table, device)
    else:
        for key in ("scpi_query", "scpi_busy_mask"):
            table.forbid(key, "is only for adapter = 'scpi'")
    return device


def _with_scpi_options(table: _Table, device: SerialDeviceConfig) -> SerialDeviceConfig:
    """The SCPI query and busy mask, checked by building the codec."""
    query = table.text("scpi_query", "STAT:OPER:COND?")
    assert query is not None
    mask = table.integer("scpi_busy_mask", DEFAULT_BUSY_MASK, 1, 0xFFFF_FFFF)
    try:
        ScpiCodec(device.name, query, mask)
    except ValueError as exc:
        raise table.fail("scpi_query", str(exc)) from None
    return SerialDeviceConfig(
        device.kind,
        device.codec,
        device.name,
        device.port,
        device.baudrate,
        device.poll_interval_s,
        scpi_query=query,
        scpi_busy_mask=mask,
    )


def _choice(table: _Table, key: str, allowed: tuple[str, ...]) -> str:
    """A required string from a fixed list."""
    value = table.required_text(key)
    if value not in allowed:
        raise table.fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _bambu_printer(table: _Table, _index: int) -> BambuPrinterConfig:
    """One [[bambu]] table."""
    serial = table.segment("serial")
    tls = table.boolean("tls", True)
    ca_file = table.path_value("ca_file", must_exist=True)
    if ca_file is not None and not tls:
        raise table.fail("ca_file", "is only used with tls = true")
    return BambuPrinterConfig(
        serial=serial,
        host=table.required_text("host"),
        access_code=table.required_text("access_code"),
        name=table.segment("name", serial),
        port=table.integer("port", 8883, 1, 65535),
        tls=tls,
        ca_file=ca_file,
    )


def _no_repeats(values: list[tuple[str, str]], key: str, already: str) -> None:
    """Refuse a value given twice; `values` are (value, where) pairs in file order."""
    seen: dict[str, str] = {}
    for value, where in values:
        if value in seen:
            raise ConfigError(f"{where}.{key}: {value!r} is already {already} {seen[value]}")
        seen[value] = where
