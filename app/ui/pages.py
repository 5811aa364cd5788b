"""Serve the dashboard's static files from the installed package: no request leaves the origin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

UI_URL = "/ui"
STATIC = files("app.ui") / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The browser itself refuses anything but this origin, so a change to the page cannot start sending the key (or
# anything else) elsewhere; 'self' in connect-src is all the page's fetch() calls need.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # The address may carry the key in its fragment for a moment; no Referer should ever repeat the address.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Small files that change with the package: always revalidated, so an upgrade shows at the next load.
    "Cache-Control": "no-cache",
}


def static_files() -> dict[str, str]:
    """Each file the dashboard is made of, by name, with its media type."""
    return {
        entry.name: MEDIA_TYPES[suffix]
        for entry in STATIC.iterdir()
        if entry.is_file() and (suffix := "." + entry.name.rpartition(".")[2]) in MEDIA_TYPES
    }


def mount_ui(app: FastAPI) -> None:
    """Add /ui/ (the page) and /ui/<file> (its script and style), read once from package data."""
    for name, media_type in static_files().items():
        body = (STATIC / name).read_bytes()
        path = f"{UI_URL}/" if name == "index.html" else f"{UI_URL}/{name}"
        app.add_api_route(path, _answer(body, media_type), methods=["GET"], include_in_schema=False)

    async def to_index() -> RedirectResponse:
        # The page's relative addresses (app.js, ../v1/...) resolve only from /ui/.
        return RedirectResponse(f"{UI_URL}/", status_code=308)

    app.add_api_route(UI_URL, to_index, methods=["GET"], include_in_schema=False)


def _answer(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(body, media_type=media_type, headers=HEADERS)

    return serve
