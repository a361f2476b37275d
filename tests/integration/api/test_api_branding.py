"""A merchant's brand over the API, on SQLite and PostgreSQL: set and read, refusals that
store nothing, logo uploads served as the server's own PNG, and a store opened again
(another machine, a replay) that still serves the logo."""

from __future__ import annotations

import hashlib
from typing import Any

from PIL import Image

from paylink_es.domain.logo import LOGO_MAX_BYTES
from tests.integration.api.support import assert_problem
from tests.support.app import Api, MakeApi, Merchant
from tests.support.images import SVG_LOGO, decoded, encoded, logo_upload

BRANDING = "/v1/account/branding"
LOGO = "/v1/account/branding/logo"


def put_logo(api: Api, merchant: Merchant, data: bytes, **headers: str) -> Any:
    return api.client.put(LOGO, content=data, headers=merchant.headers(**headers))


def test_the_display_name_and_colour_are_set_read_and_recorded_with_who(api: Api) -> None:
    merchant = api.merchant("PT Senja Kopi Nusantara")
    before = api.client.get(BRANDING, headers=merchant.headers())
    assert before.status_code == 200, before.text
    assert before.json() == {
        "object": "branding",
        "display_name": None,
        "brand_color": None,
        "logo": None,
        "shown_name": "PT Senja Kopi Nusantara",
    }

    body = {"display_name": "  Kopi Senja  ", "brand_color": "#7A1F5C"}
    answer = api.client.put(BRANDING, json=body, headers=merchant.headers())

    assert answer.status_code == 200, answer.text
    expected = {
        "object": "branding",
        "display_name": "Kopi Senja",
        "brand_color": "#7a1f5c",
        "logo": None,
        "shown_name": "Kopi Senja",
    }
    assert answer.json() == expected
    assert api.client.get(BRANDING, headers=merchant.headers("live")).json() == expected
    (event,) = [
        n
        for n in api.paylink.app.recorder.select_notifications(0, 1_000_000)
        if n.topic.endswith("Merchant.BrandingSet")
    ]
    assert str(merchant.test_key.key_id).encode() in bytes(event.state)

    again = api.client.put(BRANDING, json=body, headers=merchant.headers())
    assert again.json() == expected
    assert api.count("Merchant.BrandingSet") == 1  # the same values record nothing

    cleared = api.client.put(BRANDING, json={}, headers=merchant.headers())
    assert cleared.json()["shown_name"] == "PT Senja Kopi Nusantara"
    assert cleared.json()["brand_color"] is None
    assert api.count("Merchant.BrandingSet") == 2


def test_a_light_colour_is_refused_with_its_ratio_and_nothing_is_stored(api: Api) -> None:
    merchant = api.merchant()
    head = api.head()

    answer = api.client.put(
        BRANDING,
        json={"display_name": "Kopi Senja", "brand_color": "#ffcc00"},
        headers=merchant.headers(),
    )

    problem = assert_problem(answer, 422, "branding-invalid", field="brand_color")
    assert problem["detail"] == (
        "brand_color: white text on #ffcc00 has a contrast of 1.51:1; the minimum is 4.5:1"
        " (choose a darker colour)"
    )
    assert api.head() == head


def test_bad_names_and_colours_are_refused_naming_the_field(api: Api) -> None:
    merchant = api.merchant()
    head = api.head()
    cases: list[tuple[dict[str, Any], str, str, str]] = [
        ({"display_name": "x" * 61}, "text-invalid", "display_name", "61 characters"),
        ({"display_name": "   "}, "text-invalid", "display_name", "must not be empty"),
        ({"display_name": "Toko\u0000Budi"}, "text-invalid", "display_name", "U+0000"),
        ({"brand_color": "blue"}, "branding-invalid", "brand_color", "#RRGGBB"),
        ({"brand_color": "#0b6bcb", "logo": "x"}, "validation-error", "logo", "Extra inputs"),
        ({"display_name": 42}, "validation-error", "display_name", "string"),
    ]
    for body, slug, field, words in cases:
        answer = api.client.put(BRANDING, json=body, headers=merchant.headers())
        problem = assert_problem(answer, 422, slug, field=field)
        assert words in problem["detail"], problem
    assert api.head() == head


def test_a_logo_is_served_as_the_servers_own_png_at_a_url_of_its_hash(api: Api) -> None:
    merchant = api.merchant()
    upload = logo_upload((800, 400))

    answer = put_logo(api, merchant, upload, **{"Content-Type": "image/jpeg"})

    assert answer.status_code == 200, answer.text
    logo = answer.json()["logo"]
    assert (logo["width"], logo["height"], logo["content_type"]) == (512, 256, "image/png")
    assert logo["url"] == f"http://127.0.0.1:8000/brand/logos/{logo['sha256']}.png"
    served = api.client.get(logo["url"].removeprefix("http://127.0.0.1:8000"))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    assert hashlib.sha256(served.content).hexdigest() == logo["sha256"]
    assert served.content != upload
    assert b"Artist Secret Name" not in served.content
    image = decoded(served.content)
    assert image.size == (512, 256)
    assert image.getpixel((256, 128)) == (122, 31, 92)  # #7a1f5c, as uploaded
    again = api.client.get(served.url.path, headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304
    assert api.client.get(BRANDING, headers=merchant.headers()).json()["logo"] == logo
    assert api.count("Merchant.LogoSet") == 1
    assert api.count("LogoImage.Stored") == 1


def test_a_form_upload_works_and_the_same_image_twice_is_kept_once(api: Api) -> None:
    first, second = api.merchant("Toko Satu"), api.merchant("Toko Dua")
    upload = encoded(Image.new("RGBA", (300, 300), (10, 120, 200, 128)))

    by_form = api.client.put(
        LOGO,
        files={"logo": ("logo.bin", upload, "application/octet-stream")},
        headers=first.headers(),
    )
    raw = put_logo(api, second, upload)

    assert by_form.status_code == 200, by_form.text
    assert raw.status_code == 200, raw.text
    assert by_form.json()["logo"] == raw.json()["logo"]
    assert put_logo(api, second, upload).status_code == 200
    assert api.count("Merchant.LogoSet") == 2
    assert api.count("LogoImage.Stored") == 1


def test_what_is_not_a_png_or_jpeg_is_refused_whatever_it_is_called(api: Api) -> None:
    merchant = api.merchant()
    head = api.head()
    gif = encoded(Image.new("P", (64, 64)), "GIF")
    cases: list[tuple[Any, str]] = [
        ({"files": {"logo": ("logo.png", SVG_LOGO, "image/png")}}, "logo: must be PNG or JPEG"),
        ({"content": SVG_LOGO, "headers": {"Content-Type": "image/png"}}, "must be PNG or JPEG"),
        ({"content": gif, "headers": {"Content-Type": "image/png"}}, "must be PNG or JPEG"),
        ({"content": b""}, "logo: no image was sent"),
        ({"files": {"other": ("logo.png", gif, "image/png")}}, "logo: no image was sent"),
        (
            {"content": encoded(Image.new("RGB", (2100, 300), "navy"), "JPEG")},
            "logo: 2100x300 px is larger than 2048x2048",
        ),
        (
            {"content": b"\xff\xd8\xff" + b"\x00" * (LOGO_MAX_BYTES + 10)},
            f"logo: {LOGO_MAX_BYTES + 13:,} bytes is larger than 1,024 KiB",
        ),
    ]
    for request, detail in cases:
        headers = {**merchant.headers(), **request.pop("headers", {})}
        answer = api.client.put(LOGO, headers=headers, **request)
        problem = assert_problem(answer, 422, "branding-invalid", field="logo")
        assert detail in problem["detail"], problem
    assert api.head() == head


def test_a_body_far_over_the_limit_is_cut_off_with_413(api: Api) -> None:
    merchant = api.merchant()
    answer = put_logo(api, merchant, b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * LOGO_MAX_BYTES))
    assert_problem(answer, 413, "payload-too-large")


def test_removing_the_logo_records_who_and_the_name_alone_is_shown(api: Api) -> None:
    merchant = api.merchant()
    assert put_logo(api, merchant, logo_upload()).status_code == 200

    removed = api.client.delete(LOGO, headers=merchant.headers())

    assert removed.status_code == 200, removed.text
    assert removed.json()["logo"] is None
    assert api.client.delete(LOGO, headers=merchant.headers()).status_code == 200
    assert api.count("Merchant.LogoRemoved") == 1


def test_a_logo_unknown_or_not_a_hash_is_not_found(api: Api) -> None:
    assert api.client.get(f"/brand/logos/{'0' * 64}.png").status_code == 404
    assert api.client.get("/brand/logos/../../etc.png").status_code == 404
    assert api.client.get("/brand/logos/ABC.png").status_code == 404


def test_branding_needs_a_key(api: Api) -> None:
    assert_problem(api.client.get(BRANDING), 401, "authentication-required")
    assert_problem(api.client.put(LOGO, content=logo_upload()), 401, "authentication-required")


def test_another_app_on_the_same_store_serves_the_logo_from_the_events(
    make_api: MakeApi,
) -> None:
    first = make_api()
    merchant = first.merchant()
    logo = put_logo(first, merchant, logo_upload()).json()["logo"]
    path = logo["url"].removeprefix("http://127.0.0.1:8000")
    served = first.client.get(path).content

    other = make_api()  # another machine on the same store: nothing of the first in memory

    again = other.client.get(path)
    assert again.status_code == 200
    assert again.content == served
    assert other.client.get(BRANDING, headers=merchant.headers()).json()["logo"] == logo
