"""A merchant's logo: what an upload must be, the PNG made from it, and where it is kept.

Nothing the merchant sent is ever served as it came. An upload is judged by its
content, never its name or Content-Type: PNG or JPEG by their first bytes, then read by
that format's decoder alone (no SVG, GIF, WebP or anything else Pillow could open). The
size the header declares is checked before a single pixel is decoded (the guard against
decompression bombs: what is decoded is at most 2048x2048), an animated PNG is refused,
and the pixels are decoded in full (a truncated or damaged file is refused). The image is
then turned upright (EXIF orientation), made RGB or RGBA (CMYK, palettes, 16-bit grey),
scaled down to fit 512x512 and written anew as a PNG without any metadata (no EXIF, ICC
profile, text or time). A PNG still over :data:`LOGO_STORED_MAX` (noise does not
compress) is made smaller until it fits, so a stored logo is always small.

The PNG is kept in the event store, in a :class:`LogoImage` aggregate whose id comes from
the PNG's SHA-256 (the same image uploaded twice, by anyone, is kept once); the
merchant's ``LogoSet`` event names the hash. Every machine serving the API reads it
from the store, and a store replayed elsewhere has it.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from eventsourcing.domain import event
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin

from paylink_es.domain.aggregate import PaylinkAggregate, stable_id
from paylink_es.domain.branding import LogoRef
from paylink_es.domain.errors import BrandingInvalidError

LOGO_MAX_BYTES: Final = 1024 * 1024  # what an upload may weigh
LOGO_MIN_SIDE: Final = 32
LOGO_MAX_SIDE: Final = 2048
LOGO_DISPLAY_SIDE: Final = 512  # the stored PNG fits in this square
LOGO_STORED_MAX: Final = 256 * 1024  # the stored PNG weighs at most this
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC: Final = b"\xff\xd8\xff"
FIELD: Final = "logo"


def _refuse(message: str, kind: str, **params: object) -> BrandingInvalidError:
    return BrandingInvalidError(FIELD, message, kind=kind, **params)


@dataclass(frozen=True)
class Logo:
    """A logo ready to keep: the PNG made from the upload, its size and its SHA-256."""

    png: bytes
    width: int
    height: int
    sha256: str

    @property
    def ref(self) -> LogoRef:
        """How the merchant's event names it."""
        return LogoRef(self.sha256, self.width, self.height)


def _open(data: bytes) -> ImageFile.ImageFile:
    """The image's header read by the decoder its first bytes name (nothing decoded)."""
    if data.startswith(PNG_MAGIC):
        opener: type[ImageFile.ImageFile] = PngImagePlugin.PngImageFile
    elif data.startswith(JPEG_MAGIC):
        opener = JpegImagePlugin.JpegImageFile
    else:
        raise _refuse("must be PNG or JPEG", "format")
    try:
        # The plugin itself, not Image.open: no other format is tried, and the size is
        # ours to check before anything is decoded.
        return opener(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise _refuse("the image is damaged or incomplete", "damaged") from error


def _check_size(image: ImageFile.ImageFile) -> None:
    width, height = image.size
    if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
        raise _refuse(
            f"{width}x{height} px is larger than {LOGO_MAX_SIDE}x{LOGO_MAX_SIDE}",
            "too_large",
            width=width,
            height=height,
            limit=LOGO_MAX_SIDE,
        )
    if width < LOGO_MIN_SIDE or height < LOGO_MIN_SIDE:
        raise _refuse(
            f"{width}x{height} px is smaller than {LOGO_MIN_SIDE}x{LOGO_MIN_SIDE}",
            "too_small",
            width=width,
            height=height,
            limit=LOGO_MIN_SIDE,
        )
    if getattr(image, "n_frames", 1) > 1:
        raise _refuse("must be a still image, not an animation", "animated")


def _pixels(image: ImageFile.ImageFile) -> Image.Image:
    """The decoded image, upright, in RGB or RGBA, with nothing of the file kept."""
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise _refuse("the image is damaged or incomplete", "damaged") from error
    if upright.mode.startswith("I"):  # 16-bit grey: to 8 bits by scale, not by clipping
        upright = upright.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        "transparency" in upright.info
    )
    converted = upright.convert("RGBA" if has_alpha else "RGB")
    # A new image from the pixels alone: no EXIF, ICC profile, text chunk or time survives.
    return Image.frombytes(converted.mode, converted.size, converted.tobytes())


def _png(image: Image.Image, side: int) -> tuple[bytes, tuple[int, int]]:
    """The image fitted into a ``side`` square (never enlarged), as PNG, and its size."""
    fitted = image.copy()
    fitted.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fitted.save(out, "PNG", optimize=True)
    return out.getvalue(), fitted.size


def prepare_logo(data: bytes) -> Logo:
    """The PNG to keep for an uploaded logo; raises :class:`BrandingInvalidError`
    (field ``logo``) saying what is wrong with it."""
    if not data:
        raise _refuse("no image was sent", "empty")
    if len(data) > LOGO_MAX_BYTES:
        raise _refuse(
            f"{len(data):,} bytes is larger than {LOGO_MAX_BYTES // 1024:,} KiB",
            "too_heavy",
            size=len(data),
            limit=LOGO_MAX_BYTES // 1024,
        )
    image = _open(data)
    _check_size(image)
    pixels = _pixels(image)
    side = LOGO_DISPLAY_SIDE
    png, (width, height) = _png(pixels, side)
    while len(png) > LOGO_STORED_MAX:  # 128x128 RGBA is 64 KiB unpacked: this ends
        side //= 2
        png, (width, height) = _png(pixels, side)
    return Logo(png, width, height, hashlib.sha256(png).hexdigest())


class LogoImage(PaylinkAggregate):
    """One logo's PNG, kept once per content (its id comes from the PNG's SHA-256)."""

    @staticmethod
    def create_id(sha256: str) -> UUID:
        """The id of the logo whose PNG has this SHA-256 (the library calls it on create)."""
        return stable_id(f"/logos/{sha256}")

    @event("Stored")
    def __init__(self, sha256: str, png: str, width: int, height: int) -> None:
        # png: base64 text (events are JSON); at most LOGO_STORED_MAX bytes before it.
        self.sha256 = sha256
        self.png_base64 = png
        self.width = width
        self.height = height

    @classmethod
    def of(cls, logo: Logo) -> LogoImage:
        """The aggregate that keeps ``logo``."""
        return cls(
            sha256=logo.sha256,
            png=base64.b64encode(logo.png).decode("ascii"),
            width=logo.width,
            height=logo.height,
        )

    def png(self) -> bytes:
        """The PNG's bytes."""
        return base64.b64decode(self.png_base64)
