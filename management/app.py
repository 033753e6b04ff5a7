"""The FastAPI applications: the main listener (API and console) and the integration listener."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from management.api.native.router import router as native_router
from management.api.native.router import serve
from management.storage.template_ops import router as template_extract_router
from management.version import CLOUDSTACK_VERSION, __version__

CONSOLE_PLACEHOLDER = """<!doctype html><html><head><title>CloudStack-compatible management server</title></head>
<body><h1>CloudStack-compatible management server {version}</h1>
<p>The native API is served at <code>/client/api</code> (CloudStack {cs}). The web console is not built yet.</p>
</body></html>"""


def create_app() -> FastAPI:
    app = FastAPI(title="CloudStack-compatible management server", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.include_router(native_router)
    app.include_router(template_extract_router)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/client/")

    @app.get("/client", include_in_schema=False)
    @app.get("/client/", include_in_schema=False)
    async def console() -> Response:
        return HTMLResponse(CONSOLE_PLACEHOLDER.format(version=__version__, cs=CLOUDSTACK_VERSION))

    return app


def create_integration_app() -> FastAPI:
    """The unauthenticated integration listener: any path, query string only, runs as SYSTEM."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
    async def integration(request: Request, path: str) -> Response:
        return await serve(request, integration=True)

    return app
