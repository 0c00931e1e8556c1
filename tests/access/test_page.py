"""The dashboard's Inductions page lists inductions, denied scans and unconfirmed relays."""

from __future__ import annotations

from tests.access.test_inductions import at
from tests.api.test_web_login import _login


def test_the_inductions_page_shows_who_may_use_what_and_who_was_refused(access_lab, client, admin):
    lab = access_lab
    assert client.get("/inductions", follow_redirects=False).status_code == 303
    lab.induct(lab.ada, granted_at=at(-60), note="fire blanket")
    lab.scan("0000000042", 0)
    _login(client, admin)
    page = client.get("/inductions")
    assert page.status_code == 200
    assert "Ada" in page.text and "machine Printer A" in page.text and "fire blanket" in page.text
    assert '<td class="reason">not inducted</td>' in page.text
    assert 'href="/inductions" aria-current="page"' in page.text
