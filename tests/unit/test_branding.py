"""A merchant's brand: display names, brand colours by WCAG contrast, and logo uploads.

Every image here is made in the test with Pillow (or from Pillow's bytes, patched): a
PNG bomb, a PNG whose header claims 20000x20000, a truncated PNG, an SVG, GIFs, an
animated PNG, JPEGs too heavy or too large, a CMYK JPEG, a PNG with transparency.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from paylink_es.domain.branding import (
    MIN_CONTRAST,
    check_brand_color,
    check_display_name,
    contrast_ratio,
    relative_luminance,
    shown_ratio,
)
from paylink_es.domain.errors import BrandingInvalidError, InvalidFieldError
from paylink_es.domain.logo import (
    LOGO_DISPLAY_SIDE,
    LOGO_MAX_BYTES,
    LOGO_STORED_MAX,
    PNG_MAGIC,
    Logo,
    prepare_logo,
)
from tests.support.images import SVG_LOGO, encoded

# -- colours -------------------------------------------------------------------------


def test_luminance_and_contrast_match_wcag_at_the_ends() -> None:
    assert relative_luminance("#ffffff") == pytest.approx(1.0)
    assert relative_luminance("#000000") == pytest.approx(0.0)
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast_ratio("#0b6bcb", "#0b6bcb") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("color", "ratio"),
    [
        ("#767676", 4.54),  # the lightest grey that passes on white
        ("#777777", 4.48),  # one step lighter: refused
        ("#0000ff", 8.59),
        ("#ff0000", 4.00),
        ("#ffcc00", 1.51),
    ],
)
def test_contrast_with_white_is_the_published_ratio(color: str, ratio: float) -> None:
    assert contrast_ratio(color, "#ffffff") == pytest.approx(ratio, abs=0.006)


@given(
    st.from_regex(r"#[0-9a-f]{6}", fullmatch=True), st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)
)
def test_contrast_is_symmetric_and_between_1_and_21(first: str, second: str) -> None:
    ratio = contrast_ratio(first, second)
    assert ratio == pytest.approx(contrast_ratio(second, first))
    assert 1.0 <= ratio <= 21.0 + 1e-9


def test_a_dark_enough_colour_is_kept_lower_case_and_none_clears_it() -> None:
    assert check_brand_color("#0B6BCB") == "#0b6bcb"
    assert check_brand_color(" #767676 ") == "#767676"
    assert check_brand_color(None) is None


@pytest.mark.parametrize("value", ["0b6bcb", "#0b6bc", "#0b6bcg", "red", "#0b6bcb0", "", 123])
def test_a_colour_not_written_rrggbb_is_refused_naming_brand_color(value: object) -> None:
    with pytest.raises(BrandingInvalidError) as refused:
        check_brand_color(value)
    assert refused.value.field == "brand_color"
    assert refused.value.kind == "format"
    assert refused.value.message == "brand_color: must be a colour written #RRGGBB"


def test_a_light_colour_is_refused_with_its_ratio_and_the_minimum() -> None:
    with pytest.raises(BrandingInvalidError) as refused:
        check_brand_color("#FFCC00")
    error = refused.value
    assert error.field == "brand_color"
    assert error.type == "branding-invalid"
    assert error.message == (
        "brand_color: white text on #ffcc00 has a contrast of 1.51:1; the minimum is 4.5:1"
        " (choose a darker colour)"
    )
    assert error.kind == "contrast"
    assert error.params == {"color": "#ffcc00", "ratio": "1.51", "minimum": MIN_CONTRAST}


def test_a_ratio_just_under_the_minimum_never_reads_as_reaching_it() -> None:
    assert shown_ratio(4.4999) == "4.49"
    assert shown_ratio(4.5) == "4.50"
    assert shown_ratio(4.35) == "4.35"  # 434.999… in binary: not cut to 4.34
    with pytest.raises(BrandingInvalidError, match=r"4\.47:1"):  # 4.478, cut
        check_brand_color("#777777")


# -- display names -------------------------------------------------------------------


def test_a_display_name_is_trimmed_and_kept_as_written() -> None:
    assert check_display_name("  Kopi <Senja> & Co  ") == "Kopi <Senja> & Co"
    assert check_display_name("x" * 60) == "x" * 60
    assert check_display_name(None) is None


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("x" * 61, "too_long"),
        ("   ", "empty"),
        ("", "empty"),
        ("Toko\nBudi", "control"),
        ("Toko\u0007Budi", "control"),
        ("Toko\u202eBudi", "control"),  # right-to-left override
    ],
)
def test_a_bad_display_name_is_refused_naming_the_field(value: str, kind: str) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        check_display_name(value)
    assert refused.value.field == "display_name"
    assert refused.value.kind == kind
    assert refused.value.message.startswith("display_name: ")


# -- logos ---------------------------------------------------------------------------


def refused(data: bytes) -> BrandingInvalidError:
    with pytest.raises(BrandingInvalidError) as caught:
        prepare_logo(data)
    assert caught.value.field == "logo"
    assert caught.value.type == "branding-invalid"
    return caught.value


def opened(logo: Logo) -> Image.Image:
    assert logo.png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(logo.png), formats=["PNG"])
    image.load()
    assert image.size == (logo.width, logo.height)
    return image


def with_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size (its CRC made right again)."""
    start = len(PNG_MAGIC) + 8  # the IHDR chunk's data, after its length and type
    header = struct.pack(">II", width, height) + png[start + 8 : start + 13]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return png[: start - 4] + b"IHDR" + header + crc + png[start + 17 :]


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    rng = random.Random(7)
    return Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))


def test_a_png_bomb_is_refused_by_its_declared_size_before_any_pixel_is_decoded() -> None:
    bomb = encoded(Image.new("1", (4096, 4096)))  # 16 million pixels in a few KiB
    assert len(bomb) < 10_000
    error = refused(bomb)
    assert error.message == "logo: 4096x4096 px is larger than 2048x2048"
    assert error.kind == "too_large"
    assert error.params == {"width": 4096, "height": 4096, "limit": 2048}


def test_a_header_claiming_20000x20000_is_refused_with_its_size() -> None:
    small = encoded(Image.new("RGB", (64, 64), "navy"))
    lying = with_size(small, 20000, 20000)
    assert refused(lying).message == "logo: 20000x20000 px is larger than 2048x2048"


def test_a_truncated_png_is_refused_as_damaged() -> None:
    whole = encoded(noise((200, 200)))
    error = refused(whole[: len(whole) // 2])
    assert error.message == "logo: the image is damaged or incomplete"
    assert error.kind == "damaged"


def test_bytes_after_a_png_signature_that_are_no_png_are_damaged() -> None:
    assert refused(PNG_MAGIC + b"\x00" * 100).kind == "damaged"


def test_an_svg_renamed_png_is_refused_by_its_content() -> None:
    error = refused(SVG_LOGO)
    assert error.message == "logo: must be PNG or JPEG"
    assert error.kind == "format"


@pytest.mark.parametrize("frames", [1, 3])
def test_a_gif_still_or_animated_is_refused(frames: int) -> None:
    images = [Image.new("P", (64, 64), color) for color in range(frames)]
    gif = encoded(images[0], "GIF", save_all=True, append_images=images[1:])
    assert gif.startswith(b"GIF8")
    assert refused(gif).message == "logo: must be PNG or JPEG"


@pytest.mark.parametrize("kind", ["WEBP", "BMP", "TIFF"])
def test_other_formats_pillow_could_read_are_refused(kind: str) -> None:
    assert refused(encoded(Image.new("RGB", (64, 64), "red"), kind)).kind == "format"


def test_an_animated_png_is_refused() -> None:
    frames = [Image.new("RGB", (64, 64), color) for color in ("red", "blue")]
    animated = encoded(frames[0], save_all=True, append_images=frames[1:])
    error = refused(animated)
    assert error.message == "logo: must be a still image, not an animation"
    assert error.kind == "animated"


def test_a_jpeg_heavier_than_the_limit_is_refused_before_it_is_read() -> None:
    heavy = encoded(noise((1400, 1400)), "JPEG", quality=95)
    assert len(heavy) > LOGO_MAX_BYTES
    error = refused(heavy)
    assert error.message == f"logo: {len(heavy):,} bytes is larger than 1,024 KiB"
    assert error.kind == "too_heavy"


def test_a_jpeg_larger_than_2048_px_is_refused_with_its_size() -> None:
    large = encoded(Image.new("RGB", (3000, 1200), "teal"), "JPEG")
    assert len(large) < LOGO_MAX_BYTES
    assert refused(large).message == "logo: 3000x1200 px is larger than 2048x2048"


def test_an_image_smaller_than_32_px_is_refused() -> None:
    error = refused(encoded(Image.new("RGB", (100, 16), "teal")))
    assert error.message == "logo: 100x16 px is smaller than 32x32"
    assert error.kind == "too_small"


def test_nothing_sent_is_refused() -> None:
    assert refused(b"").message == "logo: no image was sent"


def test_a_cmyk_jpeg_becomes_an_rgb_png_of_the_same_colour() -> None:
    cmyk = encoded(Image.new("CMYK", (120, 80), (0, 255, 255, 0)), "JPEG", quality=95)
    image = opened(prepare_logo(cmyk))
    assert image.mode == "RGB"
    red, green, blue = image.getpixel((60, 40))  # type: ignore[misc]
    assert red > 240
    assert green < 15
    assert blue < 15


def test_a_png_with_transparency_keeps_it() -> None:
    source = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    source.paste((200, 30, 30, 255), (25, 25, 75, 75))
    image = opened(prepare_logo(encoded(source)))
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2)) == (0, 0, 0, 0)
    assert image.getpixel((50, 50)) == (200, 30, 30, 255)


def test_a_palette_png_with_a_transparent_colour_keeps_it() -> None:
    source = Image.new("P", (64, 64), 0)
    source.putpalette([255, 255, 255, 10, 120, 200] + [0] * 762)
    source.paste(1, (16, 16, 48, 48))
    image = opened(prepare_logo(encoded(source, transparency=0)))
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2))[3] == 0  # type: ignore[index]
    assert image.getpixel((32, 32)) == (10, 120, 200, 255)


def test_sixteen_bit_grey_is_scaled_to_eight_bits_not_clipped() -> None:
    source = Image.new("I;16", (64, 64), 32896)  # 128 of 255, in 16 bits
    image = opened(prepare_logo(encoded(source)))
    assert image.getpixel((10, 10)) == (128, 128, 128)


def test_a_large_logo_is_scaled_down_to_fit_512_keeping_its_shape() -> None:
    logo = prepare_logo(encoded(Image.new("RGB", (1600, 800), "navy")))
    assert (logo.width, logo.height) == (LOGO_DISPLAY_SIDE, 256)
    opened(logo)


def test_a_small_logo_is_not_enlarged() -> None:
    logo = prepare_logo(encoded(Image.new("RGB", (120, 40), "navy")))
    assert (logo.width, logo.height) == (120, 40)


def test_metadata_is_stripped_and_the_photo_turned_upright() -> None:
    source = Image.new("RGB", (200, 100), "navy")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to show
    exif[0x013B] = "Artist Secret Name"
    exif[0x010E] = "GPS 6.2S 106.8E"
    jpeg = encoded(source, "JPEG", exif=exif.tobytes(), icc_profile=b"\x00" * 128)
    assert b"Artist Secret Name" in jpeg
    logo = prepare_logo(jpeg)
    image = opened(logo)
    assert (logo.width, logo.height) == (100, 200)
    assert b"Artist Secret Name" not in logo.png
    assert b"GPS" not in logo.png
    assert not {"exif", "icc_profile", "dpi"} & set(image.info)
    assert b"eXIf" not in logo.png
    assert b"iCCP" not in logo.png
    assert b"tEXt" not in logo.png


def test_noise_that_does_not_compress_is_made_smaller_until_it_fits() -> None:
    upload = encoded(noise((700, 700)), "JPEG", quality=90)
    assert len(upload) <= LOGO_MAX_BYTES
    logo = prepare_logo(upload)
    assert len(logo.png) <= LOGO_STORED_MAX
    assert logo.width < LOGO_DISPLAY_SIDE
    opened(logo)


def test_the_same_upload_makes_the_same_png_and_hash() -> None:
    upload = encoded(Image.new("RGB", (300, 100), "maroon"), "JPEG")
    first, second = prepare_logo(upload), prepare_logo(upload)
    assert first == second
    assert len(first.sha256) == 64
