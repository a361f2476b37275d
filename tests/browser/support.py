"""What the browser tests share besides fixtures (imported as ``tests.browser.support``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from playwright.sync_api import Page

# shoot(page, "01-step") saves a screenshot of the step and returns its path.
Shoot: TypeAlias = Callable[["Page", str], Path]
