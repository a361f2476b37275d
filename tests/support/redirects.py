"""The README's recipe for checking a redirect's signature, run as the merchant would run it.

``readme_recipe()`` takes the Python block of the README's "Redirects after payment"
section and returns its ``verify_paylink_redirect(url, secret, tolerance=300)``: the tests
check signatures with the documented code itself, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Redirects after payment"

Recipe = Callable[..., dict[str, str] | None]


@cache
def readme_recipe() -> Recipe:
    """``verify_paylink_redirect`` as the README defines it."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"the README has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's redirect section has no Python block"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(README), "exec"), namespace)  # noqa: S102 (our README)
    recipe: Recipe = namespace["verify_paylink_redirect"]
    return recipe
