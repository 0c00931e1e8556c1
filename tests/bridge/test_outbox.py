"""The SQLite outbox: order, acknowledgement, bounds, and what survives reopening the file."""

from __future__ import annotations

import sqlite3

from labbridge.database import Database
from labbridge.outbox import Outbox


def test_messages_come_back_in_order_until_acknowledged_even_after_reopening(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    db = Database(path)
    outbox = Outbox(db)
    seqs = outbox.put_many([(f"lab/v1/badge/r{i}", f"{i}".encode()) for i in range(5)])
    outbox.mark_published([(seqs[0], "Success"), (seqs[1], "Success")])
    db.close()

    reopened = Outbox(Database(path))
    waiting = reopened.waiting()
    assert [m.payload for m in waiting] == [b"2", b"3", b"4"]
    assert [m.seq for m in reopened.waiting(after_seq=seqs[3])] == [seqs[4]]
    assert all(m.qos == 1 and not m.retain for m in waiting)
    counts = reopened.counts()
    assert (counts.waiting, counts.published) == (3, 2)
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_prune_forgets_old_published_rows_and_caps_the_waiting_ones(tmp_path, caplog):
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(Database(path))
    seqs = outbox.put_many([("t", bytes([i])) for i in range(10)])
    outbox.mark_published([(seq, "Success") for seq in seqs[:4]])
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE outbox SET published_at = '2001-01-01T00:00:00.000000+00:00' WHERE seq <= ?",
            (seqs[1],),
        )

    outbox.prune(keep_published_s=3600, max_pending=4)

    with sqlite3.connect(path) as connection:
        left = [row[0] for row in connection.execute("SELECT seq FROM outbox ORDER BY seq")]
    # Two recent published rows stay; of six waiting the two oldest go, with an error.
    assert left == seqs[2:4] + seqs[6:]
    assert "dropped the 2 oldest" in caplog.text


def test_a_put_wakes_the_listeners(tmp_path):
    outbox = Outbox(Database(tmp_path / "outbox.sqlite3"))
    woken = []
    outbox.on_put(lambda: woken.append(True))
    outbox.put("t", b"x")
    outbox.put_many([])
    assert woken == [True]
