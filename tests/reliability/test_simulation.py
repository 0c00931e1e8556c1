"""The seeded end-to-end simulation on two service processes, one broker and one database.

Devices (lab/v1 and OctoPrint over MQTT), badge readers (known, unknown and
refused cards), sales from four shops (some retried, some sent to both
processes at once), refunds, Stripe disputes, payout batches, and faults (the
broker restarted, a service process SIGKILLed and started again), in a random
order drawn from a seed. After every step the invariants in
`simulation.invariants` are checked against the model the test keeps.

Replay a failure with `SIM_SEED=<seed>`; run longer with
`SIM_STEPS=<n>` (default 100).
"""

from __future__ import annotations

import os
import random
import secrets
from pathlib import Path

import pytest

from tests.broker import MosquittoBroker
from tests.reliability.service import ServiceProcess
from tests.reliability.simulation import invariants
from tests.reliability.simulation.lab import set_up
from tests.reliability.simulation.world import START_TIMEOUT_S, World, write_summary
from tests.shops import SECRETS

STEPS = int(os.environ.get("SIM_STEPS", "100"))


def _doing(world: World | None) -> str:
    """What the step that failed was doing, if it failed inside one."""
    return f" in {world.current}" if world is not None else ""


def _seed() -> int:
    given = os.environ.get("SIM_SEED")
    return int(given) if given else random.randrange(10**6)


@pytest.fixture
def sim_broker(tmp_path: Path):
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


def test_seeded_simulation_on_two_processes_keeps_every_invariant(
    database_url, engine, settings, sim_broker, tmp_path
):
    seed = _seed()
    print(f"simulation seed {seed} (replay: SIM_SEED={seed})")  # noqa: T201
    run = secrets.token_hex(3)
    lab = set_up(settings, engine, run)
    service_settings = {
        "mqtt_enabled": "true",
        "mqtt_host": "127.0.0.1",
        "mqtt_port": str(sim_broker.port),
        "mqtt_shared_group": "sim",
        "log_level": "WARNING",
        "unauth_write_burst": "100000",
        **SECRETS,
    }
    services = [
        ServiceProcess(
            database_url,
            tmp_path / f"service-{name}.log",
            mqtt_client_id=f"sim-{name}-{run}",
            **service_settings,
        )
        for name in ("a", "b")
    ]
    world = None
    step = "start"
    try:
        for service in services:
            service.start(timeout=START_TIMEOUT_S)
        world = World(seed, run, engine, sim_broker, services, lab)
        world.check()
        for number in range(STEPS):
            step = f"step {number}"
            step = f"step {number} ({world.step(number, STEPS)})"
            world.check()
        summary = write_summary(tmp_path / "summary.txt", seed, world.model, STEPS)
        print(summary)  # noqa: T201
    except Exception as failure:  # any failure names the seed that replays it
        invariants.dump(engine, tmp_path / "state.txt")
        raise AssertionError(
            f"simulation seed {seed} failed at {step}{_doing(world)}: {failure} "
            f"(replay: SIM_SEED={seed}; logs in {tmp_path})"
        ) from failure
    finally:
        if world is not None:
            world.close()
        for service in services:
            service.stop()
    assert world.model.device_events and world.model.orders, "the run sent nothing"
