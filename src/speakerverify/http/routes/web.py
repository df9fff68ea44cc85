"""The web client: the single page at ``/`` and its static files, all from this origin (no CDN).

Pages and scripts live in ``speakerverify/web``; Meyda comes from npm at install time
(``npm ci --prefix src/speakerverify/web``, pinned by its package-lock.json) and is served from
``web/node_modules``. If it is missing, the page still loads and says what the operator must run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ..problems import ProblemError

log = logging.getLogger("speakerverify.http")

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
STATIC_DIR = WEB_DIR / "static"
MEYDA_DIR = WEB_DIR / "node_modules" / "meyda" / "dist" / "web"
MEYDA_FILES = ("meyda.min.js", "meyda.min.js.map")
# Swagger UI for /docs, from npm's swagger-ui-dist (pinned in package-lock.json like Meyda), not a CDN.
SWAGGER_DIR = WEB_DIR / "node_modules" / "swagger-ui-dist"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
SWAGGER_URL = "/static/vendor/swagger-ui/"
INSTALL_HINT = "npm ci --prefix src/speakerverify/web"

# Everything from this origin only. Worklets are fetched under script-src (worker-src kept for
# browsers that apply it); blob: is not needed (the worklet is a file, the export download a
# blob: navigation, which CSP does not govern). Inline styles/scripts are not used.
WEB_CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".map": "application/json",
}

router = APIRouter(include_in_schema=False)


def meyda_path() -> Path | None:
    """The installed Meyda browser build, or None (then the service logs how to install it)."""
    path = MEYDA_DIR / MEYDA_FILES[0]
    return path if path.is_file() else None


def check_assets() -> list[str]:
    """Problems with the installed web assets, as messages for the operator (empty when fine)."""
    problems = []
    if not (WEB_DIR / "index.html").is_file():
        problems.append(f"the web client is missing from {WEB_DIR}")
    if meyda_path() is None:
        problems.append(f"Meyda is not installed for the web client: run `{INSTALL_HINT}`")
    if not (SWAGGER_DIR / SWAGGER_FILES[0]).is_file():
        problems.append(f"Swagger UI is not installed for /docs: run `{INSTALL_HINT}`")
    return problems


# Public files any origin may load: relying parties' pages import the widget and the modules it builds on
# (module scripts and worklets are fetched in CORS mode) and Meyda. They hold no secrets and no user data,
# and nothing is sent with credentials, so `*`; the API's CORS is per application (the apps' origins).
PUBLIC_CORS = {"Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
WIDGET_FILE = "js/widget/speakerverify.js"


def _file(path: Path, cache: str = "no-cache", public: bool = False) -> FileResponse:
    media_type = _TYPES.get(path.suffix, "application/octet-stream")
    # no-cache: the browser may keep a copy but must revalidate it (ETag), so updates show at once.
    headers = {"Content-Security-Policy": WEB_CSP, "Cache-Control": cache} | (PUBLIC_CORS if public else {})
    return FileResponse(path, media_type=media_type, headers=headers)


def _not_found() -> ProblemError:
    return ProblemError(404, "No such file.", slug="not-found")


@router.get("/")
def index() -> Response:
    for problem in check_assets():
        log.warning("web client: %s", problem)
    page = WEB_DIR / "index.html"
    if not page.is_file():
        raise _not_found()
    return _file(page, cache="no-store")


@router.get("/index.html")
def index_alias() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)


def _missing(what: str) -> ProblemError:
    return ProblemError(
        503, f"{what} is not installed; the operator must run `{INSTALL_HINT}`.", slug="web-assets-missing"
    )


@router.get("/static/vendor/swagger-ui/{name}")
def swagger_asset(name: str) -> Response:
    if name not in SWAGGER_FILES:  # compared as a string: the name never reaches the file system
        raise _not_found()
    path = SWAGGER_DIR / name
    if not path.is_file():
        raise _missing("Swagger UI (for /docs)")
    return _file(path)


@router.get("/static/vendor/{name}")
def vendor(name: str) -> Response:
    if name not in MEYDA_FILES:
        raise _not_found()
    path = MEYDA_DIR / name
    if not path.is_file():
        raise _missing("Meyda (for the web client)")
    return _file(path, public=True)


@functools.cache
def shipped_files() -> dict[str, Path]:
    """The static files the package ships, by URL path (``js/main.js``). A strict allow-list: a request
    path is only ever looked up in this dict, so no odd name (NUL, 300 bytes, ``..``, a directory) can
    reach ``open()`` and raise; it is listed once, at the first request."""
    root = STATIC_DIR.resolve()
    return {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink() and path.suffix in _TYPES
    }


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    target = shipped_files().get(path)
    if target is None:
        raise _not_found()
    return _file(target, public=True)


@router.get("/widget/speakerverify.js")
def widget() -> Response:
    """The relying parties' widget (web/static/js/widget/speakerverify.js) at a short, stable URL."""
    return static(WIDGET_FILE)


# --- API docs --------------------------------------------------------------------------------------

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@functools.cache
def docs_page() -> tuple[bytes, str]:
    """Swagger UI's page as FastAPI writes it, pointed at our copy of the assets, and its CSP. The page
    starts Swagger UI with one inline script: the CSP allows exactly that script by its SHA-256 hash
    (CSP level 2), so everything else stays 'self' only."""
    html = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="speakerverify - API",
        swagger_js_url=SWAGGER_URL + "swagger-ui-bundle.js",
        swagger_css_url=SWAGGER_URL + "swagger-ui.css",
        swagger_favicon_url=SWAGGER_URL + "favicon-32x32.png",
    ).body
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(bytes(html).decode())
    )
    csp = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return bytes(html), csp


@router.get("/docs")
def docs() -> Response:
    html, csp = docs_page()
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})
