"""The API's documentation pages and the site icon, served with no outside request.

``/docs`` (Swagger UI) and ``/redoc`` load their scripts and styles from this server: the
assets ship in the ``fastapi-offline`` package, so the docs work on a machine with no
internet and no third party learns who reads them. ``/favicon.ico`` is the product's icon.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
ASSETS = Path(str(files("fastapi_offline") / "static"))
FAVICON = Path(__file__).parent / "static" / "favicon.ico"
# A day: the assets change only with the package, the icon only with a release.
CACHED = {"Cache-Control": "public, max-age=86400"}
# The pages may load only from here. ReDoc's bundle links its own logo on a CDN: the
# browser is told not to fetch it. (Both pages start with an inline script.)
HERE_ONLY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; font-src 'self' data:"
}


def install(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc``, their assets and ``/favicon.ico`` to ``app``, which must
    be made with ``docs_url=None, redoc_url=None`` (FastAPI's own pages fetch a CDN)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    def page(request: Request, html: Callable[..., HTMLResponse], **assets: str) -> HTMLResponse:
        """``html``, a FastAPI docs page of this app's document, with its ``assets`` (URL
        keyword arguments) under the app's root path, allowed to load from here only."""
        root = request.scope.get("root_path", "")
        urls = {name: f"{root}{path}" for name, path in assets.items()}
        built = html(openapi_url=f"{root}{openapi_url}", title=f"{app.title} - API", **urls)
        built.headers.update(HERE_ONLY)
        return built

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        return page(
            request,
            get_swagger_ui_html,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return page(
            request,
            partial(get_redoc_html, with_google_fonts=False),
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url="/favicon.ico",
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/x-icon", headers=CACHED)
