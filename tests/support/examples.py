"""How many examples Hypothesis tries: a profile per occasion, named by an environment variable.

``PAYLINK_HYPOTHESIS_PROFILE`` picks the profile ``tests/conftest.py`` loads: ``dev`` (the
default) tries a fifth of the examples, for a quick run while working; ``ci`` (set by
``.ci/run``) the full count. A test that sets its own count writes it as
``max_examples=scaled(n)``, ``n`` being its count under ``ci``.
"""

from __future__ import annotations

from hypothesis import settings

PROFILE_VAR = "PAYLINK_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "dev"
# Examples per test when a test does not say: Hypothesis's own default under ci.
EXAMPLES = {"ci": 100, "dev": 20}


def scaled(ci_count: int) -> int:
    """``ci_count`` under the ci profile; the same share of it under the loaded profile."""
    return max(1, round(ci_count * settings().max_examples / EXAMPLES["ci"]))
