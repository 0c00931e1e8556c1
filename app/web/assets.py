"""The app's own static files, the browser libraries `npm ci` installed, and offline API docs.

Nothing is loaded from a CDN: a lab network without internet still gets its
charts and its /docs and /redoc pages.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import FileResponse, HTMLResponse, Response
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


_SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LabLedger API</title>
<link rel="stylesheet" href="/vendor/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/vendor/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

# Swagger UI is started from a file, not an inline script, so the pages' CSP holds.
_SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


@router.get("/docs")
def swagger() -> HTMLResponse:
    """Swagger UI, from the app's own copy of its files, without inline script."""
    return HTMLResponse(_SWAGGER_PAGE)


@router.get("/docs/init.js")
def swagger_init() -> Response:
    """The script that starts Swagger UI on /docs."""
    return Response(_SWAGGER_INIT, media_type="text/javascript")


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
