"""End-to-end fixtures: the real `speakerverify serve` process, Debian's Chromium driven by
Playwright, and a fake microphone fed with FSDD recordings the test picks after reading the prompt.

The fake microphone is an init script whose ``navigator.mediaDevices.getUserMedia`` returns the
MediaStream of an AudioContext at 48 kHz (what real microphones deliver); ``window.__feed(samples)``
plays 48 kHz samples into it. Everything after that source - the page's own AudioContext at
8 kHz, its AudioWorklet, Meyda, segmentation and upload - is the page's code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from speakerverify.features import extract
from support.server import serve

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SPEAKERVERIFY_CHROMIUM", "/usr/bin/chromium"))
# The README's copies are refreshed only on request; ordinary runs (and CI) leave the tree clean.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("SPEAKERVERIFY_UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "speakerverify-screenshots"
)
PASSWORD = "correct horse battery"
MIC_RATE = 48000  # the fake microphone's rate; the page resamples to the config's 8 kHz
ENROL_TAKES = range(6)  # FSDD takes 0-5 of every digit, as the evaluation protocol enrols
SPARE_TAKES = range(6, 25)  # used only if the server turns a take down
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

FAKE_MIC = """
(() => {
  const RATE = %(rate)d;
  let ctx = null, dest = null, next = 0;
  function ensure() {
    if (!ctx) { ctx = new AudioContext({ sampleRate: RATE }); dest = ctx.createMediaStreamDestination(); }
    return ctx;
  }
  if (!navigator.mediaDevices) return;
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__gumConstraints = JSON.parse(JSON.stringify(constraints));
    ensure();
    await ctx.resume();
    return dest.stream;
  };
  // Plays `samples` (numbers at RATE) after whatever is already queued; resolves when it has played.
  window.__feed = (samples) => new Promise((resolve) => {
    const c = ensure();
    const buffer = c.createBuffer(1, samples.length, RATE);
    buffer.copyToChannel(Float32Array.from(samples), 0);
    const source = c.createBufferSource();
    source.buffer = buffer;
    source.connect(dest);
    const start = Math.max(c.currentTime + 0.02, next);
    next = start + buffer.duration;
    source.onended = () => resolve(c.currentTime);
    source.start(start);
  });
})();
"""


# ------------------------------------------------------------------------------------------------
# The service


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`speakerverify serve` on a fresh SQLite data directory; yields its base URL."""
    tmp = tmp_path_factory.mktemp("e2e-server")
    with serve(tmp, [], {"SPEAKERVERIFY_DATA_DIR": str(tmp / "data")}) as base:
        yield base


# ------------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    # Not skipped when missing: scripts/test.sh installs both, so their absence is a broken set-up.
    from playwright import sync_api

    assert CHROMIUM.is_file(), f"Chromium not found at {CHROMIUM} (scripts/test.sh installs Debian's chromium)"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Tab:
    """A page plus what it did: console errors, API requests with their JSON bodies."""

    page: Any
    base: str
    mic_rate: int
    console_errors: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def goto(self, hash_: str = "") -> None:
        self.page.goto(f"{self.base}/{hash_}")
        self.page.wait_for_selector("body[data-ready='true']")

    def log_in(self, email: str, password: str) -> None:
        """Open the page and log in with the form (Enter in the password field: keyboard only)."""
        self.goto()
        page = self.page
        page.wait_for_selector("#view-login:not([hidden])")
        page.fill("#login-form input[name=email]", email)
        page.fill("#login-form input[name=password]", password)
        page.press("#login-form input[name=password]", "Enter")
        page.wait_for_selector("#view-enrol:not([hidden])")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def unexpected_console_errors(self, allowed_statuses: tuple[int, ...] = ()) -> list[str]:
        """Console errors, except Chromium's 'Failed to load resource' for statuses a test caused on purpose."""
        allowed = [f"status of {s} " for s in allowed_statuses]
        return [e for e in self.console_errors if not any(a in e for a in allowed)]


def _record(tab: Tab, request: Any) -> None:
    if "/api/" not in request.url and request.method == "GET":
        return
    body = request.post_data_buffer
    tab.requests.append(
        {
            "method": request.method,
            "url": request.url,
            "content_type": request.headers.get("content-type"),
            "body": body,
        }
    )


@pytest.fixture(scope="module")
def module_tab(browser: Any, server: str) -> Iterator[Any]:
    """``new_tab`` for module-scoped fixtures: its tabs are closed when the module's tests are done."""
    yield from _tabs(browser, server)


@pytest.fixture()
def new_tab(browser: Any, server: str) -> Iterator[Any]:
    """Factory of fresh tabs (own context: own sessionStorage), with the fake microphone installed.

    Closed when the test ends: an open tab keeps its fake microphone and audio worklet running, and a
    session's worth of them took the CPU the later browser tests needed.
    """
    yield from _tabs(browser, server)


def _tabs(browser: Any, server: str) -> Iterator[Any]:
    contexts = []

    def make(
        fake_mic: bool = True, mic_rate: int = MIC_RATE, init_script: str | None = None, **context_args: Any
    ) -> Tab:
        context = browser.new_context(accept_downloads=True, **context_args)
        contexts.append(context)
        if fake_mic:
            context.add_init_script(FAKE_MIC % {"rate": mic_rate})
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.set_default_timeout(20_000)
        tab = Tab(page=page, base=server, mic_rate=mic_rate)
        page.on("console", lambda m: tab.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: tab.console_errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: _record(tab, r))
        return tab

    yield make
    for context in contexts:
        # A test's route handler may still be fetching when its tab closes; its error would otherwise be
        # raised in whatever the next test asks of the browser.
        for page in context.pages:
            page.unroute_all(behavior="ignoreErrors")
        context.unroute_all(behavior="ignoreErrors")
        context.close()


# ------------------------------------------------------------------------------------------------
# FSDD


def read_take(fsdd: Path, digit: int, speaker: str, take: int) -> np.ndarray:
    """A recording as float samples in [-1, 1) at 8 kHz."""
    samples, rate = sf.read(str(fsdd / "recordings" / f"{digit}_{speaker}_{take}.wav"), dtype="float64")
    assert rate == 8000
    return samples if samples.ndim == 1 else samples.mean(axis=1)


def to_mic(samples: np.ndarray, lead: float, tail: float, rate: int = MIC_RATE) -> list[float]:
    """Silence around the take, then up to the fake microphone's rate (scipy's polyphase filter)."""
    padded = np.concatenate([np.zeros(int(lead * 8000)), samples, np.zeros(int(tail * 8000))])
    up = resample_poly(padded, rate // 8000, 1) if rate != 8000 else padded
    return [round(float(x), 7) for x in up]


def say(tab: Tab, samples: np.ndarray, lead: float = 0.1, tail: float = 0.45) -> None:
    """Play one take into the fake microphone and wait until it has been played."""
    tab.page.evaluate("s => window.__feed(s)", to_mic(samples, lead, tail, tab.mic_rate))


@pytest.fixture(scope="session")
def e2e() -> SimpleNamespace:
    """The helpers above, for test modules (collected with --import-mode=importlib, they cannot import conftest)."""
    return SimpleNamespace(
        read_take=read_take,
        to_mic=to_mic,
        say=say,
        password=PASSWORD,
        screenshots=SCREENSHOTS,
        enrol_takes=ENROL_TAKES,
        spare_takes=SPARE_TAKES,
        fake_mic=FAKE_MIC,
    )


# ------------------------------------------------------------------------------------------------
# Accounts made over HTTP


@dataclass(frozen=True)
class User:
    email: str
    alias: str
    token: str

    def get(self, base: str, path: str) -> Any:
        r = httpx.get(f"{base}/api/v1{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=60)
        r.raise_for_status()
        return r.json()


def _api_enrol(base: str, fsdd: Path, alias: str, speaker: str) -> User:
    email = f"{alias}@example.org"
    body = {"email": email, "password": PASSWORD, "alias": alias, "consent": True}
    assert httpx.post(f"{base}/api/v1/users", json=body, timeout=30).status_code == 201
    token = httpx.post(f"{base}/api/v1/sessions", json={"email": email, "password": PASSWORD}, timeout=30)
    user = User(email=email, alias=alias, token=token.json()["access_token"])
    config_id = httpx.get(f"{base}/api/v1/feature-config", timeout=30).json()["config_id"]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {user.token}"}, timeout=30) as client:
        for digit in range(10):
            for take in [*ENROL_TAKES, *SPARE_TAKES]:
                mfcc, energy = extract(read_take(fsdd, digit, speaker, take))
                r = client.post(
                    "/api/v1/enrolment/utterances",
                    json={"config_id": config_id, "digit": digit, "mfcc": mfcc.tolist(), "energy": energy.tolist()},
                )
                assert r.status_code in (201, 422), r.text
                progress = r.json().get("progress")
                if r.status_code == 201 and progress["takes_per_digit"][digit] >= progress["required_takes_per_digit"]:
                    break
        assert client.get("/api/v1/me").json()["enrolment"]["ready"]
    return user


@pytest.fixture(scope="session")
def ready_user(server: str, fsdd: Path) -> Callable[[str, str], User]:
    """Factory: ready_user(alias, speaker) is an account enrolled to ready over HTTP with FSDD
    `speaker`'s takes and the Python extractor (fast; the browser path has tests of its own).
    Made once per alias per session, so every test can ask for the accounts it needs."""
    made: dict[str, User] = {}

    def make(alias: str, speaker: str) -> User:
        if alias not in made:
            made[alias] = _api_enrol(server, fsdd, alias, speaker)
        return made[alias]

    return make
