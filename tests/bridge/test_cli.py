"""The `labbridge` command: version, the status report from another process, a clean stop."""

from __future__ import annotations

import json
import signal

from labbridge import __version__
from tests.bridge.support import (
    Pty,
    bridge_process,
    rdm6300_frame,
    run_cli,
    running_agent,
    wait_port_open,
    wait_until,
    write_config,
)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"labbridge {__version__}\n"


def test_status_reads_what_each_device_last_did_while_the_bridge_runs(tmp_path, broker, lab, ptys):
    reader, dead = Pty(), Pty()
    ptys.extend([reader, dead])
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[
            {"kind": "reader", "protocol": "rdm6300", "name": "door", "port": reader.path},
            {"kind": "reader", "protocol": "wedge", "name": "lathe", "port": "/nonexistent/tty"},
        ],
    )
    with running_agent(config) as agent:
        wait_port_open(agent, "door")
        reader.write(rdm6300_frame(12771493))
        lab.wait_events(1)
        result = run_cli("--config", str(config), "status")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"bridge test-pi (labbridge {__version__}")
    assert f"lab broker 127.0.0.1:{broker.port}: connected" in lines[1]
    assert lines[2].startswith("outbox: 0 waiting, 1 sent")
    header, door, lathe = lines[4:7]
    assert header.split()[:4] == ["DEVICE", "KIND", "PORT", "STATE"]
    assert door.split()[:6] == ["door", "reader/rdm6300", reader.path, "open", "1", "badge"]
    assert "...1493" in door
    assert lathe.split()[:5] == ["lathe", "reader/wedge", "/nonexistent/tty", "closed", "0"]
    assert "cannot open: " in lathe and "No such file or directory" in lathe


def test_status_before_the_bridge_ever_ran_says_so(tmp_path, broker):
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "door", "port": "loop://"}],
    )
    result = run_cli("--config", str(config), "status")
    assert result.returncode == 1
    assert "has not run" in result.stderr


def test_sigterm_stops_the_bridge_cleanly_saying_offline(tmp_path, broker, lab):
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "door", "port": "loop://"}],
    )
    bridge = bridge_process(config)
    try:
        wait_until(lambda: lab.on("lab/v1/bridge/test-pi/status"), what="online")
        online = json.loads(lab.on("lab/v1/bridge/test-pi/status")[-1].payload)
        bridge.send_signal(signal.SIGTERM)
        assert bridge.wait(10) == 0
    finally:
        if bridge.poll() is None:
            bridge.kill()
    wait_until(lambda: len(lab.on("lab/v1/bridge/test-pi/status")) == 2, what="offline")
    offline = json.loads(lab.on("lab/v1/bridge/test-pi/status")[-1].payload)
    assert online["state"] == "online" and online["version"] == __version__
    assert offline["state"] == "offline" and offline["at"] >= online["at"]
    log = (tmp_path / "bridge.log").read_text()
    assert "labbridge stopped" in log
