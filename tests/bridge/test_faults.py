"""Faults: the lab broker away while devices speak, the bridge killed with messages unsent."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3

from labbridge.database import Database, DatabaseMissing
from labbridge.outbox import Outbox
from tests.bridge.support import (
    Pty,
    bridge_process,
    running_agent,
    wait_port_open,
    wait_until,
    write_config,
)


def wedge_config(tmp_path, broker, pty):
    return write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "door", "port": pty.path}],
    )


def outbox_rows(path):
    """(seq, topic, payload, published) of every row, read as `labbridge status` would."""
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT seq, topic, payload, published_at IS NOT NULL FROM outbox ORDER BY seq"
        ).fetchall()


def waiting(path):
    """Messages waiting in the outbox, None before the bridge made it."""
    try:
        db = Database(path, create=False)
    except DatabaseMissing:
        return None
    try:
        return Outbox(db).counts().waiting
    finally:
        db.close()


def test_events_made_while_the_lab_broker_is_down_arrive_once_in_order(
    tmp_path, broker, lab, ptys, caplog
):
    caplog.set_level(logging.DEBUG, logger="labbridge")
    pty = Pty()
    ptys.append(pty)
    config = wedge_config(tmp_path, broker, pty)
    badges = [f"{n:010d}" for n in range(1000, 1030)]
    broker.stop()
    with running_agent(config) as agent:
        wait_port_open(agent, "door")
        for badge in badges:
            pty.write(badge.encode() + b"\r\n")
        wait_until(lambda: waiting(agent.config.outbox_path) == len(badges), what="queued")
        assert not agent.publisher.connected
        wait_until(lambda: caplog.text.count("cannot reach the lab broker") >= 2, what="retries")
        broker.start()
        wait_until(lambda: waiting(agent.config.outbox_path) == 0, what="outbox drained")
        events = lab.wait_events(len(badges))
        wait_until(lambda: lab.on("lab/v1/bridge/test-pi/status"), what="status")
        statuses = lab.on("lab/v1/bridge/test-pi/status")

    assert [e.badge for e in events] == badges
    assert len({e.event_id for e in events}) == len(badges)
    assert json.loads(statuses[-1].payload)["state"] == "online"
    assert all(published for *_rest, published in outbox_rows(agent.config.outbox_path))
    outage = [r for r in caplog.records if r.name == "labbridge.publisher"]
    assert [r.levelname for r in outage if "cannot reach" in r.message][:2] == ["WARNING", "DEBUG"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_killed_bridge_sends_its_unsent_messages_after_restart_with_the_same_ids(
    tmp_path, broker, lab, ptys
):
    pty = Pty()
    ptys.append(pty)
    config = wedge_config(tmp_path, broker, pty)
    outbox = tmp_path / "bridge.sqlite3"

    # Online: two scans go through and are marked published.
    bridge = bridge_process(config)
    try:
        wait_until(lambda: waiting(outbox) == 0, what="bridge up")
        wait_until(lambda: lab.on("lab/v1/bridge/"), what="online status")
        wait_until(lambda: _port_open(outbox), what="port open")
        pty.write(b"0000000001\r\n0000000002\r\n")
        lab.wait_events(2)
        wait_until(lambda: sum(row[3] for row in outbox_rows(outbox)) == 2, what="acks")

        # Broker away: three more wait in the outbox; then the bridge is killed.
        broker.stop()
        pty.write(b"0000000003\r\n0000000004\r\n0000000005\r\n")
        wait_until(lambda: waiting(outbox) == 3, what="3 queued")
    finally:
        bridge.send_signal(signal.SIGKILL)
        bridge.wait(5)
    before = outbox_rows(outbox)
    unsent = [(topic, payload) for _seq, topic, payload, published in before if not published]
    assert len(unsent) == 3
    # A crash between a PUBACK and its mark leaves a sent row unmarked: make one so.
    with sqlite3.connect(outbox) as connection:
        connection.execute("UPDATE outbox SET published_at = NULL WHERE seq = ?", (before[1][0],))

    broker.start()
    bridge = bridge_process(config)
    try:
        wait_until(lambda: waiting(outbox) == 0, what="replayed")
        events = lab.wait_events(6)
        # Killed while connected: the broker publishes the retained Last Will.
        bridge.send_signal(signal.SIGKILL)
        bridge.wait(5)
        wait_until(
            lambda: json.loads(lab.on("lab/v1/bridge/")[-1].payload) == {"state": "offline"},
            what="last will",
        )
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait(5)

    assert [e.badge for e in events] == [f"{n:010d}" for n in (1, 2, 2, 3, 4, 5)]
    received = [(m.topic, m.payload) for m in lab.on("lab/v1/badge/")]
    # The replayed messages are byte for byte the queued ones: same ids, so the
    # server counts the repeated scan 2 once.
    assert received[3:] == unsent
    assert received[2] == received[1]
    assert events[2].event_id == events[1].event_id
    assert len({e.event_id for e in events}) == 5


def _port_open(outbox):
    with sqlite3.connect(outbox) as connection:
        row = connection.execute("SELECT port_open FROM device_status").fetchone()
    return row is not None and row[0] == 1


def test_a_backlog_larger_than_the_window_is_replayed_in_order_across_a_broker_restart(
    tmp_path, broker, lab
):
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "door", "port": "loop://"}],
    )
    db = Database(tmp_path / "bridge.sqlite3")
    payloads = [
        json.dumps({"badge": f"{n:010d}", "id": f"backlog-{n}"}).encode() for n in range(1500)
    ]
    Outbox(db).put_many([("lab/v1/badge/door", p) for p in payloads])
    db.close()
    with running_agent(config) as agent:
        wait_until(lambda: len(lab.on("lab/v1/badge/")) >= 300, what="replay under way")
        assert waiting(agent.config.outbox_path) > 0
        broker.restart()
        wait_until(lambda: waiting(agent.config.outbox_path) == 0, what="outbox drained")
        wait_until(
            lambda: {m.payload for m in lab.on("lab/v1/badge/")} == set(payloads), what="all"
        )
    first_seen = list(dict.fromkeys(m.payload for m in lab.on("lab/v1/badge/")))
    # Messages in flight at the restart may come twice, byte for byte (same id); none
    # is lost and the first copies keep the outbox's order.
    assert first_seen == payloads
