"""The interactive API docs, served without inline script so the page CSP holds.

FastAPI's own docs page starts Swagger UI from an inline `<script>`; this one
loads the same start-up code from `/docs/init.js`, and sets its own
Content-Security-Policy naming the only other origin it loads from.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

SWAGGER = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' {SWAGGER}/; style-src 'self' {SWAGGER}/; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LabLedger API</title>
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


@router.get("/docs")
def docs() -> HTMLResponse:
    """Swagger UI over this service's OpenAPI."""
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": DOCS_CSP})


@router.get("/docs/init.js")
def docs_init() -> Response:
    """The docs page's start-up script."""
    return Response(_INIT, media_type="text/javascript")
