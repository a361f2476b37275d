"""Browser tests: Playwright (sync API) driving Debian's Chromium, headless.

No Chromium (or no Playwright) means the browser tests skip, loudly; with
``PAYLINK_REQUIRE_BROWSER=1`` (CI sets it) they fail instead. The app runs in a real
uvicorn on 127.0.0.1 with ``base_url`` set to itself, on a SQLite store, for the whole
module; each test gets a fresh browser context (new cookies: a new visitor) on a
390x844 phone viewport. Dashboard modules name their ``OWNER``: ``desk`` serves the app
with its read models and that owner, ``owner`` is a desktop page signed in as them.
Screenshots of each step go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.browser.support import Shoot, desk_with_owner, desktop_page, sign_in
from tests.support.loud_skips import BROWSER_REQUIRE_VAR, BROWSER_SKIP_PREFIX, unavailable
from tests.support.shop import Shop, shop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

try:
    import playwright.sync_api  # noqa: F401 - only to know whether it can be imported
except ImportError as error:
    PLAYWRIGHT_MISSING: str | None = str(error)
else:
    PLAYWRIGHT_MISSING = None
if PLAYWRIGHT_MISSING is not None:
    # The scenario modules import Playwright; test_browser_available.py reports why not.
    collect_ignore = ["test_browser_pay.py", "test_browser_pages.py"]


def _unavailable(reason: str) -> NoReturn:
    unavailable(
        f"{BROWSER_SKIP_PREFIX}: {reason}",
        BROWSER_REQUIRE_VAR,
        "install Debian's chromium to run the browser tests",
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, or a loud skip (a failure when the browser is required)."""
    if PLAYWRIGHT_MISSING is not None:
        _unavailable(f"Playwright cannot be imported ({PLAYWRIGHT_MISSING}): pip install -e .[dev]")
    path = shutil.which("chromium")
    if path is None:
        _unavailable("no 'chromium' on PATH (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Headless Chromium for the whole run."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
            )
        except Error as error:
            _unavailable(f"{chromium_path} does not start: {str(error).splitlines()[0]}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server_clock() -> FakeClock:
    """The server's clock, starting at the real now (the page's countdown runs on real time)."""
    return FakeClock(datetime.now(tz=UTC).replace(microsecond=0))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, server_clock: FakeClock) -> Iterator[Shop]:
    """The app in a real uvicorn on 127.0.0.1 (SQLite), one merchant; for the module."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):  # nothing from outside steers this store
            if name.startswith("PAYLINK_"):
                env.delenv(name)
        settings = Settings(data_dir=tmp_path_factory.mktemp("browser") / "var")
    with shop(settings, server_clock, served=True) as built:
        yield built


@pytest.fixture(scope="module")
def desk(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    server_clock: FakeClock,
) -> Iterator[Shop]:
    """The app in uvicorn with its read models running, one merchant and its owner (the
    test module's ``OWNER``), for the module."""
    owner: str = request.module.OWNER
    with desk_with_owner(tmp_path_factory.mktemp("desk"), server_clock, owner) as built:
        yield built


@pytest.fixture
def owner(request: pytest.FixtureRequest, browser: Browser, desk: Shop) -> Iterator[Page]:
    """A desktop-sized page, signed in as the test module's ``OWNER``."""
    with desktop_page(browser) as signed_in:
        sign_in(signed_in, desk, request.module.OWNER)
        yield signed_in


@contextmanager
def _fresh_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A phone-sized page in a new context (no cookies: a new visitor), closed after."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, **options)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page in a fresh context: a new visitor with no cookies."""
    with _fresh_page(browser, has_touch=True, locale="id-ID", timezone_id="Asia/Jakarta") as fresh:
        yield fresh


@pytest.fixture
def customer(page: Page) -> Page:
    """A customer on a phone (``page``), beside the merchant's page in the same test."""
    return page


@pytest.fixture
def browser_no_js(browser: Browser) -> Iterator[Page]:
    """Like ``page``, with JavaScript turned off: the page must work without it."""
    with _fresh_page(browser, java_script_enabled=False) as fresh:
        yield fresh


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Shoot:
    """Save a full-page screenshot as ``<test>-<step>.png`` under test-output/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name.removeprefix("test_")).strip("-")

    def take(page: Page, step: str) -> Path:
        path = SCREENSHOTS / f"{test}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, f"empty screenshot {path}"
        return path

    return take
