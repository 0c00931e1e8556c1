"""Security headers on every response, and the strict set on every HTML page.

Every response says `X-Content-Type-Options: nosniff` and
`Referrer-Policy: no-referrer`. A `text/html` response, whichever route made it,
also gets a Content-Security-Policy that allows no inline script and no framing
(`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older browsers). A
page that needs another policy (ReDoc's workers) sets its own
`Content-Security-Policy` header, which is kept, with `frame-ancestors 'none'`
added when it does not say.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
ALL_RESPONSES = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
HTML_RESPONSES = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """Adds the headers above as each response starts; headers a route set itself stay."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, adding headers to `http.response.start`."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                wanted = dict(ALL_RESPONSES)
                if headers.get("content-type", "").startswith("text/html"):
                    wanted |= HTML_RESPONSES
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
                policy = headers.get("content-security-policy")
                if policy is not None and "frame-ancestors" not in policy:
                    headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
            await send(message)

        await self.app(scope, receive, with_headers)
