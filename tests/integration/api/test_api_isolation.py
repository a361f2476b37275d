"""Merchant isolation: for every GET route, another merchant (or mode) sees nothing.

The routes come from the app's own OpenAPI document, so a GET route added later is
checked too. Path parameters are filled with the first merchant's real ids; the
answer must then be exactly what an unknown id gets (same status, same problem type).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from uuid import UUID

from paylink_es.domain.money import Money
from tests.integration.api.support import UNKNOWN_ID, HttpResponse, assert_problem
from tests.support.app import Api, Merchant

KNOWN_GET_ROUTES = {
    "/v1/links",
    "/v1/links/{link_id}",
    "/v1/payments",
    "/v1/payments/{payment_id}",
    "/v1/balances",
    "/v1/payouts",
    "/v1/payouts/{payout_id}",
    "/v1/settlements",
    "/v1/settlements/report.csv",
    "/v1/account",
    "/v1/account/redirect-secret",
    "/v1/account/branding",
    "/v1/merchant/alerts",
    "/v1/merchant/reminders",
}
# Settings of the merchant itself, the same whichever mode's key reads them.
MERCHANT_LEVEL = (
    "/v1/account",
    "/v1/account/branding",
    "/v1/merchant/alerts",
    "/v1/merchant/reminders",
)
# Settings of one merchant's mode: an object of the reader's own (its secret), never a list.
MODE_SETTINGS = ("/v1/account/redirect-secret",)
ACCOUNT_NAME = "Rekening Toko Pertama"
BRAND_NAME = "Merek Toko Pertama"
ALERTS_TO = "kasir@toko-pertama.example"
REMINDERS = '"17h"'
# What only the first merchant's settings say: its bank account's name, its brand, where
# its alerts go, when its links remind.
OWN_SETTINGS = (ACCOUNT_NAME, BRAND_NAME, ALERTS_TO, REMINDERS)
# Being built by another engineer right now (event feed, webhooks, deliveries): not
# tested here yet. Any other new route is checked, and must have its path parameters
# known below.
UNDER_CONSTRUCTION = ("/v1/events", "/v1/webhook", "/v1/deliveries")
PARAMETER = re.compile(r"{([^}]+)}")


@dataclass
class Books:
    """What one merchant has in one mode, and the strings that would betray it."""

    merchant: Merchant
    mode: str
    link_id: str = ""
    payment_id: str = ""
    payout_id: str = ""
    reference_id: str = ""
    description: str = ""
    secrets: set[str] = field(default_factory=set)
    amounts: set[int] = field(default_factory=set)

    def headers(self) -> dict[str, str]:
        return self.merchant.headers(self.mode)

    def path_value(self, name: str) -> str:
        values = {
            "link_id": self.link_id,
            "payment_id": self.payment_id,
            "payout_id": self.payout_id,
        }
        assert name in values, (
            f"a GET route has the path parameter {{{name}}}: teach test_api_isolation "
            "which of the first merchant's ids belongs there"
        )
        return values[name]

    def query_values(self, names: list[str]) -> dict[str, str]:
        known = {
            "link_id": self.link_id,
            "payment_id": self.payment_id,
            "reference_id": self.reference_id,
            "q": self.description,
        }
        return {name: known[name] for name in names if name in known}


def _fill(
    api: Api, merchant: Merchant, mode: str, tag: str, amount: int, payout_amount: int
) -> Books:
    """A link, a cancelled link, a settled, partly refunded payment and a payout in ``mode``.

    ``amount`` should be unusual: the balances it leads to betray the books too.
    """
    books = Books(merchant, mode, reference_id=f"REF-{tag}", description=f"Barang {tag}")
    response = api.client.post(
        "/v1/links",
        json={
            "amount": amount,
            "description": books.description,
            "reference_id": books.reference_id,
            "usage_limit": None,
            "metadata": {"secret": f"meta-{tag}"},
        },
        headers=books.headers(),
    )
    assert response.status_code == 201, response.text
    link = response.json()
    other = api.create_link(merchant, mode, description=f"Dibatalkan {tag}")
    cancel = api.client.post(f"/v1/links/{other['id']}/cancel", headers=books.headers())
    assert cancel.status_code == 200
    payment = api.paylink.payments.start(UUID(link["id"]), "qris")
    api.paylink.payments.record(payment, f"QR-{tag}", Money(amount, "IDR"), api.clock())
    api.paylink.payments.verify(payment, fee=Money(1750, "IDR"))
    assert api.paylink.money.settle(date(2026, 1, 9), [payment]).settled == 1
    api.paylink.money.refund(payment, Money(50000, "IDR"), "returned")
    payout = api.paylink.money.request_payout(merchant.id, mode, Money(payout_amount, "IDR"), tag)
    redirects = api.client.get("/v1/account/redirect-secret", headers=books.headers())
    assert redirects.status_code == 200, redirects.text
    books.link_id = link["id"]
    books.payment_id = str(payment)
    books.payout_id = str(payout.id)
    books.secrets = {
        link["id"],
        link["code"],
        other["id"],
        other["code"],
        str(payment),
        books.reference_id,
        books.description,
        f"QR-{tag}",
        f"meta-{tag}",
        str(merchant.id),
        str(payout.id),
        redirects.json()["secret"],
    }
    books.amounts = {amount, amount - 1750, amount - 1750 - 50000, payout_amount}
    return books


def _get_routes(api: Api) -> dict[str, list[str]]:
    """Every GET path under /v1 of the OpenAPI document and its query parameters."""
    routes = {}
    for path, operations in api.app.openapi()["paths"].items():
        if "get" not in operations or not path.startswith("/v1/"):
            continue
        if path.startswith(UNDER_CONSTRUCTION):
            continue
        parameters = operations["get"].get("parameters", [])
        routes[path] = [p["name"] for p in parameters if p["in"] == "query"]
    return routes


def _leaks(response: HttpResponse, books: Books) -> set[str]:
    text = response.text
    found = {secret for secret in books.secrets if secret in text}
    numbers = {str(n) for n in books.amounts if re.search(rf"[:\[,]\s*{n}\s*[,}}\]]", text)}
    return found | numbers


def _assert_sees_nothing(
    api: Api, owner: Books, viewer: Books, *, viewer_has_books: bool = False
) -> list[str]:
    """Every GET route, read with ``viewer``'s key, shows nothing of ``owner``'s books.

    A viewer without books of its own must get empty lists; one with books (the same
    merchant's other mode) must get only rows of its own mode.
    """
    checked = []
    for path, query in _get_routes(api).items():
        if viewer_has_books and path in MERCHANT_LEVEL:
            continue  # the merchant's own settings: the same in both modes
        names = PARAMETER.findall(path)
        url = path
        for name in names:
            url = url.replace(f"{{{name}}}", owner.path_value(name))
        variants = [{}, owner.query_values(query)] if not names else [{}]
        for params in variants:
            mine = api.client.get(url, params=params, headers=owner.headers())
            assert mine.status_code == 200, f"{url} {params}: {mine.text}"
            csv_report = mine.headers["content-type"].startswith("text/csv")
            settings = path in MERCHANT_LEVEL
            shown = _leaks(mine, owner) or (not csv_report and mine.json().get("data"))
            if settings:  # the account name is the merchant's, not one mode's
                shown = any(said in mine.text for said in OWN_SETTINGS)
            assert shown, f"{url} {params} shows nothing of its owner either: {mine.text}"

            theirs = api.client.get(url, params=params, headers=viewer.headers())
            label = f"{url} {params} read by {viewer.mode} key of another"
            assert not _leaks(theirs, owner), f"{label}: leaks {_leaks(theirs, owner)}"
            if names:
                unknown_url = PARAMETER.sub(UNKNOWN_ID, path)
                unknown = api.client.get(unknown_url, headers=viewer.headers())
                expected = assert_problem(unknown, 404)
                seen = assert_problem(theirs, 404)
                same = ("type", "title", "status", "detail", "field")
                assert {k: seen.get(k) for k in same} == {k: expected.get(k) for k in same}, label
            elif csv_report:
                assert theirs.status_code == 200, f"{label}: {theirs.text}"
                rows = theirs.text.strip().splitlines()[1:]
                if not viewer_has_books:
                    assert rows == [], f"{label}: {theirs.text}"
            elif settings:
                assert theirs.status_code == 200, f"{label}: {theirs.text}"
                assert not [said for said in OWN_SETTINGS if said in theirs.text], label
            elif path in MODE_SETTINGS:  # their own, which leaks nothing (checked above)
                assert theirs.status_code == 200, f"{label}: {theirs.text}"
                assert theirs.json()["mode"] == viewer.mode, label
            else:
                assert theirs.status_code == 200, f"{label}: {theirs.text}"
                body = theirs.json()
                assert isinstance(body.get("data"), list), f"{label}: {body}"
                if not viewer_has_books:
                    assert body["data"] == [], f"{label}: {body}"
                modes = {row.get("mode", body.get("mode")) for row in body["data"]}
                assert modes <= {viewer.mode}, f"{label}: {body}"
            checked.append(path)
    return checked


def _world(api: Api) -> tuple[Books, Books, Merchant]:
    first = api.merchant("Toko Pertama")
    second = api.merchant("Toko Kedua")
    api.paylink.merchants.set_bank_account(first.id, "BCA", "8000123456", ACCOUNT_NAME)
    api.paylink.merchants.set_branding(first.id, BRAND_NAME, "#0B6BCB", by="owner")
    api.paylink.messages.set_alerts(first.id, {"email": ALERTS_TO})
    api.paylink.messages.set_reminders(first.id, ["17h"])
    test_books = _fill(api, first, "test", "test-1", 250017, 100_013)
    api.clock.advance(timedelta(minutes=1))
    live_books = _fill(api, first, "live", "live-1", 370023, 200_029)
    api.catch_up()
    return test_books, live_books, second


def test_another_merchant_sees_nothing_of_the_first_on_any_get_route(api: Api) -> None:
    test_books, live_books, second = _world(api)

    checked = set(_assert_sees_nothing(api, test_books, Books(second, "test")))
    checked |= set(_assert_sees_nothing(api, live_books, Books(second, "live")))

    assert checked >= KNOWN_GET_ROUTES


def test_test_mode_keys_never_see_live_data_and_live_keys_never_see_test_data(api: Api) -> None:
    test_books, live_books, _ = _world(api)
    first = test_books.merchant

    checked = set(
        _assert_sees_nothing(api, test_books, Books(first, "live"), viewer_has_books=True)
    )
    checked |= set(
        _assert_sees_nothing(api, live_books, Books(first, "test"), viewer_has_books=True)
    )

    assert checked >= KNOWN_GET_ROUTES - set(MERCHANT_LEVEL)


def test_another_merchants_link_cannot_be_cancelled_and_answers_like_an_unknown_one(
    api: Api,
) -> None:
    test_books, live_books, second = _world(api)
    events = api.head()

    for books, viewer in (
        (test_books, second.headers("test")),
        (live_books, second.headers("live")),
        (test_books, test_books.merchant.headers("live")),
        (live_books, live_books.merchant.headers("test")),
    ):
        response = api.client.post(f"/v1/links/{books.link_id}/cancel", headers=viewer)
        unknown = api.client.post(f"/v1/links/{UNKNOWN_ID}/cancel", headers=viewer)
        seen = assert_problem(response, 404)
        expected = assert_problem(unknown, 404)
        assert {k: v for k, v in seen.items() if k != "request_id"} == {
            k: v for k, v in expected.items() if k != "request_id"
        }

    assert api.head() == events
    still = api.client.get(f"/v1/links/{test_books.link_id}", headers=test_books.headers())
    assert still.json()["status"] == "active"


def test_another_merchants_balances_are_zero(api: Api) -> None:
    test_books, _, second = _world(api)

    mine = api.client.get("/v1/balances", headers=test_books.headers()).json()
    theirs = api.client.get("/v1/balances", headers=second.headers()).json()
    theirs_then = api.client.get(
        "/v1/balances",
        params={"as_of": api.clock().isoformat()},
        headers=second.headers(),
    ).json()

    assert mine["data"][0]["available"] == 250017 - 1750 - 50000 - 100_013
    assert mine["data"][0]["paid_out"] == 100_013
    assert theirs["data"] == []
    assert theirs_then["data"] == []


def test_readiness_shows_counts_but_nothing_of_any_merchant(api: Api) -> None:
    test_books, live_books, _ = _world(api)

    response = api.client.get("/readyz")

    assert response.status_code == 200
    assert not _leaks(response, test_books)
    assert not _leaks(response, live_books)
    assert json.loads(response.text)["events"] == api.head()
