"""The worker keeps the process's start-up heap out of the garbage collector's walks."""

from __future__ import annotations

import gc

from app.ingest.routing import TopicRouter
from app.ingest.worker import IngestWorker, WorkerConfig


def _worker(engine) -> IngestWorker:
    return IngestWorker(
        engine, TopicRouter(), WorkerConfig(), lambda _m: None, lambda _ids: None, lambda: None
    )


def test_starting_workers_freezes_the_startup_heap_once_per_process(engine):
    first, second = _worker(engine), _worker(engine)
    first.start()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        second.start()
        # Not again (frozen objects may still be freed): later objects stay collectable.
        assert gc.get_freeze_count() <= frozen
    finally:
        second.stop()
        first.stop()
