"""The browser tests have a browser: skipped loudly without one, failed if CI requires it.

This module imports no Playwright, so it is collected (and says why) even without it.
"""

from __future__ import annotations

import os
from pathlib import Path


def test_chromium_is_available(chromium_path: str) -> None:
    assert Path(chromium_path).is_file()
    assert os.access(chromium_path, os.X_OK)
