"""Swagger UI and ReDoc served from assets installed with the project: no request leaves the origin."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
# fastapi-offline ships the Swagger UI and ReDoc bundles as package data.
_ASSETS = files("fastapi_offline") / "static"
# The one address inside the ReDoc bundle that it would fetch: the "API docs by Redocly" logo.
_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def mount_docs(app: FastAPI) -> None:
    """Add /docs and /redoc; the app must be created with docs_url=None and redoc_url=None."""
    redoc_bundle = (_ASSETS / "redoc.standalone.js").read_text(encoding="utf-8")
    redoc_bundle = redoc_bundle.replace(_REDOC_LOGO, f"{ASSETS_URL}/favicon.png")

    async def redoc_js() -> Response:
        return Response(redoc_bundle, media_type="text/javascript")

    # Registered before the static mount, so this route answers for the bundle.
    app.add_api_route(f"{ASSETS_URL}/redoc-offline.js", redoc_js, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=str(_ASSETS)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API docs",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            # Without this Swagger UI asks validator.swagger.io to check the spec.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc-offline.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
