"""The dashboard's branding page, on SQLite and PostgreSQL: owners set the name, colour and
logo (each change names them), refusals are said in the page's language and store
nothing, viewers only look, and another merchant's brand is untouched."""

from __future__ import annotations

from typing import Any

from tests.support.desk import OTHER_OWNER, OWNER, VIEWER, Desk, field_errors, post, token
from tests.support.images import SVG_LOGO, logo_upload
from tests.support.shop import MERCHANT_NAME, Http

PAGE = "/dashboard/branding"


def upload(client: Http, data: bytes, name: str = "logo.png", **params: str) -> Any:
    return client.post(
        f"{PAGE}/logo",
        params=params,
        data={"csrf": token(client, PAGE)},
        files={"logo": (name, data, "image/png")},
        follow_redirects=False,
    )


def test_an_owner_sets_the_brand_and_the_customers_page_shows_it(desk: Desk) -> None:
    owner = desk.signed_in(OWNER)
    link = desk.shop.paylink.links.get(desk.link())
    before = owner.get(PAGE)
    assert before.status_code == 200
    assert f'placeholder="{MERCHANT_NAME}"' in before.text
    assert 'data-testid="no-logo"' in before.text

    saved = post(owner, PAGE, {"display_name": " Kopi Senja ", "brand_color": "#7A1F5C"})

    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?notice=branding_saved"
    page = owner.get(saved.headers["location"])
    assert "Merek disimpan." in page.text
    assert 'value="Kopi Senja"' in page.text
    assert 'value="#7a1f5c"' in page.text
    assert upload(owner, logo_upload()).status_code == 303
    page = owner.get(PAGE)
    assert 'data-testid="current-logo"' in page.text
    customer = desk.shop.open(link.code).text
    assert "Kopi Senja" in customer
    assert "--brand:#7a1f5c;" in customer
    assert 'data-testid="merchant-logo"' in customer
    changes = [
        (topic.rsplit(".", 1)[1], OWNER.encode() in state)
        for topic, state in desk.shop.states()
        if topic.endswith(("Merchant.BrandingSet", "Merchant.LogoSet"))
    ]
    assert changes == [("BrandingSet", True), ("LogoSet", True)]  # each names who

    removed = post(owner, f"{PAGE}/logo/delete")
    assert removed.headers["location"] == f"{PAGE}?notice=logo_removed"
    assert 'data-testid="merchant-logo"' not in desk.shop.open(link.code).text

    other = desk.signed_in(OTHER_OWNER).get(PAGE)
    assert 'value="Kopi Senja"' not in other.text
    assert 'data-testid="no-logo"' in other.text
    other_link = desk.shop.paylink.links.get(desk.link(desk.other_merchant))
    assert "Kopi Senja" not in desk.shop.open(other_link.code).text


def test_a_light_colour_is_refused_in_the_pages_language_and_nothing_is_stored(
    desk: Desk,
) -> None:
    owner = desk.signed_in(OWNER)
    head = desk.shop.head()

    refused = post(owner, PAGE, {"display_name": "Kopi Senja", "brand_color": "#ffcc00"})
    english = post(owner, f"{PAGE}?lang=en", {"display_name": "x" * 61, "brand_color": ""})

    assert refused.status_code == 422
    assert field_errors(refused.text) == {
        "brand_color": "Teks putih di atas #ffcc00 hanya berkontras 1.51:1; minimal 4.5:1."
        " Pilih warna yang lebih gelap."
    }
    assert 'value="Kopi Senja"' in refused.text  # what was typed stays in the form
    assert english.status_code == 422
    assert field_errors(english.text) == {
        "display_name": "The display name is 61 characters; the limit is 60."
    }
    assert desk.shop.head() == head


def test_a_logo_that_is_no_png_or_jpeg_is_refused_whatever_its_name(desk: Desk) -> None:
    owner = desk.signed_in(OWNER)
    head = desk.shop.head()

    svg = upload(owner, SVG_LOGO, "logo.png")
    empty = upload(owner, b"", "", lang="en")

    assert svg.status_code == 422
    assert field_errors(svg.text) == {"logo": "Logo harus berupa gambar PNG atau JPEG."}
    assert empty.status_code == 422
    assert field_errors(empty.text) == {"logo": "Choose an image file first."}
    assert desk.shop.head() == head


def test_a_viewer_sees_the_brand_but_cannot_change_it(desk: Desk) -> None:
    viewer = desk.signed_in(VIEWER)
    head = desk.shop.head()

    page = viewer.get(PAGE)
    refused = post(viewer, PAGE, {"display_name": "Kopi Senja", "brand_color": "#7a1f5c"})
    refused_logo = upload(viewer, logo_upload())

    assert page.status_code == 200
    assert 'data-testid="save-branding"' not in page.text
    assert 'data-testid="logo-form"' not in page.text
    assert refused.status_code == 403
    assert refused_logo.status_code == 403
    assert desk.shop.head() == head


def test_a_form_without_its_token_changes_nothing(desk: Desk) -> None:
    owner = desk.signed_in(OWNER)
    head = desk.shop.head()

    forged = owner.post(
        PAGE, data={"csrf": "forged", "display_name": "Kopi"}, follow_redirects=False
    )

    assert forged.status_code == 403
    assert desk.shop.head() == head
