"""Serial devices through real ptys: badge readers, a Marlin printer, an SCPI instrument."""

from __future__ import annotations

import logging
import random

from devices.events import BadgeScan, MachineState, RunState
from labbridge.status import read_report
from tests.bridge.support import (
    FakeMarlin,
    Pty,
    rdm6300_frame,
    running_agent,
    wait_port_open,
    wait_until,
    write_config,
)

CARDS = [12771493, 4242, 99999999, 7, 3141592653]


def test_rdm6300_frames_split_and_noisy_arrive_as_badge_scans_in_order(tmp_path, broker, lab, ptys):
    pty = Pty()
    ptys.append(pty)
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "rdm6300", "name": "door", "port": pty.path}],
    )
    rng = random.Random(7)
    stream = b""
    for card in CARDS:
        stream += bytes(rng.randrange(256) for _ in range(rng.randint(0, 5))).replace(b"\x02", b"")
        stream += rdm6300_frame(card)
    stream += b"\x022E00AF0EC9B4\x03"  # checksum is a sum, not a XOR: refused
    with running_agent(config) as agent:
        wait_port_open(agent, "door")
        pty.write_split(stream, rng)
        events = lab.wait_events(len(CARDS))
        wait_until(
            lambda: (
                read_report(agent.config.outbox_path).devices[0].last_error
                == "frame checksum mismatch"
            )
        )
        report = read_report(agent.config.outbox_path)

    assert [e.badge for e in events] == [f"{card:010d}" for card in CARDS]
    assert all(isinstance(e, BadgeScan) and e.reader == "door" for e in events)
    assert len({e.event_id for e in events}) == len(CARDS)
    (door,) = report.devices
    assert door.events == len(CARDS)
    assert door.last_event == "badge ...2653"


def test_marlin_is_polled_with_checksums_and_reports_a_print_with_its_print_time(
    tmp_path, broker, lab, ptys
):
    pty = Pty()
    ptys.append(pty)
    printer = FakeMarlin(pty)
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[
            {
                "kind": "machine",
                "adapter": "marlin",
                "name": "mk3",
                "port": pty.path,
                "poll_interval_s": 0.1,
            }
        ],
    )
    try:
        with running_agent(config):
            wait_until(lambda: [e.state for e in lab.events()] == [RunState.IDLE])
            printer.pty.write(b"\xff\xfe garbage \x00\n")
            printer.sd = (500, 1000)
            wait_until(lambda: RunState.RUNNING in [e.state for e in lab.events()])
            printer.say("Done printing file")
            printer.sd = None
            wait_until(lambda: any(e.reported_busy_s for e in lab.events()))
    finally:
        printer.stop()

    events = lab.events()
    assert all(isinstance(e, MachineState) and e.machine == "mk3" for e in events)
    assert [e.state for e in events] == [
        RunState.IDLE,
        RunState.RUNNING,
        RunState.FINISHED,
        RunState.FINISHED,
    ]
    assert events[1].progress == 50.0
    assert events[3].reported_busy_s == 3723.0
    assert printer.bad_lines == []
    commands = printer.commands()
    assert commands[0] == "M110 N0"
    assert {"M27", "M105", "M31"} <= set(commands)
    numbers = [int(line.split(b" ")[0][1:]) for line in printer.lines]
    assert numbers == list(range(len(numbers)))


def test_marlin_gets_the_lines_it_asks_to_have_resent(tmp_path, broker, lab, ptys):
    pty = Pty()
    ptys.append(pty)
    printer = FakeMarlin(pty)
    printer.garble_next = b"M105"
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[
            {
                "kind": "machine",
                "adapter": "marlin",
                "name": "mk3",
                "port": pty.path,
                "poll_interval_s": 0.2,
            }
        ],
    )
    try:
        with running_agent(config):
            wait_until(lambda: printer.commands().count("M105") >= 2, what="resent M105")
    finally:
        printer.stop()
    first_m105 = next(line for line in printer.lines if b" M105*" in line)
    assert printer.lines.count(first_m105) == 2  # the same numbered line, sent again
    assert printer.bad_lines == []


def test_scpi_instrument_polled_with_the_configured_query_and_mask(tmp_path, broker, lab, ptys):
    pty = Pty()
    ptys.append(pty)
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[
            {
                "kind": "machine",
                "adapter": "scpi",
                "name": "smu",
                "port": pty.path,
                "poll_interval_s": 0.05,
                "scpi_query": "STATus:OPERation:CONDition?",
                "scpi_busy_mask": 1,
            }
        ],
    )
    written = bytearray()

    def asked(query: bytes) -> bool:
        written.extend(pty.read_available())
        return query in written

    with running_agent(config) as agent:
        wait_port_open(agent, "smu")
        wait_until(lambda: asked(b"STAT:OPER:COND?\n"))
        # Bit 4 (measuring) is busy under the default mask, but this instrument's mask is bit 0.
        pty.write(b"KEITHLEY INSTRUMENTS,MODEL 2450,04321234,1.7.3\r\n+16\r\n+17\r\n+0\r\n")
        events = lab.wait_events(3)
    assert written.startswith(b"*IDN?\n")
    assert [e.state for e in events] == [RunState.IDLE, RunState.RUNNING, RunState.IDLE]


def test_a_port_that_disappears_is_reopened_and_logged_once_per_outage(
    tmp_path, broker, lab, ptys, caplog
):
    caplog.set_level(logging.DEBUG, logger="labbridge.serial_worker")
    first = Pty()
    ptys.append(first)
    link = tmp_path / "by-id-reader"
    link.symlink_to(first.path)
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "bench", "port": str(link)}],
    )
    with running_agent(config) as agent:
        wait_port_open(agent, "bench")
        first.write(b"0012771493\r\n")
        lab.wait_events(1)
        # Unplugged: the device node vanishes, the bridge keeps trying for a while.
        first.close()
        link.unlink()
        wait_until(lambda: not read_report(agent.config.outbox_path).devices[0].port_open)
        wait_until(lambda: caplog.text.count("still cannot open") >= 2, what="failed reopens")
        outage_report = read_report(agent.config.outbox_path)
        second = Pty()
        ptys.append(second)
        link.symlink_to(second.path)
        wait_until(lambda: "open again" in caplog.text)
        wait_port_open(agent, "bench")
        second.write(b"0000004242\n")
        events = lab.wait_events(2)

    assert [e.badge for e in events] == ["0012771493", "0000004242"]
    assert outage_report.devices[0].last_error is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "bench" in r.message]
    assert len(warnings) == 1  # the outage, not one per failed reopen
    assert "lost" in warnings[0].message
