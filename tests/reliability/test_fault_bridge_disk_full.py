"""Fault: the disk under the bridge's outbox fills up, then space comes back.

The disk full is SQLite's own SQLITE_FULL: the agent's connection gets a page
limit at the file's current size (`PRAGMA max_page_count`), so once the room
left in its pages is used the next outbox row cannot be stored, exactly as on
a full SD card. The bridge (in this process, reading a real pty and
publishing to a real Mosquitto) must keep running, keep and later send every
message it already held, count and log each one it could not store, and store
again once the limit is lifted.
"""

from __future__ import annotations

import logging

from labbridge.agent import Agent
from labbridge.status import format_report, read_report
from tests.bridge.support import (
    Pty,
    Subscriber,
    running_agent,
    wait_port_open,
    wait_until,
    write_config,
)

CARDS = [f"{n:010d}" for n in range(2000, 2400)]
REFUSED = [f"{n:010d}" for n in range(3000, 3005)]
AFTER = [f"{n:010d}" for n in range(4000, 4012)]
NO_LIMIT = 1_073_741_823


def _execute(agent: Agent, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run SQL on the agent's own connection (a page limit holds per connection)."""
    db = agent.db
    with db._lock:
        return list(db._connection.execute(sql, params))


def _fill_the_disk(agent: Agent) -> None:
    """No page may be added to the file any more."""
    ((pages,),) = _execute(agent, "PRAGMA page_count")
    _execute(agent, f"PRAGMA max_page_count = {pages}")


def _free_space(agent: Agent) -> None:
    _execute(agent, f"PRAGMA max_page_count = {NO_LIMIT}")


def _waiting(agent: Agent) -> int:
    return agent.outbox.counts().waiting


def test_a_full_disk_keeps_what_the_outbox_holds_counts_what_it_cannot_and_recovers(
    tmp_path, broker, caplog
):
    caplog.set_level(logging.INFO, logger="labbridge")
    lab = Subscriber(broker.port)
    pty = Pty()
    config = write_config(
        tmp_path / "bridge.toml",
        broker.port,
        serial=[{"kind": "reader", "protocol": "wedge", "name": "door", "port": pty.path}],
    )
    broker.stop()  # the lab broker is away: everything waits in the outbox
    try:
        with running_agent(config) as agent:
            wait_port_open(agent, "door")
            _fill_the_disk(agent)
            held: list[str] = []
            for card in CARDS:  # scans are stored until the pages the file has are full
                pty.write(card.encode() + b"\r\n")
                before = len(held)
                wait_until(
                    lambda n=before: _waiting(agent) > n or agent.outbox.not_stored,
                    what=f"{card} stored or refused",
                )
                if agent.outbox.not_stored:
                    break
                held.append(card)
            assert len(held) >= 3 and agent.outbox.not_stored == 1
            for number, card in enumerate(REFUSED, start=2):
                pty.write(card.encode() + b"\r\n")
                wait_until(lambda n=number: agent.outbox.not_stored == n, what=f"{number} refused")
            assert _waiting(agent) == len(held)
            assert all(worker._thread.is_alive() for worker in agent.workers)
            assert agent.publisher._thread.is_alive()

            broker.start()  # sent while the disk is still full: a sent row cannot be marked
            lab.wait_events(len(held))
            _free_space(agent)
            wait_until(lambda: _waiting(agent) == 0, what="sent rows marked")
            for card in AFTER:
                pty.write(card.encode() + b"\r\n")
            events = lab.wait_events(len(held) + len(AFTER))
            wait_until(lambda: _waiting(agent) == 0, what="outbox drained")
            report = format_report(read_report(agent.config.outbox_path))
    finally:
        lab.close()
        pty.close()

    assert [e.badge for e in events] == held + AFTER
    assert len({e.event_id for e in events}) == len(events)
    refused = 1 + len(REFUSED)  # the scan that met the full disk, and the ones after it
    assert agent.outbox.not_stored == refused
    assert f"{refused} not stored (disk full)" in report
    errors = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name == "labbridge.outbox"
    ]
    assert len(errors) == 2, errors
    assert "the disk is full" in errors[0] and f"the {len(held)} already held" in errors[0]
    assert f"{refused} message(s) could not be stored" in errors[1]
