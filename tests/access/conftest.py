"""A small lab with an inducted-machine printer, a trainer and two makers."""

from __future__ import annotations

import pytest

from app.api.keys import Role
from tests import factories
from tests.lab.conftest import Lab, lab  # noqa: F401  (the plain lab, too)


class AccessLab(Lab):
    """The lab of the session tests, with inductions required at Printer A and a trainer."""

    def __init__(self, client, admin, device):
        super().__init__(client, admin, device)
        self.patch(f"machines/{self.printer['id']}", requires_induction=True)
        self.trainer = factories.contributor(client, admin, name="Tess")
        self.post(
            "trainers",
            contributor_id=self.trainer["id"],
            machine_id=self.printer["id"],
        )

    def post(self, path, expect=201, **body):
        response = self.client.post(f"/api/v1/{path}", json=body, headers=self.admin)
        assert response.status_code == expect, response.text
        return response.json()

    def patch(self, path, **body):
        response = self.client.patch(f"/api/v1/{path}", json=body, headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()

    def induct(self, person, **extra):
        body = {
            "contributor_id": person["id"],
            "machine_id": self.printer["id"],
            "trainer_id": self.trainer["id"],
            **extra,
        }
        return self.post("inductions", **body)


@pytest.fixture
def access_lab(client, admin, key_for):
    return AccessLab(client, admin, key_for(Role.DEVICE))
