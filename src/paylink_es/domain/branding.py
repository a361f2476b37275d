"""A merchant's brand on the customer's side: display name, brand colour, logo.

The hosted page, the receipt and the e-mails show the brand instead of the merchant's
registered name. Each part is checked here, once, for every way it comes in (API,
dashboard): a display name is a one-line text of 1-60 characters; a brand colour is
``#RRGGBB`` that white text on it can be read on (WCAG 2.x contrast, at least 4.5:1,
which is also the contrast of the colour as text on white); a logo is a PNG kept by its
SHA-256 (see :mod:`paylink_es.domain.logo`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from paylink_es.domain.errors import BrandingInvalidError
from paylink_es.domain.validation import require_text

DISPLAY_NAME_MAX: Final = 60
DEFAULT_COLOR: Final = "#0b6bcb"  # the hosted page's buttons without a brand colour
BRAND_TEXT: Final = "#ffffff"  # the text the brand colour carries: buttons' white labels
MIN_CONTRAST: Final = 4.5  # WCAG 2.x AA for normal text
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
LOGO_PATH: Final = "/brand/logos/{sha256}.png"


@dataclass(frozen=True)
class LogoRef:
    """A logo as the merchant's events name it: its PNG's SHA-256 and its size."""

    sha256: str
    width: int
    height: int

    @property
    def path(self) -> str:
        """Where the logo is served (the hash in the path: a new logo is a new URL)."""
        return LOGO_PATH.format(sha256=self.sha256)


@dataclass(frozen=True)
class Brand:
    """What a merchant set of its brand (``None``: the platform's default)."""

    display_name: str | None = None
    color: str | None = None
    logo: LogoRef | None = None


NO_BRAND: Final = Brand()  # the platform's look: registered name, default colour, no logo


def check_display_name(value: object, field: str = "display_name") -> str | None:
    """A display name, trimmed: 1-60 characters on one line, no control characters;
    ``None`` clears it (the registered name is shown again)."""
    if value is None:
        return None
    return require_text(value, field, max_length=DISPLAY_NAME_MAX)


def _channel(value: int) -> float:
    """One sRGB channel (0-255) made linear, as WCAG 2.x defines it."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of ``#RRGGBB``: 0 (black) to 1 (white)."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.x contrast ratio of two ``#RRGGBB`` colours: 1 (none) to 21 (black on white)."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def shown_ratio(ratio: float) -> str:
    """A ratio as people read it, cut (never rounded up) to two decimals: 4.499 is
    ``4.49``, so a refused colour never reads as reaching the minimum."""
    return f"{math.floor(ratio * 100 + 1e-9) / 100:.2f}"


def check_brand_color(value: object, field: str = "brand_color") -> str | None:
    """``#RRGGBB`` (kept lower-case) that white text on it reads at :data:`MIN_CONTRAST`
    or more; ``None`` clears it (the platform's colour)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _COLOR.fullmatch(value.strip()):
        raise BrandingInvalidError(field, "must be a colour written #RRGGBB", kind="format")
    color = value.strip().lower()
    ratio = contrast_ratio(color, BRAND_TEXT)
    if ratio < MIN_CONTRAST:
        shown = shown_ratio(ratio)
        raise BrandingInvalidError(
            field,
            f"white text on {color} has a contrast of {shown}:1; the minimum is "
            f"{MIN_CONTRAST}:1 (choose a darker colour)",
            kind="contrast",
            color=color,
            ratio=shown,
            minimum=MIN_CONTRAST,
        )
    return color
