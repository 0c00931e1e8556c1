"""A real server on a port with MQTT to the suite's broker, and Debian's headless Chromium."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pydantic import SecretStr

from app.api.keys import Role
from app.main import create_app
from tests.accounting.conftest import MoneyLab
from tests.broker import free_port
from tests.ingest.conftest import FAST, service_settings
from tests.shops import SECRETS
from tests.threaded_server import ThreadedServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A shared, busy CI machine can take seconds to parse Swagger UI's bundle; waits allow for it.
expect.set_options(timeout=20_000)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


class Server:
    """The service on 127.0.0.1:<port>, its app, and an HTTP client for arranging data."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx2.Client(base_url=self.url, timeout=20)


@pytest.fixture
def server(settings, broker, engine) -> Iterator[Server]:
    """The service with shops' secrets, the public view on and ingest from the test broker."""
    extra: dict[str, Any] = {name: [SecretStr(value)] for name, value in SECRETS.items()}
    configured = service_settings(
        settings, broker.port, f"web-{free_port()}", public_dashboard=True, **extra
    )
    # The pages' data are dated in the past: a sweep would close their sessions at their limits.
    app = create_app(configured, dataclasses.replace(FAST, sweep_every_s=10**9))
    served = ThreadedServer(app, timeout_graceful_shutdown=1)
    running = Server(app, served.port)
    try:
        yield running
    finally:
        running.http.close()
        served.stop(10)


@pytest.fixture
def lab(server, admin, key_for) -> MoneyLab:
    """The money lab of tests/accounting, made through the live server's API."""
    return MoneyLab(server.http, admin, key_for(Role.DEVICE))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright never downloads a browser here."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page (no cookies), desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def login(page: Page, server: Server, headers: dict[str, str]) -> None:
    """Log in through the form with the key behind `headers`."""
    key = headers["Authorization"].removeprefix("Bearer ")
    page.goto(f"{server.url}/")
    assert "/login" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/")


def shoot(page: Page, name: str) -> None:
    """Screenshots of the current page at desktop and phone width."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
