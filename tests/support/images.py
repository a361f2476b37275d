"""Images made in the tests with Pillow: logos to upload, and what the server answers.

Imported as ``tests.support.images`` by the branding tests of every tier.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

SVG_LOGO = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" '
    b'height="64"><script>alert(1)</script><rect width="64" height="64"/></svg>'
)


def encoded(image: Image.Image, kind: str = "PNG", **options: Any) -> bytes:
    """``image`` written in ``kind`` (a Pillow format name) with ``options``."""
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def logo_upload(size: tuple[int, int] = (800, 400), color: str = "#7a1f5c") -> bytes:
    """A JPEG logo as a merchant would upload it: larger than the page shows, with EXIF."""
    exif = Image.Exif()
    exif[0x013B] = "Artist Secret Name"
    return encoded(Image.new("RGB", size, color), "JPEG", quality=90, exif=exif.tobytes())


def decoded(data: bytes) -> Image.Image:
    """A PNG the server answered, decoded (raises if it is no PNG)."""
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image
