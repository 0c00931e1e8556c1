"""The lab the simulation runs in: set up through the API before the service processes start."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.api.keys import Role, create_key
from app.config import Settings
from app.main import create_app
from tests import factories
from tests.reliability.simulation.devices import LAB_MACHINE, OCTO_BASE, READER
from tests.reliability.simulation.shops import SKU


@dataclass(frozen=True)
class SimLab:
    """Keys and cards the simulation uses."""

    admin: dict[str, str]
    known_cards: tuple[str, ...]
    revoked_card: str


def set_up(settings: Settings, engine: Engine, run: str) -> SimLab:
    """A product, a lab/v1 machine with a reader, an OctoPrint printer, makers and badges."""
    with Session(engine) as db:
        admin = {"Authorization": f"Bearer {create_key(db, f'sim {run}', Role.ADMIN)[1]}"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        product = factories.product(client, admin, SKU)
        machine = factories.machine(
            client, admin, name=f"sim-lab-{run}", adapter="lab", address=LAB_MACHINE
        )
        factories.machine(
            client, admin, name=f"sim-octo-{run}", adapter="octoprint", address=OCTO_BASE
        )
        factories.reader(
            client, admin, name=READER, machine_id=machine["id"], product_id=product["id"]
        )
        cards = []
        for number, name in enumerate(("Ada", "Bob", "Cy")):
            person = factories.contributor(client, admin, name=f"{name} {run}")
            card = f"{12_000_000 + number * 1111 + int(run, 16) % 1000:010d}"
            badge = factories.badge(client, admin, person["id"], card)
            cards.append((card, badge))
        revoked_card, revoked = cards.pop()
        answer = client.patch(
            f"/api/v1/badges/{revoked['id']}", json={"status": "revoked"}, headers=admin
        )
        assert answer.status_code == 200, answer.text
    return SimLab(admin, tuple(card for card, _badge in cards), revoked_card)
