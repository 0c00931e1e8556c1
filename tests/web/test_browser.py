"""End to end in Debian's headless Chromium: login, live Now, Review, Money, CSV, offline docs."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

from playwright.sync_api import Route, expect

from tests import factories
from tests.ingest.conftest import Publisher, eventually
from tests.money.test_sales_flow import post_stripe
from tests.shops import stripe_checkout
from tests.web.conftest import login, shoot


def _wait_subscribed(server) -> None:
    ingest = server.app.state.ingest
    before = ingest.worker.refreshes
    ingest.refresh()
    eventually(lambda: ingest.worker.refreshes > before)
    eventually(lambda: ingest.router.filters and ingest.router.filters <= ingest.link.acknowledged)


def test_login_then_every_page_renders_and_is_photographed(server, lab, admin, page):
    page.goto(f"{server.url}/money")
    assert "/login?next=/money" in page.url
    page.get_by_label("API key").fill("llk_not-a-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    shoot(page, "login")
    login(page, server, admin)
    cookie = next(c for c in page.context.cookies() if c["name"] == "labledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    pages = {
        "now": ("/", "Now"),
        "machines": ("/machines?since=2026-03-01&until=2026-03-03", "Machines"),
        "machine": (f"/machines/{lab.printer['id']}", "Printer A"),
        "contributors": ("/contributors?since=2026-03-01&until=2026-03-03", "Contributors"),
        "contributor": (f"/contributors/{lab.ada['id']}", "Ada"),
        "products": ("/products?since=2026-03-01&until=2026-03-03", "Products"),
        "product": (f"/products/{lab.product['id']}", lab.product["name"]),
        "money": ("/money", "Money"),
        "review": ("/review", "Review"),
        "public": ("/public", "open books"),
    }
    for name, (path, heading) in pages.items():
        page.goto(f"{server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        shoot(page, name)
    page.goto(f"{server.url}/machines?since=2026-03-01&until=2026-03-03")
    expect(page.locator("tbody th", has_text="Printer A").first).to_be_visible()
    assert page.locator("canvas[data-chart]").bounding_box()["height"] > 100


def test_a_badge_in_over_mqtt_appears_on_now_without_a_reload(server, lab, admin, page, broker):
    _wait_subscribed(server)
    login(page, server, admin)
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    present = page.locator("#present")
    expect(present).not_to_contain_text("Ada")
    publisher = Publisher(broker.port)
    try:
        publisher.send("lab/v1/badge/reader-a", {"badge": "0F00C2E0A5"})
    finally:
        publisher.close()
    expect(present).to_contain_text("Ada", timeout=2_000)
    expect(page.locator('[data-machine="%d"]' % lab.printer["id"])).to_contain_text("Ada")
    assert page.evaluate("window.notReloaded") is True
    shoot(page, "now-live")


def test_an_unattributed_run_is_assigned_in_place_on_review(server, lab, admin, page):
    lathe = factories.machine(server.http, admin, name="Lathe", adapter="lab", address="lathe")
    lab.state("running", 10 * 3600, machine="Lathe")
    lab.state("finished", 11 * 3600, machine="Lathe")
    run = server.http.get("/api/v1/runs", params={"machine_id": lathe["id"]}, headers=admin).json()[
        "items"
    ][0]
    assert run["operator_id"] is None
    login(page, server, admin)
    page.goto(f"{server.url}/review")
    row = page.locator(f"#run-{run['id']}")
    row.get_by_label(f"Operator of run {run['id']}").select_option(label="Bob")
    row.get_by_label(f"Product of run {run['id']}").select_option(label=lab.product["name"])
    row.get_by_role("button", name="Assign").click()
    expect(row.locator("output")).to_have_text("Assigned")
    after = server.http.get(f"/api/v1/runs/{run['id']}", headers=admin).json()
    assert after["operator_id"] == lab.bob["id"]
    assert after["product_id"] == lab.product["id"]
    assert after["attribution"] == "manual"


def test_a_review_action_without_the_csrf_token_is_refused(server, lab, admin, page):
    login(page, server, admin)
    session = (
        next(s for s in lab.sessions() if s["closed_at"] is None)
        if any(s["closed_at"] is None for s in lab.sessions())
        else None
    )
    status = page.evaluate(
        """async () => (await fetch('/api/v1/sessions/1/close', {method: 'POST'})).status"""
    )
    assert status == 403
    assert session is None or session["closed_at"] is None


def test_a_stripe_signed_sale_changes_a_balance_on_money(server, lab, admin, page):
    login(page, server, admin)
    page.goto(f"{server.url}/money")
    ada_row = page.locator(f'#balances tr[data-contributor="{lab.ada["id"]}"]')
    expect(ada_row).to_have_count(0)
    sale = stripe_checkout(
        "evt_web_1", "cs_web_1", [{"sku": "BOARD-R1", "quantity": 1, "amount": 2500}]
    )
    response = post_stripe(server.http, sale)
    assert response.status_code == 200, response.text
    owed = lab.balances("EUR")[lab.ada["id"]]
    assert owed > 0
    page.reload()
    expect(ada_row.locator(".owed")).to_have_text(f"€{owed // 100}.{owed % 100:02d}")
    expect(page.locator("#chain-check")).to_have_text("The chain verifies.")
    shoot(page, "money-after-sale")


def test_a_table_downloads_as_csv_with_the_page_filters(server, lab, admin, page):
    login(page, server, admin)
    page.goto(f"{server.url}/machines?since=2026-03-01&until=2026-03-03&by=day")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    text = open(download.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    printer = [r for r in rows if r["machine"] == "Printer A"]
    assert [r["period"] for r in printer] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    busy = {r["period"]: float(r["busy_s"]) for r in printer}
    assert busy["2026-03-02"] == 3 * 3600
    assert int(next(r for r in printer if r["period"] == "2026-03-02")["finished"]) == 1


def test_docs_and_redoc_work_with_the_network_cut_off(server, page):
    attempted: list[str] = []

    def local_only(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(f"{server.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("LabLedger")
    expect(page.locator(".opblock").first).to_be_visible()
    shoot(page, "docs")
    page.goto(f"{server.url}/redoc")
    expect(page.locator("h1").first).to_contain_text("LabLedger")
    assert attempted == []


def test_pages_carry_a_csp_without_inline_scripts(server, lab, admin, page):
    login(page, server, admin)
    response = page.goto(f"{server.url}/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    html = page.content()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
