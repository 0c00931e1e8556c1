"""Config validation: the sample is valid, and each mistake is refused naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from labbridge.config import ConfigError, load_config, parse_config
from tests.bridge.support import run_cli

EXAMPLE = Path(__file__).parents[2] / "firmware-bridge" / "bridge.toml.example"


def valid() -> dict:
    return {
        "bridge": {"id": "pi", "outbox": "outbox.sqlite3"},
        "broker": {"host": "broker.lab"},
        "serial": [
            {"kind": "reader", "protocol": "rdm6300", "name": "door", "port": "/dev/ttyUSB0"},
            {"kind": "machine", "adapter": "marlin", "name": "mk3", "port": "/dev/ttyACM0"},
        ],
        "bambu": [{"serial": "01S00A000000000", "host": "10.0.0.5", "access_code": "1234"}],
    }


def test_the_sample_config_is_valid_and_read_as_documented():
    config = load_config(EXAMPLE)
    assert config.bridge_id == "workshop-pi"
    assert config.keep_published_s == 86400
    assert [(d.kind, d.codec, d.name) for d in config.serial] == [
        ("reader", "rdm6300", "door"),
        ("machine", "marlin", "prusa-mk3s"),
        ("machine", "scpi", "smu-2450"),
    ]
    assert config.serial[1].baudrate == 115200
    assert config.serial[2].scpi_busy_mask == 16408
    (printer,) = config.bambu
    assert (printer.port, printer.tls, printer.ca_file, printer.name) == (
        8883,
        True,
        None,
        "x1c-left",
    )
    assert "12345678" not in repr(printer)
    assert "change-me" not in repr(config.broker)


def test_defaults_and_relative_paths(tmp_path):
    config = parse_config(valid(), tmp_path)
    assert config.outbox_path == tmp_path / "outbox.sqlite3"
    assert config.broker.port == 1883
    reader, marlin = config.serial
    assert (reader.baudrate, reader.poll_interval_s) == (9600, None)
    assert (marlin.baudrate, marlin.poll_interval_s) == (115200, 2.0)
    assert config.bambu[0].name == "01S00A000000000"


def _set(path: str, value):
    def change(data: dict) -> None:
        *parents, key = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value

    return change


_DELETE = object()

MISTAKES = [
    (_set("bridge.id", _DELETE), "bridge.id: is required"),
    (_set("bridge.id", "a/b"), "bridge.id: is one MQTT topic level"),
    (_set("bridge.outbox", _DELETE), "bridge.outbox: is required"),
    (_set("bridge.colour", "blue"), "bridge.colour: unknown key"),
    (_set("broker.host", _DELETE), "broker.host: is required"),
    (_set("broker.port", 0), "broker.port: must be between 1 and 65535"),
    (_set("broker.port", "1883"), "broker.port: must be an integer"),
    (_set("broker.tls", "yes"), "broker.tls: must be true or false"),
    (_set("broker.password", "x"), "broker.password: needs a username"),
    (_set("broker.ca_file", "missing.pem"), "broker.ca_file: file"),
    (_set("serial.0.kind", "door"), "serial[1] ('door').kind: must be 'reader' or 'machine'"),
    (_set("serial.0.protocol", "mqtt"), "serial[1] ('door').protocol: must be one of"),
    (_set("serial.0.adapter", "marlin"), "serial[1] ('door').adapter: belongs to machines"),
    (_set("serial.0.poll_interval_s", 1), "serial[1] ('door').poll_interval_s: is for machines"),
    (_set("serial.0.baudrate", True), "serial[1] ('door').baudrate: must be an integer"),
    (_set("serial.0.port", "ftp://x"), "serial[1] ('door').port: URL scheme must be one of"),
    (_set("serial.1.adapter", "bambu"), "serial[2] ('mk3').adapter: must be one of marlin, scpi"),
    (_set("serial.1.poll_interval_s", 0), "serial[2] ('mk3').poll_interval_s: must be between"),
    (_set("serial.1.scpi_query", "*OPC?"), "serial[2] ('mk3').scpi_query: is only for"),
    (_set("serial.1.name", "door"), "serial[2].name: 'door' is already used by serial[1]"),
    (_set("serial.1.port", "/dev/ttyUSB0"), "serial[2].port: '/dev/ttyUSB0' is already opened"),
    (_set("bambu.0.access_code", _DELETE), "bambu[1].access_code: is required"),
    (_set("bambu.0.name", "mk3"), "bambu[1].name: 'mk3' is already used by serial[2]"),
    (_set("bambu.0.serial", "A+B"), "bambu[1].serial: is one MQTT topic level"),
    (_set("bambu.0.ca_file", "x.pem"), "bambu[1].ca_file: file"),
]


@pytest.mark.parametrize(("mistake", "message"), MISTAKES, ids=[m for _c, m in MISTAKES])
def test_a_mistake_is_refused_naming_its_key(tmp_path, mistake, message):
    data = valid()
    mistake(data)
    with pytest.raises(ConfigError) as refused:
        parse_config(data, tmp_path)
    assert message in str(refused.value)


def test_scpi_options_are_checked_by_the_codec(tmp_path):
    data = valid()
    data["serial"][1].update(adapter="scpi", scpi_query="MEAS:VOLT?")
    with pytest.raises(ConfigError, match=r"scpi_query: unsupported status query 'MEAS:VOLT\?'"):
        parse_config(data, tmp_path)


def test_a_config_without_devices_or_sections_is_refused(tmp_path):
    data = valid()
    del data["serial"], data["bambu"]
    with pytest.raises(ConfigError, match="nothing to relay"):
        parse_config(data, tmp_path)
    with pytest.raises(ConfigError, match=r"\[broker\] table is required"):
        parse_config({"bridge": {"id": "pi"}}, tmp_path)


def test_the_command_reports_a_bad_file_and_exits_2(tmp_path):
    broken = tmp_path / "bridge.toml"
    broken.write_text('[bridge]\nid = "pi"\noutbox = \n')
    result = run_cli("--config", str(broken))
    assert result.returncode == 2
    assert "is not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_cli("--config", str(tmp_path / "nope.toml"), "status")
    assert missing.returncode == 2
    assert "cannot read config file" in missing.stderr
