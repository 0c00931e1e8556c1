"""The simulation's steps against two real service processes, one broker and one database."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import Engine

from tests.broker import MosquittoBroker
from tests.ingest.conftest import Publisher
from tests.reliability.service import ServiceProcess
from tests.reliability.simulation import invariants
from tests.reliability.simulation.devices import Devices, Message
from tests.reliability.simulation.lab import SimLab
from tests.reliability.simulation.model import Model, Order
from tests.reliability.simulation.shops import Delivery, Shops, resigned
from tests.replicas import fire

INGEST_TIMEOUT_S = 60.0
# A loaded CI machine can take far longer than usual to start a process.
START_TIMEOUT_S = 120.0


class World:
    """Drives random steps and checks every invariant after each."""

    def __init__(
        self,
        seed: int,
        run: str,
        engine: Engine,
        broker: MosquittoBroker,
        services: list[ServiceProcess],
        lab: SimLab,
    ) -> None:
        self.rng = random.Random(seed)
        self.engine = engine
        self.broker = broker
        self.services = services
        self.lab = lab
        self.model = Model()
        self.devices = Devices(self.rng, run)
        self.shops = Shops(self.rng, run)
        self.publisher = Publisher(broker.port)
        self.sent_messages: list[Message] = []
        self.sent_deliveries: list[Delivery] = []
        self.current = "start"
        self.steps: list[tuple[float, Callable[[], str]]] = [
            (14, self.lab_state),
            (10, self.octoprint),
            (12, self.known_scan),
            (4, self.unknown_scan),
            (3, self.refused_scan),
            (4, self.garbage),
            (4, self.redeliver_message),
            (14, self.sale),
            (5, self.duplicate_delivery),
            (5, self.concurrent_sale),
            (9, self.refund),
            (6, self.dispute),
            (4, self.payout),
            (1.5, self.restart_broker),
            (1.5, self.kill_service),
        ]

    # --- HTTP ---------------------------------------------------------------------------

    def _url(self, index: int | None = None) -> str:
        return self.services[self.rng.randrange(2) if index is None else index].url

    def _seen(self, response: httpx2.Response) -> httpx2.Response:
        self.model.statuses[response.status_code] += 1
        assert response.status_code < 500, f"{response.request.url}: {response.text[:500]}"
        return response

    def post(self, url: str, path: str, **kwargs: Any) -> httpx2.Response:
        return self._seen(httpx2.post(f"{url}{path}", timeout=60, **kwargs))

    def get(self, url: str, path: str, **kwargs: Any) -> httpx2.Response:
        return self._seen(httpx2.get(f"{url}{path}", timeout=60, **kwargs))

    # --- steps --------------------------------------------------------------------------

    def step(self, number: int, total: int) -> str:
        """One random step; every run has at least one broker restart and one kill."""
        weights = [w for w, _ in self.steps]
        ((_weight, action),) = self.rng.choices(self.steps, weights=weights)
        if number == total // 3 and not self.model.counts["restart_broker"]:
            action = self.restart_broker
        elif number == 2 * total // 3 and not self.model.counts["kill_service"]:
            action = self.kill_service
        self.current = action.__name__
        outcome = action()
        self.model.counts[action.__name__] += 1
        return f"{action.__name__}: {outcome}"

    def _publish(self, message: Message, remember: bool = True) -> str:
        self.publisher.send(message.topic, message.payload)
        self.model.messages_sent += 1
        if message.event_id is not None:
            self.model.device_events.add(message.event_id)
        if message.reject:
            self.model.device_rejects += 1
        if remember:
            self.sent_messages.append(message)
        return message.event_id or ("reject" if message.reject else "ignored")

    def lab_state(self) -> str:
        """A burst of lab/v1 machine states (a machine reports progress as it goes)."""
        return ", ".join(
            self._publish(self.devices.lab_state()) for _ in range(self.rng.randint(1, 4))
        )

    def octoprint(self) -> str:
        """One to three OctoPrint lifecycle events."""
        return ", ".join(
            self._publish(self.devices.octoprint()) for _ in range(self.rng.randint(1, 3))
        )

    def known_scan(self) -> str:
        return self._publish(self.devices.scan(self.rng.choice(self.lab.known_cards)))

    def unknown_scan(self) -> str:
        self.model.unknown_scans += 1
        return self._publish(self.devices.scan(f"{3_000_000_000 + self.rng.randrange(10**9):010d}"))

    def refused_scan(self) -> str:
        self.model.unknown_scans += 1
        return self._publish(self.devices.scan(self.lab.revoked_card))

    def garbage(self) -> str:
        return self._publish(self.devices.garbage(), remember=False)

    def redeliver_message(self) -> str:
        """A device resending a message it sent before: the same id, recorded once."""
        if not self.sent_messages:
            return self.lab_state()
        message = self.rng.choice(self.sent_messages)
        self.publisher.send(message.topic, message.payload)
        self.model.messages_sent += 1
        return f"again {message.event_id}"

    def _deliver(self, delivery: Delivery, index: int | None = None) -> list[str]:
        response = self.post(
            self._url(index), delivery.path, content=delivery.body, headers=delivery.headers
        )
        assert response.status_code == 200, f"{delivery.path}: {response.text[:500]}"
        self.model.delivered(delivery.provider, *delivery.event_ids)
        self.sent_deliveries.append(delivery)
        return list(response.json()["outcomes"])

    def sale(self) -> str:
        delivery, order = self.shops.sale()
        outcomes = self._deliver(delivery)
        assert outcomes == ["sale_recorded"], outcomes
        self.model.orders[(order.provider, order.key)] = order
        return f"{order.provider} {order.currency} {order.gross}"

    def duplicate_delivery(self) -> str:
        """A shop retrying a delivery it made before: nothing changes."""
        if not self.sent_deliveries:
            return self.sale()
        delivery = resigned(self.rng.choice(self.sent_deliveries))
        response = self.post(
            self._url(), delivery.path, content=delivery.body, headers=delivery.headers
        )
        assert response.status_code == 200, response.text
        outcomes = response.json()["outcomes"]
        assert set(outcomes) == {"duplicate"}, outcomes
        return f"{delivery.provider} again"

    def concurrent_sale(self) -> str:
        """The same sale delivered to both processes at once: one sale."""
        delivery, order = self.shops.sale()
        responses = fire(
            [
                lambda i=i: self.post(
                    self.services[i].url,
                    delivery.path,
                    content=delivery.body,
                    headers=delivery.headers,
                )
                for i in (0, 1)
            ]
        )
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        outcomes = sorted(o for r in responses for o in r.json()["outcomes"])
        assert outcomes.count("sale_recorded") == 1, outcomes
        self.model.delivered(delivery.provider, *delivery.event_ids)
        self.sent_deliveries.append(delivery)
        self.model.orders[(order.provider, order.key)] = order
        return f"{order.provider} {outcomes}"

    def _some_order(self, provider: str | None = None) -> Order | None:
        orders = [o for o in self.model.orders.values() if provider in (None, o.provider)]
        return self.rng.choice(orders) if orders else None

    def refund(self) -> str:
        order = self._some_order()
        if order is None:
            return self.sale()
        delivery, amount = self.shops.refund(order)
        outcomes = self._deliver(delivery)
        order.refund(amount)
        return f"{order.provider} {amount} of {order.gross}: {outcomes}"

    def dispute(self) -> str:
        order = self._some_order("stripe")
        if order is None:
            return self.sale()
        closing = self.rng.choice(["won", "lost"]) if order.held else None
        outcomes = self._deliver(self.shops.dispute(order, closing))
        order.held = closing is None
        if closing == "lost":
            order.refund(order.gross)
        return f"{closing or 'opened'}: {outcomes}"

    def payout(self) -> str:
        """A batch made on one process and marked paid on the other."""
        currency = self.rng.choice(["EUR", "EUR", "JPY"])
        first = self.rng.randrange(2)
        made = self.post(
            self._url(first), "/api/v1/payouts", json={"currency": currency}, headers=self.lab.admin
        )
        if made.status_code == 409:
            return "nothing due"
        assert made.status_code == 201, made.text
        batch = made.json()
        paid = self.post(
            self._url(1 - first), f"/api/v1/payouts/{batch['id']}/paid", headers=self.lab.admin
        )
        assert paid.status_code == 200, paid.text
        for item in batch["items"]:
            self.model.paid[(item["contributor_id"], currency)] += item["amount_minor"]
        return f"{currency} {sum(i['amount_minor'] for i in batch['items'])}"

    def restart_broker(self) -> str:
        """The broker goes away and comes back; devices resume once both replicas are back.

        Mosquitto (2.0) does not restore shared subscriptions from its persistence
        file, so a message published after a restart and before the replicas
        subscribe again reaches nobody: devices wait for the replicas here.
        """
        self.publisher.close()
        self.broker.restart()
        deadline = time.monotonic() + INGEST_TIMEOUT_S
        while not all(self._connected(service) for service in self.services):
            assert time.monotonic() < deadline, "the replicas did not reconnect to the broker"
            time.sleep(0.1)
        self.publisher = Publisher(self.broker.port)
        self.model.counts["faults"] += 1
        return "broker restarted"

    def _connected(self, service: ServiceProcess) -> bool:
        state = self.get(service.url, "/readyz").json()["mqtt"]["state"]
        return bool(state == "connected")

    def kill_service(self) -> str:
        """One service process SIGKILLed; devices keep sending; it is started again."""
        victim = self.services[self.rng.randrange(2)]
        assert victim.process is not None
        victim.process.kill()
        victim.process.wait(10)
        victim.process = None
        for _ in range(self.rng.randint(1, 3)):
            self.lab_state()
        victim.start(timeout=START_TIMEOUT_S)
        self.model.counts["faults"] += 1
        return f"killed and restarted :{victim.port}"

    # --- invariants ---------------------------------------------------------------------

    def check(self) -> None:
        deadline = time.monotonic() + INGEST_TIMEOUT_S
        while not invariants.device_events_settled(self.engine, self.model):
            if time.monotonic() > deadline:
                break  # check_devices says what is missing
            time.sleep(0.05)
        invariants.check_devices(self.engine, self.model)
        invariants.check_sessions(self.engine)
        invariants.check_deliveries(self.engine, self.model)
        invariants.check_money(self.engine, self.model)
        verdict = self.get(self._url(), "/api/v1/ledger/verify", headers=self.lab.admin).json()
        assert verdict["ok"], f"ledger chain broken: {verdict}"

    def close(self) -> None:
        self.publisher.close()


def write_summary(path: Path, seed: int, model: Model, steps: int) -> str:
    """One line of the run's figures (printed, and kept beside the logs)."""
    sales = model.counts["sale"] + model.counts["concurrent_sale"]
    line = (
        f"seed={seed} steps={steps} messages={model.messages_sent} "
        f"device_events={len(model.device_events)} rejects={model.device_rejects} "
        f"sales={sales} refunds={model.counts['refund']} disputes={model.counts['dispute']} "
        f"payouts={model.counts['payout']} faults={model.counts['faults']} "
        f"responses={sum(model.statuses.values())} 5xx={sum(n for s, n in model.statuses.items() if s >= 500)}"
    )
    path.write_text(line + "\n")
    return line
