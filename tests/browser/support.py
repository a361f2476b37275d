"""What the browser tests share besides fixtures (imported as ``tests.browser.support``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from paylink_es.domain.clock import FakeClock
from paylink_es.settings import Settings
from tests.support.shop import Shop, shop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page

# shoot(page, "01-step") saves a screenshot of the step and returns its path.
Shoot: TypeAlias = Callable[["Page", str], Path]
PASSWORD = "correct horse battery"


@contextmanager
def desk_with_owner(folder: Path, clock: FakeClock, owner: str) -> Iterator[Shop]:
    """The app in uvicorn on a SQLite store under ``folder``, its read models running,
    with one merchant and its owner ``owner`` (password :data:`PASSWORD`)."""
    with shop(Settings(data_dir=folder / "var"), clock, served=True, run_projections=True) as built:
        built.paylink.users.create_user(built.merchant_id, owner, PASSWORD, "owner", "Budi")
        yield built


@contextmanager
def desktop_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A desktop-sized page in a fresh context (no session), in Indonesian, Jakarta time."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="id-ID",
        timezone_id="Asia/Jakarta",
        **options,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, desk: Shop, email: str) -> None:
    """Sign ``email`` in to the dashboard through its sign-in form."""
    page.goto(f"{desk.url}/dashboard")
    page.wait_for_url(re.compile(r"/dashboard/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{desk.url}/dashboard")


def watch_navigations(page: Page) -> list[str]:
    """Mark the document (``window.__marker`` is 1 until it is reloaded) and collect the
    URLs its main frame navigates to from now on: both stay as they are while the page
    updates itself."""
    page.evaluate("window.__marker = 1")
    navigations: list[str] = []

    def navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            navigations.append(frame.url)

    page.on("framenavigated", navigated)
    return navigations
