"""The web client: the single page at ``/`` and its static files, all from this origin (no CDN).

Pages and scripts live in ``speakerverify/web``; Meyda comes from npm at install time
(``npm ci --prefix src/speakerverify/web``, pinned by its package-lock.json) and is served from
``web/node_modules``. If it is missing, the page still loads and says what the operator must run.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from ..problems import ProblemError

log = logging.getLogger("speakerverify.http")

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
STATIC_DIR = WEB_DIR / "static"
MEYDA_DIR = WEB_DIR / "node_modules" / "meyda" / "dist" / "web"
MEYDA_FILES = ("meyda.min.js", "meyda.min.js.map")
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
    return problems


def _file(path: Path, cache: str = "no-cache") -> FileResponse:
    media_type = _TYPES.get(path.suffix, "application/octet-stream")
    # no-cache: the browser may keep a copy but must revalidate it (ETag), so updates show at once.
    headers = {"Content-Security-Policy": WEB_CSP, "Cache-Control": cache}
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


@router.get("/static/vendor/{name}")
def vendor(name: str) -> Response:
    if name not in MEYDA_FILES:
        raise _not_found()
    path = MEYDA_DIR / name
    if not path.is_file():
        raise ProblemError(
            503,
            f"Meyda is not installed for the web client; the operator must run `{INSTALL_HINT}`.",
            slug="web-assets-missing",
        )
    return _file(path)


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    root = STATIC_DIR.resolve()
    target = (root / path).resolve()
    # Only regular files inside the static folder: no "..", no absolute paths, no directories.
    if not target.is_relative_to(root) or not target.is_file() or target.suffix not in _TYPES:
        raise _not_found()
    return _file(target)
