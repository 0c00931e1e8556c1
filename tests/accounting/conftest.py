"""A lab with real sessions and runs behind a product, and a client whose shops are configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.keys import Role
from app.main import create_app
from tests import factories
from tests.lab.conftest import Lab
from tests.shops import SECRETS


@pytest.fixture
def shop_settings(settings):
    return settings.model_copy(update={name: [_secret(value)] for name, value in SECRETS.items()})


def _secret(value: str):
    from pydantic import SecretStr

    return SecretStr(value)


@pytest.fixture
def client(shop_settings, engine) -> Iterator[TestClient]:
    with TestClient(create_app(shop_settings), raise_server_exceptions=False) as test_client:
        yield test_client


class MoneyLab(Lab):
    """The lab of tests/lab with a second maker's labour and a funded printer behind BOARD-R1."""

    def __init__(self, client, admin, device):
        super().__init__(client, admin, device)
        self.funder = factories.contributor(client, admin, name="Funder")
        client.patch(
            f"/api/v1/machines/{self.printer['id']}",
            json={"provider_id": self.funder["id"]},
            headers=admin,
        )
        client.patch(
            f"/api/v1/readers/{self.reader['id']}",
            json={"product_id": self.product["id"]},
            headers=admin,
        )
        # Ada works 2 h and prints 3 h busy; Bob works 1 h.
        self.scan("0012771493", 0)
        self.state("running", 60)
        self.state("finished", 60 + 3 * 3600)
        self.scan("0012771493", 2 * 3600)
        self.scan("0000000042", 2 * 3600 + 60)
        self.scan("0000000042", 3 * 3600 + 60)

    def balances(self, currency: str | None = None) -> dict[int, int]:
        params = {"currency": currency} if currency else {}
        rows = self.client.get("/api/v1/balances", params=params, headers=self.admin).json()
        return {row["contributor_id"]: row["owed_minor"] for row in rows}


@pytest.fixture
def money_lab(client, admin, key_for) -> MoneyLab:
    return MoneyLab(client, admin, key_for(Role.DEVICE))
