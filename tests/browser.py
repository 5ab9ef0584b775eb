"""Browser tests: Playwright (from PyPI) driving Debian's Chromium against a real server.

- The browser is the system's Chromium (`/usr/bin/chromium`, or `COREVIZ_TEST_CHROMIUM`), never
  one Playwright downloads (`playwright install` fetches from a CDN, which we cannot reach and
  do not want to depend on). When it is missing and we are root with apt-get, it is installed
  once (`apt-get install chromium`), under a file lock since xdist's workers ask at the same
  time. Otherwise every browser test is skipped, with the reason and a warning in the summary,
  so a run without a browser says so instead of passing quietly.
- Every page of a test is recorded: `studio_page` fails the test if any request left the
  server's origin (and aborts such a request, so nothing is fetched even then).
- Screenshots go to test-artifacts/screenshots/ (gitignored): `shot(page, "name")`.

The fixtures are imported into tests/conftest.py; playwright itself is imported only when a
browser test runs.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.processes import ROOT, Server, server_on

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# How long `expect` waits for a page to get there (Playwright's default is 5 s), like the
# contexts' action timeout below: a bound on waiting, never a measurement. Rendering the whole
# API document (/docs, /redoc) on a loaded 2-core machine took longer than 5 s.
WAIT_MS = 15_000
_DEFAULT_CHROMIUM = "/usr/bin/chromium"
_LOCK = Path("/tmp/coreviz-studio-chromium-install.lock")
# No sandbox: tests run as root in containers, where Chromium's sandbox cannot start. The rest
# keep the browser from calling home (updates, field trials, safe browsing) on its own.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-default-apps", "--disable-sync",
               "--no-first-run", "--disable-features=Translate,OptimizationHints,MediaRouter"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class BrowserTestsSkipped(UserWarning):
    """Shown in the summary when the browser tests could not run."""


def _chromium_path() -> str:
    return os.environ.get("COREVIZ_TEST_CHROMIUM", _DEFAULT_CHROMIUM)


def _works(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _apt_install() -> str | None:
    """Install Debian's chromium; None when done, else why not."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                  "chromium", "fonts-liberation"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        if done.returncode != 0:
            return f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr[-500:]}"
    return None


def find_or_install_chromium() -> tuple[str | None, str]:
    """(the Chromium executable, "") or (None, why there is none)."""
    path = _chromium_path()
    if _works(path):
        return path, ""
    if path != _DEFAULT_CHROMIUM:
        return None, f"COREVIZ_TEST_CHROMIUM={path} is not an executable"
    if os.environ.get("COREVIZ_TEST_NO_BROWSER_INSTALL") == "1":
        return None, f"{path} is missing and COREVIZ_TEST_NO_BROWSER_INSTALL=1"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, (f"{path} is missing; install Debian's chromium (apt-get install "
                      "chromium) or set COREVIZ_TEST_CHROMIUM (not root, or no apt-get here, "
                      "so the tests cannot install it themselves)")
    with _LOCK.open("w") as lock:  # the other xdist worker waits here, then finds it installed
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _works(path):
            return path, ""
        why = _apt_install()
    if why or not _works(path):
        return None, f"{path} is missing and installing it failed: {why}"
    return path, ""


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path, why = find_or_install_chromium()
    if path is None:
        reason = f"BROWSER TESTS SKIPPED: {why}"
        warnings.warn(BrowserTestsSkipped(reason), stacklevel=1)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser(chromium_executable: str) -> Iterator[Any]:
    """One Chromium per test module (the sync Playwright loop lives only as long as it)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_executable, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def studio(pg_url: str) -> Iterator[Server]:
    """A real `coreviz-studio serve` on the test database, for the browser tests."""
    with server_on(pg_url, "cvs-web-") as server:
        yield server


@dataclass
class Visit:
    """What a test's pages asked for."""

    origin: str
    requests: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [url for url in self.requests if not _same_origin(url, self.origin)]


def _same_origin(url: str, origin: str) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return True
    return url == origin or url.startswith(origin + "/")


def open_context(browser: Any, server: Server, viewport: dict[str, int] | None = None) -> Any:
    """A fresh context (no cookies) that records every request and aborts off-origin ones."""
    context = browser.new_context(base_url=server.url, viewport=viewport or DESKTOP)
    visit = Visit(server.url)
    context.on("request", lambda request: visit.requests.append(request.url))

    def guard(route: Any) -> None:
        if _same_origin(route.request.url, server.url):
            route.continue_()
        else:
            route.abort()
    context.route(re.compile(".*"), guard)
    context.set_default_timeout(WAIT_MS)
    context.visit = visit
    return context


@pytest.fixture
def studio_page(browser: Any, studio: Server) -> Iterator[Any]:
    """A page of a fresh context on the Studio server; no request may leave its origin."""
    context = open_context(browser, studio)
    page = context.new_page()
    yield page
    visit: Visit = context.visit
    context.close()
    assert visit.requests, "the test made no request at all"
    assert visit.outside() == [], f"requests left the origin: {visit.outside()}"


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """Keep a screenshot of the page as a test artifact (the whole page, or only what the
    viewport shows for the long ones); returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = os.environ.get("PYTEST_CURRENT_TEST", "test").split("::")[-1].split(" ")[0]
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', test)}-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def sign_in(page: Any, email: str, password: str, path: str = "/", *,
            refused: bool = False) -> None:
    """Sign in on the sign-in page a Studio page sends us to, as a person would (`refused`:
    a sign-in expected to fail, which stays on the sign-in page)."""
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if refused:
        return
    # The page's script then goes to `path`: wait for that navigation, or a goto right after
    # this would be aborted by it (net::ERR_ABORTED, seen in CI).
    page.wait_for_url(lambda url: urlsplit(url).path != "/sign-in")
    page.wait_for_load_state()


@pytest.fixture
def fresh_sign_in_limits(database: Any, settings: Any) -> None:
    """The browser's sign-ins all come from 127.0.0.1: start each test with no failures
    counted on it (each test's people are new, so their per-account counts are too)."""
    from sqlalchemy import text

    from coreviz_studio import ratelimit

    keys = [rule(settings).key("127.0.0.1").value
            for rule in (ratelimit.sign_in_by_source, ratelimit.user_codes_by_source,
                         ratelimit.device_codes_by_source)]
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limits WHERE key = ANY(:k)"), {"k": keys})
