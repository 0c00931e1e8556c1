"""Every route the app serves, schema or not, as (method, path template) pairs."""

from __future__ import annotations

from fastapi import FastAPI


def all_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) for every route, including those hidden from the OpenAPI."""
    found: set[tuple[str, str]] = set()
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                for method in getattr(context.original_route, "methods", None) or ():
                    found.add((method, context.path))
        else:
            for method in getattr(route, "methods", None) or ():
                found.add((method, route.path))
    return {(method, path) for method, path in found if method != "HEAD"}
