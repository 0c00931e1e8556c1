"""Helpers for driving the lab through its HTTP event routes with explicit device times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.api.keys import Role
from tests import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


class Lab:
    """A small lab: a printer with a reader, two makers with badges, a product."""

    def __init__(self, client, admin, device):
        self.client = client
        self.admin = admin
        self.device = device
        self.product = factories.product(client, admin, "BOARD-R1")
        self.printer = factories.machine(
            client, admin, name="Printer A", adapter="lab", address="printer-a"
        )
        self.reader = factories.reader(
            client, admin, name="reader-a", machine_id=self.printer["id"]
        )
        self.ada = factories.contributor(client, admin, name="Ada")
        self.bob = factories.contributor(client, admin, name="Bob")
        factories.badge(client, admin, self.ada["id"], "0012771493")
        factories.badge(client, admin, self.bob["id"], "0000000042")

    def scan(self, card: str, seconds: float, reader: str = "reader-a", **extra):
        response = self.client.post(
            "/api/v1/events/badge",
            json={"reader": reader, "badge": card, "at": at(seconds), **extra},
            headers=self.device,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def state(self, state: str, seconds: float, machine: str = "Printer A", **extra):
        response = self.client.post(
            "/api/v1/events/machine",
            json={"machine": machine, "state": state, "at": at(seconds), **extra},
            headers=self.device,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str, **params):
        response = self.client.get(f"/api/v1/{path}", params=params, headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def sessions(self, **params):
        return self.get("sessions", **params)["items"]

    def runs(self, **params):
        return self.get("runs", **params)["items"]


@pytest.fixture
def lab(client, admin, key_for):
    return Lab(client, admin, key_for(Role.DEVICE))
