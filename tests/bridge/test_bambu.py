"""The Bambu relay against a stand-in printer: a local Mosquitto, plain or with TLS."""

from __future__ import annotations

import json
import subprocess

import pytest

from labbridge.status import read_report
from tests.bridge.support import Subscriber, running_agent, wait_until, write_config
from tests.broker import MosquittoBroker

SERIAL = "01S00A000000000"
REPORT = f"device/{SERIAL}/report"
REQUEST = f"device/{SERIAL}/request"
IDLE = (
    b'{"print": {"command": "push_status", "sequence_id": "2021", "gcode_state": "IDLE",'
    b' "gcode_file": "", "subtask_name": "", "mc_percent": 0, "mc_remaining_time": 0,'
    b' "print_error": 0, "nozzle_temper": 25.0, "bed_temper": 25.0}}'
)
RUNNING = (
    b'{"print":{"command":"push_status","sequence_id":"2100","gcode_state":"RUNNING",'
    b'"gcode_file":"/data/Metadata/plate_1.gcode","subtask_name":"bracket_v3","mc_percent":42,'
    b'"mc_remaining_time":37,"layer_num":57,"total_layer_num":180,"nozzle_temper":219.8,'
    b'"bed_temper":55.0,"print_error":0}}'
)
DELTA = b'{"print":{"command":"push_status","sequence_id":"2101","mc_percent":43}}'


@pytest.fixture
def printer(tmp_path):
    """A Mosquitto standing in for the printer's own broker."""
    instance = MosquittoBroker(tmp_path / "printer")
    instance.start()
    yield instance
    instance.stop()


def printer_config(tmp_path, lab_port, printer_port, **extra):
    table = {"serial": SERIAL, "host": "127.0.0.1", "port": printer_port, "access_code": "1234"}
    table.update({"name": "x1c", "tls": False} | extra)
    return write_config(tmp_path / "bridge.toml", lab_port, bambu=[table])


def pushalls(printer_side):
    return [json.loads(m.payload) for m in printer_side.on(REQUEST)]


def test_reports_are_relayed_unchanged_and_pushall_is_sent_on_every_connect(
    tmp_path, broker, lab, printer
):
    printer_side = Subscriber(printer.port, topics=(REQUEST,))
    config = printer_config(tmp_path, broker.port, printer.port)
    try:
        with running_agent(config) as agent:
            wait_until(lambda: len(pushalls(printer_side)) == 1, what="pushall")
            for payload in (IDLE, RUNNING, DELTA):
                printer_side.client.publish(REPORT, payload, qos=0)
            wait_until(lambda: len(lab.on(REPORT)) == 3, what="relayed reports")
            wait_until(
                lambda: "43" in (read_report(agent.config.outbox_path).devices[0].last_event or "")
            )
            report = read_report(agent.config.outbox_path)

            printer.restart()
            wait_until(lambda: len(pushalls(printer_side)) >= 2, what="pushall after reconnect")
    finally:
        printer_side.close()

    assert pushalls(printer_side)[0] == {"pushing": {"sequence_id": "0", "command": "pushall"}}
    assert [(m.topic, m.payload) for m in lab.on(REPORT)] == [
        (REPORT, IDLE),
        (REPORT, RUNNING),
        (REPORT, DELTA),
    ]
    (row,) = report.devices
    assert (row.device, row.kind, row.port_open, row.events) == ("x1c", "bambu", True, 3)
    assert row.last_event == "report: running 43% job bracket_v3"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def tls_printer(tmp_path):
    """A stand-in printer with TLS: a certificate for its serial number from a private CA."""
    d = tmp_path / "pki"
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        f"{d}/ca.key",
        "-out",
        f"{d}/ca.pem",
        "-subj",
        "/CN=Stand-in BBL CA",
        "-days",
        "2",
    )
    _openssl(
        "req",
        "-new",
        *ec,
        "-keyout",
        f"{d}/printer.key",
        "-out",
        f"{d}/printer.csr",
        "-subj",
        f"/CN={SERIAL}",
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{d}/printer.csr",
        "-CA",
        f"{d}/ca.pem",
        "-CAkey",
        f"{d}/ca.key",
        "-CAcreateserial",
        "-out",
        f"{d}/printer.pem",
        "-days",
        "2",
    )
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        f"{d}/other.key",
        "-out",
        f"{d}/other.pem",
        "-subj",
        "/CN=Someone else",
        "-days",
        "2",
    )
    instance = MosquittoBroker(tmp_path / "printer")
    with instance.config.open("a") as config:
        config.write(f"certfile {d}/printer.pem\nkeyfile {d}/printer.key\n")
    instance.start()
    yield instance, d
    instance.stop()


@pytest.mark.parametrize(
    ("ca_file", "serial", "connects"),
    [
        (None, SERIAL, True),
        ("ca.pem", SERIAL, True),
        ("other.pem", SERIAL, False),
        ("ca.pem", "01S00A000000001", False),
    ],
    ids=[
        "unverified-by-default",
        "verified-as-its-serial",
        "refused-with-a-foreign-ca",
        "refused-for-another-serial",
    ],
)
def test_tls_to_the_printer_checks_its_serial_number_only_when_given_a_ca(
    tmp_path, broker, tls_printer, ca_file, serial, connects
):
    printer, pki = tls_printer
    extra = {"tls": True, "serial": serial} | ({"ca_file": str(pki / ca_file)} if ca_file else {})
    config = printer_config(tmp_path, broker.port, printer.port, **extra)
    with running_agent(config) as agent:

        def row():
            return read_report(agent.config.outbox_path).devices[0]

        if connects:
            wait_until(lambda: row().port_open, what="TLS connection")
        else:
            wait_until(lambda: row().last_error, what="refused connection")
        final = row()
    assert final.port_open is connects
    assert (final.last_error is None) is connects
