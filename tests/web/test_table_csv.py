"""Every table a page shows downloads as CSV, with the page's filters, and formulas made safe."""

from __future__ import annotations

import csv
import html
import io
import re

from fastapi.testclient import TestClient

from app.api.csv_out import csv_rows, safe_cell
from app.api.keys import Role
from app.main import create_app
from app.web.table_csv import table_rows
from tests.accounting.conftest import MoneyLab

ORIGIN = {"Origin": "http://testserver"}
TABLE = re.compile(r'<table id="([^"]+)"')
LINK = re.compile(r'href="([^"]*[?&]amp;csv=[^"]+|[^"]*\?csv=[^"]+)"')


def _login(client, headers) -> None:
    key = headers["Authorization"].removeprefix("Bearer ")
    response = client.post(
        "/login", data={"api_key": key, "next": "/"}, headers=ORIGIN, follow_redirects=False
    )
    assert response.status_code == 303


def _csv(client, href: str) -> list[list[str]]:
    response = client.get(html.unescape(href))
    assert response.status_code == 200, (href, response.text[:200])
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.reader(io.StringIO(response.text)))


def _headers(page: str, table_id: str) -> list[str]:
    """The column headings of a table as the page writes them (actions excluded)."""
    table = page.split(f'<table id="{table_id}"', 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r"<th scope=\"col\"([^>]*)>(.*?)</th>", table)
    return [text for attrs, text in cells if 'data-csv="skip"' not in attrs]


def _worked_lab(client, admin, key_for) -> MoneyLab:
    lab = MoneyLab(client, admin, key_for(Role.DEVICE))
    lab.state("running", 5 * 3600, job='=HYPERLINK("http://x.example","pay")')
    lab.state("finished", 5 * 3600 + 900)
    window = client.post(
        f"/api/v1/machines/{lab.printer['id']}/downtime",
        json={"starts_at": "2026-03-04T09:00:00Z", "ends_at": "2026-03-04T12:00:00Z",
              "reason": "@SUM(1) nozzle"},
        headers=admin,
    )  # fmt: skip
    assert window.status_code == 201, window.text
    return lab


def test_every_table_of_every_page_has_a_csv_of_its_rows(client, admin, key_for):
    lab = _worked_lab(client, admin, key_for)
    _login(client, admin)
    pages = [
        "/machines?since=2026-03-01&until=2026-03-03",
        f"/machines/{lab.printer['id']}",
        "/contributors?since=2026-03-01&until=2026-03-03",
        f"/contributors/{lab.ada['id']}",
        "/products?since=2026-03-01&until=2026-03-03",
        f"/products/{lab.product['id']}",
        "/money",
        "/review",
        "/inductions",
    ]
    seen = 0
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        links = {html.unescape(h).rsplit("csv=", 1)[1]: h for h in LINK.findall(page.text)}
        for table_id in TABLE.findall(page.text):
            assert table_id in links, f"{path}: table {table_id} has no CSV link"
            rows = _csv(client, links[table_id])
            assert rows[0] == _headers(page.text, table_id), (path, table_id)
            assert all(len(row) == len(rows[0]) for row in rows), (path, table_id)
            seen += 1
    assert seen >= 20


def test_a_machines_run_history_and_windows_as_csv_with_formulas_made_safe(client, admin, key_for):
    lab = _worked_lab(client, admin, key_for)
    _login(client, admin)
    runs = _csv(client, f"/machines/{lab.printer['id']}?csv=runs")
    assert runs[0] == ["Started", "Busy", "Ended", "Job", "Operator"]
    jobs = [row[3] for row in runs[1:]]
    assert '\'=HYPERLINK("http://x.example","pay")' in jobs
    assert not any(job.startswith("=") for job in jobs)
    assert any(row[1] == "3 h" and row[4] == "Ada" for row in runs[1:]), runs
    windows = _csv(client, f"/machines/{lab.printer['id']}?csv=windows")
    assert [row[2] for row in windows[1:]] == ["'@SUM(1) nozzle"]


def test_a_contributors_tables_as_csv(client, admin, key_for):
    lab = _worked_lab(client, admin, key_for)
    _login(client, admin)
    base = f"/contributors/{lab.ada['id']}?csv="
    sessions = _csv(client, base + "sessions")
    assert sessions[0] == ["Opened", "Where", "Length"]
    assert [row[2] for row in sessions[1:]] == ["2 h"]
    runs = _csv(client, base + "runs")
    assert [(row[1], row[2]) for row in runs[1:]] == [("Printer A", "3 h")]
    contributions = _csv(client, base + "contributions")
    assert contributions[0] == ["When", "Kind", "Amount", "Product", "Status"]
    assert {row[1] for row in contributions[1:]} >= {"labour"}
    assert _csv(client, base + "shares") == [["When", "Product", "Share"]]
    assert _csv(client, base + "balance") == [["Currency", "Owed", "On hold"]]


def test_a_pages_csv_has_the_pages_filters(client, admin, key_for):
    lab = _worked_lab(client, admin, key_for)
    _login(client, admin)
    march = _csv(client, "/contributors?since=2026-03-01&until=2026-03-03&csv=totals")
    april = _csv(client, "/contributors?since=2026-04-01&until=2026-04-03&csv=totals")
    assert "Ada" in {row[0] for row in march[1:]}
    assert "Ada" not in {row[0] for row in april[1:]}
    page = client.get(
        f"/contributors?since=2026-03-01&until=2026-03-03&product_id={lab.product['id']}"
    )
    link = html.unescape(LINK.search(page.text).group(1))
    assert "since=2026-03-01" in link and f"product_id={lab.product['id']}" in link


def test_review_csv_leaves_the_actions_out(client, admin, key_for):
    lab = _worked_lab(client, admin, key_for)
    lab.scan("0000009999", 6 * 3600)
    _login(client, admin)
    unknown = _csv(client, "/review?csv=unknown-badges")
    assert unknown[0] == ["Card", "Last seen", "Reader"]
    assert [row[0] for row in unknown[1:]] == ["0000009999"]
    assert "Enrol" not in client.get("/review?csv=unknown-badges").text


def test_an_unknown_table_is_404_and_a_page_csv_needs_a_login(client, admin):
    assert client.get("/money?csv=recent-sales", follow_redirects=False).status_code == 303
    _login(client, admin)
    assert client.get("/money?csv=no-such-table").status_code == 404
    assert client.get("/money?csv=recent-sales").status_code == 200


def test_cells_that_look_like_formulas_are_quoted_and_numbers_are_not():
    assert [safe_cell(v) for v in ("=1+1", "+1", "-1", "@A1", "\tx", "plain", None, -5, 2.5)] == [
        "'=1+1", "'+1", "'-1", "'@A1", "'\tx", "plain", "", -5, 2.5,
    ]  # fmt: skip
    text = csv_rows(["a", "b"], [["=cmd", -3]])
    assert text == "a,b\n'=cmd,-3\n"


def test_the_public_views_tables_as_csv_without_login(settings, engine, admin, key_for, client):
    _worked_lab(client, admin, key_for)
    public = settings.model_copy(update={"public_dashboard": True})
    with TestClient(create_app(public)) as anonymous:
        page = anonymous.get("/public")
        assert page.status_code == 200
        links = {html.unescape(h).rsplit("csv=", 1)[1]: h for h in LINK.findall(page.text)}
        tables = TABLE.findall(page.text)
        assert len(tables) == 4 and set(tables) <= set(links)
        for table_id in tables:
            rows = _csv(anonymous, links[table_id])
            assert rows[0] == _headers(page.text, table_id)
        people = _csv(anonymous, "/public?csv=contributors")
        assert len(people) > 1 and "Ada" not in {row[0] for row in people}  # not opted in
        for secret in ("0012771493", "0000000042"):
            assert all(secret not in anonymous.get(links[t]).text for t in tables)


def test_a_tables_rows_leave_out_controls_skipped_cells_and_the_empty_note():
    page = (
        '<table id="other"><tr><td>not this</td></tr></table>'
        '<table id="t"><thead><tr><th>A</th><th data-csv="skip">Act</th></tr></thead><tbody>'
        '<tr><td>a<br>b &amp; c</td><td data-csv="skip"><form><button>Go</button></form></td></tr>'
        '<tr><td><select><option>x</option></select>kept</td><td data-csv="skip"></td></tr>'
        '<tr><td colspan="2" class="empty">None.</td></tr></tbody></table>'
    )
    assert table_rows(page, "t") == [["A"], ["a b & c"], ["kept"]]
    assert table_rows(page, "missing") is None
