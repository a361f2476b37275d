"""What the browser tests share besides fixtures (imported as ``tests.browser.support``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Page

    from tests.support.shop import Shop

# shoot(page, "01-step") saves a screenshot of the step and returns its path.
Shoot: TypeAlias = Callable[["Page", str], Path]
PASSWORD = "correct horse battery"
OWNER = "owner@desk.example"


def sign_in(page: Page, desk: Shop, email: str) -> None:
    """Sign in to the dashboard through its login form, as the user ``email``."""
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
