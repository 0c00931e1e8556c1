"""The app's own static files, the browser libraries `npm ci` installed, and offline API docs.

Nothing is loaded from a CDN: a lab network without internet still gets its
charts and its /docs and /redoc pages.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"

# The only files served from the npm packages: URL name -> path under node_modules.
VENDOR_FILES = {
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
}

# ReDoc injects its styles and runs search in a blob worker; it may load nothing from elsewhere.
REDOC_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)

router = APIRouter(include_in_schema=False)


@router.get("/vendor/{name}")
def vendor(request: Request, name: str) -> FileResponse:
    """A browser library from node_modules (installed by `npm ci`), cached for a day."""
    relative = VENDOR_FILES.get(name)
    path = Path(request.app.state.settings.assets_dir) / relative if relative else None
    if path is None or not path.is_file():
        raise NotFound(
            f"asset {name!r} is not installed: run `npm ci` (make run does) "
            "or set LABLEDGER_ASSETS_DIR"
        )
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/docs")
def swagger(request: Request) -> HTMLResponse:
    """Swagger UI, from the app's own copy of its files.

    Its one start-up script is allowed by its hash, so no other inline script can run.
    """
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="LabLedger API",
        swagger_js_url="/vendor/swagger-ui-bundle.js",
        swagger_css_url="/vendor/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", bytes(page.body).decode(), re.S)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
    )
    return page


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc, from the app's own copy of its bundle, without web fonts.

    Its policy keeps it from fetching anything elsewhere (ReDoc's own logo is on a CDN).
    """
    page = get_redoc_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="LabLedger API",
        redoc_js_url="/vendor/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = REDOC_CSP
    return page


def install_assets(app: FastAPI) -> None:
    """Serve /static, /vendor, /docs and /redoc on `app`."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
