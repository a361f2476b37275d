"""Loud skips: tests that need something missing here (PostgreSQL, Redis, a browser) skip, or
fail where a variable requires it, and the run ends with a banner saying so."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

# The browser tests' loud skip (tests/browser/conftest.py raises it, tests/conftest.py shouts).
BROWSER_SKIP_PREFIX = "BROWSER NOT AVAILABLE"
BROWSER_REQUIRE_VAR = "PAYLINK_REQUIRE_BROWSER"
# The Redis tests' (the cluster-wide rate limit): tests/conftest.py's ``redis_url``.
REDIS_SKIP_PREFIX = "REDIS NOT AVAILABLE"
REDIS_REQUIRE_VAR = "PAYLINK_REQUIRE_REDIS"
REDIS_URL_VAR = "PAYLINK_TEST_REDIS_URL"
REDIS_DEFAULT_URL = "redis://127.0.0.1:6379/0"


def unavailable(message: str, require_var: str, hint: str) -> NoReturn:
    """Skip with ``message`` and ``hint``; fail instead when ``require_var`` is ``1``."""
    if os.environ.get(require_var) == "1":
        pytest.fail(f"{message} (and {require_var}=1 requires it)", pytrace=False)
    pytest.skip(f"{message} -- {hint}")


def shout_if_skipped(
    terminalreporter: pytest.TerminalReporter,
    prefix: str,
    what: str,
    advice: str,
    *,
    reasons: bool = False,
) -> None:
    """At the end of the run, a banner when tests were skipped with ``prefix`` in their
    reason: how many (``what`` they are), the distinct reasons if asked, ``advice``."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if prefix in str(getattr(report, "longrepr", ""))
    ]
    if not skipped:
        return
    why = sorted({_reason(report) for report in skipped}) if reasons else []
    bar = "!" * 78
    terminalreporter.write_line("")
    terminalreporter.write_line(bar, red=True, bold=True)
    for line in [f"{len(skipped)} {what}", *why, advice]:
        terminalreporter.write_line(f"!!! {line}", red=True, bold=True)
    terminalreporter.write_line(bar, red=True, bold=True)


def _reason(report: object) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
